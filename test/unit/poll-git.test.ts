/**
 * The master's git helpers against real repositories in temp dirs: ls-remote heads (annotated tags
 * peeled), changed files from the bare cache (incremental, new branch, force push), credentials through
 * the environment only (a real HTTP server sees the header; errors never show the token), unsafe URLs.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitEnv, lsRemote, maskSecrets, RepoCache } from '../../master/git';
import { git } from '../helpers/git';

const dir = mkdtempSync(join(tmpdir(), 'slipway-poll-git-'));
const bare = join(dir, 'origin.git');
const work = join(dir, 'work');

function commit(files: Record<string, string>, message: string): string {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(work, f)), { recursive: true });
    writeFileSync(join(work, f), text);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', message);
  return git(work, 'rev-parse', 'HEAD');
}

let first: string;
let second: string;

beforeAll(() => {
  git(dir, 'init', '-q', '--bare', bare);
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  first = commit({ 'README.md': 'hi', 'src/a.ts': 'a' }, 'first');
  second = commit({ 'src/b.ts': 'b', 'docs/x.md': 'x' }, 'second');
  git(work, 'tag', '-a', 'v1', '-m', 'release', first);
  git(work, 'push', '-q', bare, 'main', 'v1');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lsRemote', () => {
  it('lists heads and peels annotated tags to their commit', async () => {
    const heads = await lsRemote(bare);
    expect(heads.get('refs/heads/main')).toBe(second);
    expect(heads.get('refs/tags/v1')).toBe(first);
  });

  it('refuses URLs that would inject options or transports before running git', async () => {
    await expect(lsRemote('--upload-pack=touch /tmp/pwned')).rejects.toThrow(/starts with '-'/);
    await expect(lsRemote('ext::sh -c touch% /tmp/pwned')).rejects.toThrow(/remote helper transport/);
  });

  it('names the failure of an unreachable repository', async () => {
    await expect(lsRemote(join(dir, 'missing.git'))).rejects.toThrow(/git ls-remote failed/);
  });

  it('sends an HTTP token as a header through the environment, never in argv, and masks it in errors', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.statusCode = 500;
      res.end('no git here');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/shop/web.git`;
    try {
      const err = await lsRemote(url, { credential: 'tok-s3cret' }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as Error).message)).not.toContain('tok-s3cret');
      const auth = seen.map((h) => h.authorization).find(Boolean);
      // The one rule of shared/node/git/env.ts: the URL's user, else oauth2 for GitLab hosts, else x-access-token.
      expect(auth).toBe(`Basic ${Buffer.from('x-access-token:tok-s3cret').toString('base64')}`);
    } finally {
      server.close();
    }
    const a = await gitEnv({ url, credential: 'tok-s3cret' });
    expect(Object.values(a.env).join('\n')).toContain('Authorization: Basic');
    // Scoped to the repository's origin: another host gets no header.
    const keys = Object.entries(a.env).filter(([k, v]) => k.startsWith('GIT_CONFIG_KEY_') && v.endsWith('.extraHeader')).map(([, v]) => v);
    expect(keys).toEqual([`http.${new URL(url).origin}/.extraHeader`]);
    // Config isolation: no system or user config, nothing of the master's own environment.
    expect(a.env).toMatchObject({ GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' });
    expect(Object.keys(a.env)).not.toContain('SLIPWAY_ADMIN_PASSWORD');
    await a.cleanup();
  });

  it('writes an SSH key only to a private temp file that cleanup removes', async () => {
    const a = await gitEnv({ url: 'git@git.example:shop/web.git', credential: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----' });
    // GIT_SSH_COMMAND runs the strict host key wrapper (shared/ssh-host-keys.ts), which names the key file.
    const wrapper = /^sh '([^']+)'$/.exec(a.env.GIT_SSH_COMMAND ?? '')?.[1];
    const file = /-i '([^']+)'/.exec(wrapper ? readFileSync(wrapper, 'utf8') : '')?.[1];
    expect(file && existsSync(file)).toBe(true);
    await a.cleanup();
    expect(existsSync(file!)).toBe(false);
  });

  it('masks secrets and URL passwords', () => {
    expect(maskSecrets('fatal: https://bob:pw@h/x tok tok', ['tok'])).toBe('fatal: https://***@h/x *** ***');
  });
});

describe('RepoCache.changedFiles', () => {
  const cache = new RepoCache(join(dir, 'cache'));

  it('diffs the pushed commit against before, incrementally', async () => {
    expect(await cache.changedFiles({ url: bare, ref: 'refs/heads/main', sha: second, base: first })).toEqual(['docs/x.md', 'src/b.ts']);
    const third = commit({ 'src/a.ts': 'a2' }, 'third');
    git(work, 'push', '-q', bare, 'main');
    expect(await cache.changedFiles({ url: bare, ref: 'refs/heads/main', sha: third, base: second })).toEqual(['src/a.ts']);
  });

  it('answers null (unknown: every file changed) for a new branch or a missing base', async () => {
    expect(await cache.changedFiles({ url: bare, ref: 'refs/heads/main', sha: second, base: '0'.repeat(40) })).toBeNull();
    expect(await cache.changedFiles({ url: bare, ref: 'refs/heads/main', sha: second })).toBeNull();
  });

  it('answers null when the base is gone from the remote (force push)', async () => {
    const gone = 'f'.repeat(40);
    expect(await cache.changedFiles({ url: bare, ref: 'refs/heads/main', sha: second, base: gone })).toBeNull();
  });

  it('refuses unsafe refs and non-sha commits', () => {
    expect(() => cache.changedFiles({ url: bare, ref: '--upload-pack=x', sha: second, base: first })).toThrow(/starts with '-'/);
    expect(() => cache.changedFiles({ url: bare, ref: 'refs/heads/main', sha: 'HEAD', base: first })).toThrow(/not a full commit id/);
  });
});
