/**
 * `git ls-remote` of a repository: the heads and tags a remote advertises, as full ref -> commit sha.
 * Annotated tags are reported with the commit they point to (the peeled `^{}` line), since a build checks
 * out commits. The URL is refused first when it could inject options or transports (shared/git).
 */
import { assertSafeRepoUrl } from '../../shared/git';
import { gitEnv } from '../../shared/node/git/env';
import { runGit } from './repo-cache';

export interface LsRemoteOptions {
  /** Team secret value: HTTP token or SSH private key. */
  credential?: string;
  /** known_hosts lines trusted for SSH URLs (the job's repo.knownHosts); host keys are always verified. */
  knownHosts?: string;
  timeoutMs?: number;
}

export async function lsRemote(url: string, opts: LsRemoteOptions = {}): Promise<Map<string, string>> {
  assertSafeRepoUrl(url);
  const g = await gitEnv({ url, credential: opts.credential, knownHosts: opts.knownHosts });
  try {
    // `--` ends the options: the URL is never read as one even if the check above were bypassed.
    const out = await runGit(['ls-remote', '--heads', '--tags', '--', url], g, { timeoutMs: opts.timeoutMs ?? 60_000 });
    return parseLsRemote(out);
  } finally {
    await g.cleanup();
  }
}

/** Parses `<sha>\t<ref>` lines; a peeled `<ref>^{}` line overrides the tag object's sha with the commit's. */
export function parseLsRemote(out: string): Map<string, string> {
  const heads = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\t(\S+)$/.exec(line.trim());
    if (!m) continue;
    const [, sha, ref] = m;
    if (ref.endsWith('^{}')) heads.set(ref.slice(0, -3), sha);
    else if (!heads.has(ref)) heads.set(ref, sha);
  }
  return heads;
}
