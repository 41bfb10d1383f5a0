/**
 * The files a built-in scanner reads. The agent may run as root over a workspace the build user owns, so a
 * step must not be able to point it elsewhere: symbolic links are never followed (directories are walked
 * with lstat-typed entries, files opened with O_NOFOLLOW and checked to be regular), .git and the scan's
 * own output are skipped, and files over a size limit are counted, not read.
 */
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import picomatch from 'picomatch';

/** Directories never walked, wherever they are (dependencies are not the project's code). */
const SKIPPED_DIRS = new Set(['.git', '.slipway-scan', 'node_modules']);

export interface WalkedFile {
  /** Absolute path. */
  abs: string;
  /** Workspace-relative path with / separators. */
  path: string;
}

/** Files under `root` (depth first, sorted), minus `exclude` globs (workspace-relative) and `accept` refusals. */
export async function* walkFiles(workspace: string, root: string, exclude: string[], accept: (path: string) => boolean = () => true): AsyncGenerator<WalkedFile> {
  const excluded = exclude.length ? picomatch(exclude, { dot: true }) : () => false;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? 1 : -1));
    for (const e of entries) {
      const abs = join(dir, e.name);
      const path = relative(workspace, abs).split(sep).join('/');
      if (excluded(path)) continue;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) stack.push(abs);
      } else if (e.isFile() && accept(path)) yield { abs, path };
    }
  }
}

/**
 * The file's bytes, or null when it is not a regular file any more (swapped for a link), is larger than
 * `maxBytes`, or cannot be read.
 */
export async function readRegular(abs: string, maxBytes: number): Promise<Buffer | null> {
  let fh;
  try {
    fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > maxBytes) return null;
    return await fh.readFile();
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

/** 1-based line of `index` in `text`, counting from a known (line, offset) to keep repeated calls linear. */
export function lineAt(text: string, index: number, from: { line: number; offset: number } = { line: 1, offset: 0 }): { line: number; offset: number } {
  let line = from.line;
  let i = text.indexOf('\n', from.offset);
  while (i !== -1 && i < index) {
    line++;
    i = text.indexOf('\n', i + 1);
  }
  return { line, offset: index };
}
