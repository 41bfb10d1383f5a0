import { describe, expect, it } from 'vitest';
import { hasSkipMarker, normalizeRepoUrl, parseRef, unsafeRef, unsafeRepoUrl } from '../../shared/git';
import { globToRegExp } from '../../shared/node/glob';

describe('normalizeRepoUrl', () => {
  it('gives https, ssh and scp-like forms of one repository the same key', () => {
    const forms = [
      'https://user:tok@Git.Example:8443/shop/web.git',
      'git@git.example:shop/web.git',
      'ssh://git@git.example:22/shop/web',
      'http://git.example/shop/web/',
    ];
    expect(new Set(forms.map(normalizeRepoUrl))).toEqual(new Set(['git.example/shop/web']));
  });
  it('keeps file URLs and paths apart from hosts', () => {
    expect(normalizeRepoUrl('file:///srv/git/web.git')).toBe('file/srv/git/web');
    expect(normalizeRepoUrl('/srv/git/web.git/')).toBe('file/srv/git/web');
    expect(normalizeRepoUrl('https://other.example/shop/web')).not.toBe(normalizeRepoUrl('https://git.example/shop/web'));
  });
});

describe('unsafe URLs and refs', () => {
  it.each(['ext::sh -c touch% /tmp/pwned', 'fd::17', '-uhttps://x', 'ftp://x/y', 'rel/path', 'https://x/\ny', 'a@b@-o:x'])('refuses %j', (u) =>
    expect(unsafeRepoUrl(u)).toBeTruthy(),
  );
  // Option injection through the host: refused in the scp-like form exactly as in ssh:// URLs (issue 6).
  it.each(['git@-oProxyCommand=x:repo', '-oProxyCommand=x:repo', 'ssh://-oProxyCommand=x/repo', 'ssh://git@-oProxyCommand=x/repo'])(
    'refuses option injection %j',
    (u) => expect(unsafeRepoUrl(u)).toMatch(/'-'/),
  );
  it.each(['https://x/y.git', 'git@h:p.git', 'h:p.git', 'git@git.example:shop/web-1.git', '/abs/p', 'file:///abs/p', 'ssh://git@h/p'])('accepts %s', (u) => expect(unsafeRepoUrl(u)).toBeNull());
  it.each(['-x', '--upload-pack=evil', 'a..b', 'x.lock', 'a b', 'a:b', '.hidden', ''])('refuses ref %j', (r) => expect(unsafeRef(r)).toBeTruthy());
  it.each(['main', 'refs/heads/feature/x', 'v1.2.3'])('accepts ref %s', (r) => expect(unsafeRef(r)).toBeNull());
});

describe('refs, globs and skip markers', () => {
  it('splits refs', () => {
    expect(parseRef('refs/heads/feat/x')).toEqual({ branch: 'feat/x' });
    expect(parseRef('refs/tags/v1')).toEqual({ tag: 'v1' });
    expect(parseRef('refs/pull/1/head')).toEqual({});
  });
  it('matches globs by path segment', () => {
    expect(globToRegExp('release/*').test('release/1.2')).toBe(true);
    expect(globToRegExp('release/*').test('release/1/2')).toBe(false);
    expect(globToRegExp('src/**').test('src/a/b.ts')).toBe(true);
    expect(globToRegExp('**/*.md').test('README.md')).toBe(true);
    expect(globToRegExp('docs/*.md').test('docs/a.mdx')).toBe(false);
  });
  it('finds skip markers in any case', () => {
    expect(hasSkipMarker('fix typo [CI SKIP]')).toBe(true);
    expect(hasSkipMarker('x [skip ci]')).toBe(true);
    expect(hasSkipMarker('skip ci please')).toBe(false);
  });
});
