import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRelativePattern, globFiles } from '../../agent/glob';
import { globToRegExp } from '../../shared/node/glob';
import { collectArtifacts } from '../../agent/artifacts';

const root = mkdtempSync(join(tmpdir(), 'slipway-glob-'));
const outside = mkdtempSync(join(tmpdir(), 'slipway-outside-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});
for (const f of ['a.txt', 'b.log', 'dist/app.js', 'dist/lib/x.js', 'dist/lib/deep/y.js', 'reports/r1.xml']) {
  mkdirSync(join(root, f, '..'), { recursive: true });
  writeFileSync(join(root, f), f);
}
writeFileSync(join(outside, 'token'), 'secret');
symlinkSync(join(outside, 'token'), join(root, 'leak.txt'));
symlinkSync(outside, join(root, 'dist', 'outside-dir'));

const paths = async (p: string) => (await globFiles(root, p)).map((f) => f.path);

describe('artifact glob', () => {
  it('translates * ** and ? into path regexps', () => {
    expect(globToRegExp('*.txt').test('a.txt')).toBe(true);
    expect(globToRegExp('*.txt').test('d/a.txt')).toBe(false);
    expect(globToRegExp('**/*.js').test('a/b/c.js')).toBe(true);
    expect(globToRegExp('**/*.js').test('c.js')).toBe(true);
    expect(globToRegExp('r?.xml').test('r1.xml')).toBe(true);
    expect(globToRegExp('r?.xml').test('r10.xml')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it('matches files in the workspace', async () => {
    expect(await paths('*.txt')).toEqual(['a.txt']);
    expect(await paths('dist/**/*.js')).toEqual(['dist/app.js', 'dist/lib/deep/y.js', 'dist/lib/x.js']);
    expect(await paths('dist/*.js')).toEqual(['dist/app.js']);
    expect(await paths('reports/r?.xml')).toEqual(['reports/r1.xml']);
    expect(await paths('./b.log')).toEqual(['b.log']);
    expect(await paths('dist/lib')).toEqual(['dist/lib/deep/y.js', 'dist/lib/x.js']);
    expect(await paths('nothing/*.x')).toEqual([]);
  });

  it('never follows symlinks out of the workspace', async () => {
    expect(await paths('leak.txt')).toEqual([]);
    expect(await paths('**/*')).not.toContain('leak.txt');
    expect((await paths('**/*')).some((p) => p.includes('outside-dir'))).toBe(false);
  });

  it('refuses absolute and parent paths, and declarations matching nothing', async () => {
    expect(() => checkRelativePattern('/etc/passwd')).toThrow(/relative/);
    expect(() => checkRelativePattern('dist/../../x')).toThrow(/'\.\.'/);
    await expect(collectArtifacts(root, ['*.txt', 'missing/*.bin'])).rejects.toThrow("artifact 'missing/*.bin' matched no file");
  });
});
