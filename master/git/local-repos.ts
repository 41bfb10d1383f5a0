/**
 * The master's rule for local repositories (repo.url an absolute path or file:// URL): allowed only under
 * the directories the operator lists (MasterConfig.allowLocalRepos, from SLIPWAY_ALLOW_LOCAL_REPOS or
 * --allow-local-repos), and never inside the master's own data dir (its git cache, keys, database), even
 * when a listed directory contains it. The master runs git as its own user: without this rule a job of one
 * team could name another team's repository cache, or any repository the master's user may read.
 * Checked when a job is saved or applied, and again before every git call and push that uses the URL (the
 * setting may have changed since the job was saved).
 */
import { ValidationError } from '../../shared/errors';
import { jobFieldIssue } from '../../shared/job';
import { isInsideDir, localRepoPath } from '../../shared/node/local-repos';

export interface LocalRepoPolicy {
  /** Directories local repositories may live under (absolute). Empty: no local repository is allowed. */
  allowLocalRepos: readonly string[];
  /** The master's data dir: never allowed. */
  dataDir: string;
}

export const ALLOW_LOCAL_REPOS_SETTING = 'SLIPWAY_ALLOW_LOCAL_REPOS (or master start --allow-local-repos DIR)';

/**
 * Why the job may not use `url`, naming the job, the field and the fix; null when the URL is remote or a
 * local repository under an allowed directory.
 */
export function localRepoRefusal(url: string, policy: LocalRepoPolicy, job: string, field = 'repo.url'): string | null {
  const path = localRepoPath(url);
  if (path === null) return null;
  const what = `job '${job}': ${field} '${url}' is a local repository`;
  if (isInsideDir(path, policy.dataDir)) return `${what} inside the master's data dir, which is never allowed`;
  if (!policy.allowLocalRepos.length) {
    return `${what}, and this master allows none: list the directory that holds it in ${ALLOW_LOCAL_REPOS_SETTING}, or use an http(s), ssh or git URL`;
  }
  if (!policy.allowLocalRepos.some((dir) => isInsideDir(path, dir))) {
    return `${what} outside the directories this master allows (${policy.allowLocalRepos.join(', ')}): move it there, list its directory in ${ALLOW_LOCAL_REPOS_SETTING}, or use an http(s), ssh or git URL`;
  }
  return null;
}

/**
 * Throws invalid_job (field repo.url, the job's file, and its line and column when the job's text `yaml` is
 * given) when localRepoRefusal refuses.
 */
export function assertLocalRepoAllowed(url: string, policy: LocalRepoPolicy, job: string, file?: string, yaml?: string): void {
  const why = localRepoRefusal(url, policy, job);
  if (!why) return;
  const issue = yaml !== undefined && file ? jobFieldIssue(yaml, file, ['repo', 'url'], why) : { ...(file ? { file } : {}), field: 'repo.url', message: why };
  throw new ValidationError('invalid_job', [issue]);
}
