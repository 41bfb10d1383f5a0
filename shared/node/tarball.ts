/**
 * Plugin packages as gzip tarballs (what `npm pack` writes: every entry under one top directory, `package/`),
 * handled with the host's GNU tar (no shell, arguments as an array). The master reads them at install and
 * packs nothing; the agent unpacks the exact bytes it verified. Before anything is extracted the listing
 * is checked: regular files and directories only (no links, devices or fifos), relative names inside one
 * top directory, no `..`, and a bounded unpacked size, so a package can neither write outside its
 * directory nor fill the disk.
 */
import { spawn } from 'node:child_process';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Unpacked size limit of one plugin package. */
export const MAX_UNPACKED_BYTES = 200 * 1024 * 1024;
/** Entry count limit of one plugin package. */
export const MAX_ENTRIES = 20_000;

export class TarballError extends Error {
  override readonly name = 'TarballError';
}

function tar(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    child.once('error', (e) => reject(new TarballError(`could not run tar: ${e.message}`)));
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new TarballError(`not a readable .tgz (tar: ${err.trim().split('\n')[0] || `exit ${code}`})`))));
  });
}

/**
 * Checks the tarball's listing (see the header) and returns its top directory name. Throws TarballError
 * naming the first offending entry.
 */
export async function checkTarball(file: string): Promise<string> {
  const names = (await tar(['-tzf', file])).split('\n').filter(Boolean);
  const long = (await tar(['-tvzf', file])).split('\n').filter(Boolean);
  if (!names.length) throw new TarballError('the package is empty');
  if (names.length > MAX_ENTRIES) throw new TarballError(`the package has ${names.length} entries, over the limit of ${MAX_ENTRIES}`);
  if (names.length !== long.length) throw new TarballError('the package listing is inconsistent (file names with line breaks?)');
  let top: string | undefined;
  let total = 0;
  names.forEach((name, i) => {
    const type = long[i][0];
    if (type !== '-' && type !== 'd') throw new TarballError(`entry '${name}' is a ${type === 'l' ? 'symbolic link' : type === 'h' ? 'hard link' : 'special file'}: a package holds regular files and directories only`);
    if (name.startsWith('/') || name.split('/').includes('..')) throw new TarballError(`entry '${name}' points outside the package`);
    const first = name.split('/')[0];
    top ??= first;
    if (first !== top || (!name.includes('/') && type === '-')) throw new TarballError(`entry '${name}' is outside the package's top directory '${top}/' (pack it with npm pack)`);
    const size = Number(long[i].trim().split(/\s+/)[2]);
    if (Number.isFinite(size)) total += size;
  });
  if (total > MAX_UNPACKED_BYTES) throw new TarballError(`the package unpacks to ${total} bytes, over the limit of ${MAX_UNPACKED_BYTES}`);
  return top!;
}

/**
 * Checks `file` (checkTarball) and unpacks its top directory's content into `dir` (which must exist and be
 * empty), owned by the caller, readable by everyone (directories 0755, files 0644): plugins run as the
 * job's build user.
 */
export async function unpackTarball(file: string, dir: string): Promise<void> {
  await checkTarball(file);
  await tar(['-xzf', file, '-C', dir, '--strip-components=1', '--no-same-owner', '--no-same-permissions', '--no-overwrite-dir']);
  await openUp(dir);
}

async function openUp(path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) throw new TarballError(`unexpected link ${path} after unpacking`);
  if (st.isDirectory()) {
    await chmod(path, 0o755);
    for (const e of await readdir(path)) await openUp(join(path, e));
  } else await chmod(path, 0o644);
}
