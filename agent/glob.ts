/**
 * Files matching artifact declarations (Node 20 has no fs.glob), with the glob of shared/node/glob.ts
 * (picomatch): `*` (within one path segment), `**` (any number of directories), `?` (one character) and
 * plain paths; a plain path naming a directory stands for every file under it. Patterns are relative to the workspace and may not leave it: `..` and absolute
 * paths are refused, symlinks are not followed out of the workspace, and only regular files match.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import { globMatcher, isGlob } from '../shared/node/glob';

export interface MatchedFile {
  /** Workspace-relative POSIX path (the artifact's name). */
  path: string;
  /** Absolute path on disk. */
  abs: string;
  size: number;
}

/** Throws when the pattern is absolute, empty or contains `..`. Returns it without a leading `./`. */
export function checkRelativePattern(pattern: string, what = 'artifact path'): string {
  const p = pattern.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (!p || p.startsWith('/')) throw new Error(`${what} '${pattern}' must be relative to the workspace`);
  if (p.split('/').includes('..')) throw new Error(`${what} '${pattern}' may not contain '..'`);
  return p;
}

export function hasWildcard(pattern: string): boolean {
  return isGlob(pattern);
}

/** Files of root matching one pattern, sorted by path. A pattern that matches nothing returns []. */
export async function globFiles(root: string, pattern: string): Promise<MatchedFile[]> {
  const p = checkRelativePattern(pattern).replace(/\/+$/, '');
  const realRoot = await realpath(root);
  const out: MatchedFile[] = [];
  const inside = async (abs: string): Promise<boolean> => {
    const real = await realpath(abs).catch(() => null);
    return real !== null && (real === realRoot || real.startsWith(realRoot + sep));
  };
  const addFile = async (rel: string): Promise<void> => {
    const abs = join(root, rel);
    if (!(await inside(abs))) return;
    const st = await stat(abs).catch(() => null);
    if (st?.isFile()) out.push({ path: rel, abs, size: st.size });
  };
  // Walk without following symlinked directories: a build must not reach outside through them.
  const walk = async (relDir: string, visit: (rel: string) => Promise<void>): Promise<void> => {
    const entries = await readdir(join(root, relDir), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const rel = relDir ? posix.join(relDir, e.name) : e.name;
      if (e.isDirectory()) await walk(rel, visit);
      else await visit(rel);
    }
  };

  if (!hasWildcard(p)) {
    const st = await lstat(join(root, p)).catch(() => null);
    if (st?.isDirectory()) await walk(p, addFile);
    else if (st) await addFile(p);
  } else {
    const segments = p.split('/');
    const firstWild = segments.findIndex(hasWildcard);
    const base = segments.slice(0, firstWild).join('/');
    const matches = globMatcher(p);
    const baseSt = await lstat(join(root, base || '.')).catch(() => null);
    if (baseSt?.isDirectory()) await walk(base, async (rel) => (matches(rel) ? addFile(rel) : undefined));
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
