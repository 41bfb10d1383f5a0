/**
 * JobsService refuses a job that deploys an app another team's jobs deploy (master/jobs/service.ts), over a
 * real SQLite store. A job with a `repo:` gets an implicit checkout step its file does not show: the error must
 * still name the deploy step as the file writes it, with the line and column of its `app`, on save, apply and move.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccess } from '../../master/access';
import type { Principal } from '../../master/context';
import { JobsService } from '../../master/jobs/service';
import { createTeam } from '../../master/store/teams';
import { ValidationError } from '../../shared/errors';
import { silentLog, tempStore } from './platform-fixtures';
import { owner, withRepo } from '../helpers/app-owner-jobs';

const NO_LOCAL_REPOS = { allowLocalRepos: [], dataDir: '/nonexistent' };
const admin: Principal = { userId: 1, username: 'admin', isAdmin: true, scopes: ['read', 'write', 'admin'], via: 'jwt' };

function refusal(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected invalid_job, nothing was thrown');
}

describe('app owners: errors name the deploy step as written, with its line', () => {
  let store: ReturnType<typeof tempStore>;
  let jobs: JobsService;
  beforeEach(() => {
    store = tempStore();
    jobs = new JobsService(store.db, silentLog, NO_LOCAL_REPOS);
    createTeam(store.db, 'shop');
    createTeam(store.db, 'games');
    jobs.applyFile('jobs/web.yml', owner('web', 'shop', 'shop-web'));
  });
  afterEach(() => store.cleanup());

  it('apply of a job file: the file, the written step index and the line:col of deploy.app', () => {
    const err = refusal(() => jobs.applyFile('jobs/rival.yml', withRepo('rival', 'games', 'shop-web')));
    expect(err.code).toBe('invalid_job');
    expect(err.message).toBe("jobs/rival.yml:14:16: stages[1].steps[1].deploy.app: app 'shop-web' is deployed by jobs of another team; choose another app name");
    expect(jobs.named('rival')).toEqual([]);
  });

  it('save through the API: the same, in job.yml', () => {
    const err = refusal(() => jobs.saveFromApi(admin, createAccess(store.db), withRepo('rival', 'games', 'shop-web')));
    expect(err.issues).toEqual([
      { file: 'job.yml', line: 14, column: 16, field: 'stages[1].steps[1].deploy.app', message: "app 'shop-web' is deployed by jobs of another team; choose another app name" },
    ]);
  });

  it('move to another team: the app stays deployed by a job of the team it leaves', () => {
    const access = createAccess(store.db);
    jobs.saveFromApi(admin, access, owner('arcade', 'games', 'arcade'));
    const moving = jobs.saveFromApi(admin, access, withRepo('arcade-2', 'games', 'arcade')).job;
    const err = refusal(() => jobs.moveFromApi(admin, access, 'games/arcade-2', 'shop'));
    expect(err.message).toBe("job.yml:14:16: stages[1].steps[1].deploy.app: app 'arcade' is deployed by jobs of another team; choose another app name");
    expect(jobs.byId(moving.id)?.team).toBe('games');
  });
});
