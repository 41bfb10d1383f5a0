/** Artifact path rules (shared by upload and storage): relative, no '..', no NUL, stays under the data dir. */
import { describe, expect, it } from 'vitest';
import { checkArtifactPath, resolveStorage, storagePath } from '../../master/engine/artifacts/paths';

describe('artifact paths', () => {
  it('normalises harmless forms', () => {
    expect(checkArtifactPath('dist/app.tar.gz')).toBe('dist/app.tar.gz');
    expect(checkArtifactPath('./dist//app.js')).toBe('dist/app.js');
    expect(checkArtifactPath('a/./b/')).toBe('a/b');
  });

  it('refuses traversal, absolute paths, NUL and backslashes, naming the path', () => {
    expect(() => checkArtifactPath('../etc/passwd')).toThrow(`path "../etc/passwd": must not contain '..'`);
    expect(() => checkArtifactPath('dist/../../x')).toThrow(/"dist\/..\/..\/x": must not contain '..'/);
    expect(() => checkArtifactPath('/etc/passwd')).toThrow(/"\/etc\/passwd": must be relative/);
    expect(() => checkArtifactPath('C:/x')).toThrow(/must be relative/);
    expect(() => checkArtifactPath('a\0b')).toThrow(/NUL byte/);
    expect(() => checkArtifactPath('a\\..\\b')).toThrow(/use '\/' as separator/);
    expect(() => checkArtifactPath('./.')).toThrow(/names no file/);
    expect(() => checkArtifactPath(undefined)).toThrow(/^path: required/);
    expect(() => checkArtifactPath(['a', 'b'])).toThrow(/^path: required/);
  });

  it('keeps storage under <dataDir>/artifacts', () => {
    expect(storagePath(3, 7, 'dist/app.js')).toBe('artifacts/3/7/dist/app.js');
    expect(resolveStorage('/data', 'artifacts/3/7/dist/app.js')).toBe('/data/artifacts/3/7/dist/app.js');
    expect(() => resolveStorage('/data', 'artifacts/../slipway.db')).toThrow(/outside/);
  });
});
