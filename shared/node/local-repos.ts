/**
 * Local repositories (an absolute path or a file:// URL as repo.url): which directory on this host a URL
 * names, and whether that directory lies inside another, after resolving symlinks and `..`. Git reads a
 * local repository with the privileges of whoever runs it, so both wings check these before git runs:
 *  - the master allows local repositories only under the directories its operator lists
 *    (SLIPWAY_ALLOW_LOCAL_REPOS / --allow-local-repos) and never inside its own data dir;
 *  - the agent never fetches one inside its own work dir (its root-only git cache of other jobs, other
 *    jobs' workspaces), and fetches the others as the job's build user.
 * Node-only (fs): used by master/ and agent/, never by web/.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** The absolute path a local repository URL names, or null for a remote URL (http, ssh, scp-like, git). */
export function localRepoPath(url: string): string | null {
  const u = url.trim();
  if (u.startsWith('/')) return resolve(u);
  if (/^file:/i.test(u)) {
    try {
      const parsed = new URL(u);
      return resolve(decodeURIComponent(parsed.pathname));
    } catch {
      return resolve(u.replace(/^file:(\/\/[^/]*)?/i, '') || '/');
    }
  }
  return null;
}

/**
 * The real path of p: symlinks and `..` resolved. A path that does not exist (yet) resolves through its
 * nearest existing ancestor, so a repository created later under a symlinked directory is judged by where
 * it will really be.
 */
export function realPathOf(p: string): string {
  let probe = resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(probe), ...rest.reverse());
    } catch {
      const parent = dirname(probe);
      if (parent === probe) return resolve(p);
      rest.push(basename(probe));
      probe = parent;
    }
  }
}

/** True when `path` is `dir` or lies under it, both compared by their real paths. */
export function isInsideDir(path: string, dir: string): boolean {
  const rel = relative(realPathOf(dir), realPathOf(path));
  return rel === '' || (!!rel && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
