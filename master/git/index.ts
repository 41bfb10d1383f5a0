/**
 * The master's git at a glance: what the poller, the push pipeline (path filters) and manual/cron
 * triggers need to ask a job's repository, with the job's credentials (the team secret named
 * job.repo.credentials) given to git through the environment only (credentials.ts), and SSH host keys
 * verified strictly against job.repo.knownHosts plus the master host's known_hosts files.
 *
 *   const git = createMasterGit(ctx);
 *   await git.heads(job)                               // ls-remote: Map<full ref, commit sha>
 *   await git.resolveHead(job, 'main')                 // {ref: 'refs/heads/main', sha} of the branch now
 *   await git.changedFiles(job, {ref, sha, before})    // string[], or null = unknown (treat as "all changed")
 *
 * Everything throws SlipwayError invalid_request for a job without a repo, unsafe URLs or refs, a local
 * repository this master does not allow (local-repos.ts: SLIPWAY_ALLOW_LOCAL_REPOS), and
 * GitError (stderr with credentials masked) when git or the remote fails.
 */
import { buildsStore } from '../store/builds';
import { join } from 'node:path';
import { badRequest, notFound } from '../../shared/errors';
import { assertSafeRef, ZERO_SHA_RE } from '../../shared/git';
import type { JobRecord, MasterContext } from '../context';
import { localRepoRefusal } from './local-repos';
import { lsRemote } from './ls-remote';
import { RepoCache } from './repo-cache';

export { GitError } from '../../shared/node/git/run';
export { lsRemote, parseLsRemote } from './ls-remote';
export { RepoCache } from './repo-cache';
export { gitEnv } from '../../shared/node/git/env';
export { maskSecrets } from '../../shared/node/git/run';

export interface MasterGit {
  heads(job: JobRecord): Promise<Map<string, string>>;
  /** The commit a branch (default: the job's repo.branch) points to now. not_found when the branch does not exist. */
  resolveHead(job: JobRecord, branch?: string): Promise<{ ref: string; sha: string }>;
  /**
   * Files changed by a push of `sha` to `ref`. Base: `before` unless missing or all zeros, else the job's
   * previous built commit on that branch; null when there is none or it cannot be diffed.
   */
  changedFiles(job: JobRecord, push: { ref: string; sha: string; before?: string }): Promise<string[] | null>;
}

export function createMasterGit(ctx: MasterContext): MasterGit {
  const cache = new RepoCache(join(ctx.config.dataDir, 'git-cache'));
  const builds = buildsStore(ctx.db);

  function repoOf(job: JobRecord) {
    const repo = job.config.repo;
    if (!repo) throw badRequest(`job '${job.name}' has no repo`);
    // The job was checked when saved; the operator may have narrowed SLIPWAY_ALLOW_LOCAL_REPOS since.
    const refused = localRepoRefusal(repo.url, ctx.config, job.name);
    if (refused) throw badRequest(refused);
    return repo;
  }

  function credentialOf(job: JobRecord): string | undefined {
    const name = repoOf(job).credentials;
    if (!name) return undefined;
    const value = ctx.secrets.resolve(job.teamId, [name])[name];
    // A named but missing secret would make git fail with an authentication error that hides the cause.
    if (value === undefined) throw badRequest(`job '${job.name}': repo.credentials names team secret '${name}', which does not exist`);
    return value;
  }

  const git: MasterGit = {
    async heads(job) {
      const repo = repoOf(job);
      return lsRemote(repo.url, { credential: credentialOf(job), knownHosts: repo.knownHosts });
    },
    async resolveHead(job, branch) {
      const name = branch ?? repoOf(job).branch;
      assertSafeRef(name, 'branch');
      const ref = name.startsWith('refs/') ? name : `refs/heads/${name}`;
      const sha = (await git.heads(job)).get(ref);
      if (!sha) throw notFound(`branch '${name}' of job '${job.name}' in its repository`);
      return { ref, sha };
    },
    async changedFiles(job, push) {
      const repo = repoOf(job);
      let base = push.before && !ZERO_SHA_RE.test(push.before) ? push.before : undefined;
      if (!base && push.ref.startsWith('refs/heads/')) {
        base = builds.lastBuiltCommit(job.id, push.ref.slice('refs/heads/'.length), push.sha);
      }
      return cache.changedFiles({ url: repo.url, credential: credentialOf(job), knownHosts: repo.knownHosts, ref: push.ref, sha: push.sha, base });
    },
  };
  return git;
}
