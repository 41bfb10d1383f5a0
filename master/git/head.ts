/**
 * The commit a manual or cron build of a job with a repo builds: the branch head at trigger time
 * (ls-remote), so the build records and checks out one exact commit even if the branch moves on.
 */
import { SlipwayError } from '../../shared/errors';
import type { JobRecord } from '../context';
import type { MasterGit } from './index';
import { GitError } from '../../shared/node/git/run';

/**
 * {ref, sha} of `branch` now. Throws invalid_request when the branch does not exist (naming it) and
 * unavailable (503) when the repository cannot be reached (git's reason, credentials masked).
 */
export async function headForBuild(git: MasterGit, job: JobRecord, branch: string): Promise<{ ref: string; sha: string }> {
  try {
    return await git.resolveHead(job, branch);
  } catch (err) {
    if (err instanceof SlipwayError && err.code === 'not_found') {
      throw new SlipwayError('invalid_request', `branch '${branch}' does not exist in the repository of job '${job.name}'`);
    }
    if (err instanceof GitError) {
      throw new SlipwayError('unavailable', `cannot read branch '${branch}' of job '${job.name}': ${err.message}`, { cause: err });
    }
    throw err;
  }
}
