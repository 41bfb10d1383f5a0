import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccess } from '../../master/access';
import type { Principal } from '../../master/context';
import { loadJobFiles } from '../../master/jobs/loader';
import { JobsService } from '../../master/jobs/service';
import { createTeam, setMember } from '../../master/store/teams';
import { SlipwayError, ValidationError } from '../../shared/errors';
import { silentLog, tempStore } from './platform-fixtures';
/** These jobs have no repository; no local repository is allowed. */
const NO_LOCAL_REPOS = { allowLocalRepos: [], dataDir: '/nonexistent' };

const job = (name: string, team = 'shop', env = 'ci') => `name: ${name}
team: ${team}
stages:
  - name: build
    environment: ${env}
    steps:
      - sh: echo hi
`;

describe('jobs/*.yml loader', () => {
  let store: ReturnType<typeof tempStore>;
  let dir: string;
  let jobs: JobsService;
  beforeEach(() => {
    store = tempStore();
    dir = join(store.dir, 'jobs');
    mkdirSync(dir);
    jobs = new JobsService(store.db, silentLog, NO_LOCAL_REPOS);
  });
  afterEach(() => store.cleanup());

  it('applies valid files, creating their teams, as read-only file jobs', () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors).toEqual([]);
    expect(report.applied).toEqual([{ file: 'jobs/web.yml', job: 'web', result: 'created' }]);
    const rec = jobs.named('web')[0];
    expect(rec).toMatchObject({ source: 'file', filePath: 'jobs/web.yml', enabled: true, team: 'shop' });
    expect(rec.config.stages[0].environment).toBe('ci');
    expect(loadJobFiles(dir, new JobsService(store.db, silentLog, NO_LOCAL_REPOS), silentLog).applied[0].result).toBe('unchanged');
  });

  it('reports an invalid file with file:line and field, and still applies the others', () => {
    writeFileSync(join(dir, 'ok.yml'), job('ok'));
    writeFileSync(join(dir, 'bad.yml'), job('bad', 'shop', 'NOT VALID'));
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatch(/^jobs\/bad\.yml:5:\d+: stages\[0\]\.environment: /);
    expect(jobs.named('ok')[0]).toBeDefined();
    expect(jobs.named('bad')[0]).toBeUndefined();
  });

  it('disables the job of a removed file and keeps it (and its id) for history', () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    loadJobFiles(dir, jobs, silentLog);
    const id = jobs.named('web')[0].id;
    rmSync(join(dir, 'web.yml'));
    const restarted = new JobsService(store.db, silentLog, NO_LOCAL_REPOS);
    const report = loadJobFiles(dir, restarted, silentLog);
    expect(report.disabled).toEqual(['web']);
    expect(restarted.named('web')[0]).toMatchObject({ id, enabled: false });
    expect(restarted.all().map((j) => j.name)).not.toContain('web');
  });

  it('keeps the previous definition when a file turns invalid', () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    loadJobFiles(dir, jobs, silentLog);
    writeFileSync(join(dir, 'web.yml'), 'name: web\nteam: shop\nstages: nope\n');
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors[0]).toMatch(/^jobs\/web\.yml:3:\d+: stages: /);
    expect(jobs.named('web')[0]).toMatchObject({ enabled: true, source: 'file' });
  });

  it('refuses a second file defining the same job', () => {
    writeFileSync(join(dir, 'a.yml'), job('web'));
    writeFileSync(join(dir, 'b.yml'), job('web'));
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors).toEqual(["jobs/b.yml:1:7: name: job 'web' is already defined by jobs/a.yml"]);
    expect(jobs.named('web')[0].filePath).toBe('jobs/a.yml');
  });

  it('refuses a local repository with the line and column of repo.url', () => {
    writeFileSync(join(dir, 'local.yml'), job('local').replace('stages:', 'repo:\n  branch: main\n  url: /srv/git/local.git\nstages:'));
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatch(/^jobs\/local\.yml:5:8: repo\.url: job 'local': repo\.url '\/srv\/git\/local\.git' is a local repository, and this master allows none/);
    expect(jobs.named('local')).toEqual([]);
  });

  it('applies two files using one job name for different teams as two jobs', () => {
    writeFileSync(join(dir, 'a.yml'), job('web'));
    writeFileSync(join(dir, 'b.yml'), job('web', 'games'));
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors).toEqual([]);
    expect(jobs.named('web').map((j) => [j.team, j.filePath]).sort()).toEqual([['games', 'jobs/b.yml'], ['shop', 'jobs/a.yml']]);
  });

  it("moves a file's job when its team: changes, keeping the job's id and history", () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    loadJobFiles(dir, jobs, silentLog);
    const id = jobs.named('web')[0].id;
    writeFileSync(join(dir, 'web.yml'), job('web', 'games'));
    expect(loadJobFiles(dir, jobs, silentLog)).toMatchObject({ errors: [], applied: [{ file: 'jobs/web.yml', result: 'updated' }] });
    expect(jobs.named('web')).toEqual([expect.objectContaining({ id, team: 'games', enabled: true })]);
  });

  it("never takes over another file's job of the team it moves to", () => {
    writeFileSync(join(dir, 'a.yml'), job('web'));
    writeFileSync(join(dir, 'b.yml'), job('web', 'games', 'games-ci'));
    loadJobFiles(dir, jobs, silentLog);
    const [games, shop] = ['games', 'shop'].map((t) => jobs.named('web').find((j) => j.team === t)!);
    writeFileSync(join(dir, 'a.yml'), job('web', 'games'));
    const report = loadJobFiles(dir, jobs, silentLog);
    expect(report.errors).toEqual(["jobs/a.yml:1:7: name: job 'games/web' is already defined by jobs/b.yml"]);
    // b.yml's job is b.yml's, its definition untouched; a.yml keeps its previous job, as for any invalid file.
    expect(jobs.byId(games.id)).toMatchObject({ team: 'games', filePath: 'jobs/b.yml', enabled: true, yaml: job('web', 'games', 'games-ci') });
    expect(jobs.byId(shop.id)).toMatchObject({ team: 'shop', filePath: 'jobs/a.yml', enabled: true, yaml: job('web') });
  });

  it("does not give a removed file's job (another team's history) to a new file of the same path", () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    loadJobFiles(dir, jobs, silentLog);
    const old = jobs.named('web')[0];
    rmSync(join(dir, 'web.yml'));
    loadJobFiles(dir, jobs, silentLog);
    writeFileSync(join(dir, 'web.yml'), job('web', 'games'));
    expect(loadJobFiles(dir, jobs, silentLog).applied).toEqual([{ file: 'jobs/web.yml', job: 'web', result: 'created' }]);
    expect(jobs.byId(old.id)).toMatchObject({ team: 'shop', enabled: false });
    expect(jobs.named('web').find((j) => j.team === 'games')?.id).not.toBe(old.id);
  });

  it("disables the job a file leaves when it moves to a team that had a job of that name (the file defines only one)", () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    loadJobFiles(dir, jobs, silentLog);
    const old = jobs.named('web')[0];
    store.db.prepare("INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'dev', 'x', 0)").run();
    setMember(store.db, createTeam(store.db, 'games').id, 'dev', 'maintainer');
    const dev: Principal = { userId: 1, username: 'dev', isAdmin: false, scopes: ['read', 'write'], via: 'jwt' };
    const theirs = jobs.saveFromApi(dev, createAccess(store.db), job('web', 'games')).job;
    writeFileSync(join(dir, 'web.yml'), job('web', 'games'));
    expect(loadJobFiles(dir, jobs, silentLog).errors).toEqual([]);
    expect(jobs.byId(theirs.id)).toMatchObject({ team: 'games', source: 'file', filePath: 'jobs/web.yml', enabled: true });
    expect(jobs.byId(old.id)).toMatchObject({ team: 'shop', enabled: false });
  });

  it('makes file jobs read-only through the API (409 naming the file) and checks the team for API jobs', () => {
    writeFileSync(join(dir, 'web.yml'), job('web'));
    loadJobFiles(dir, jobs, silentLog);
    store.db.prepare("INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'dev', 'x', 0), (2, 'out', 'x', 0)").run();
    setMember(store.db, createTeam(store.db, 'api-team').id, 'dev', 'developer');
    setMember(store.db, jobs.named('web')[0].teamId, 'dev', 'developer');
    const access = createAccess(store.db);
    const dev: Principal = { userId: 1, username: 'dev', isAdmin: false, scopes: ['read', 'write'], via: 'jwt' };
    const out: Principal = { ...dev, userId: 2, username: 'out' };
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as SlipwayError;
      }
    };
    expect(err(() => jobs.saveFromApi(dev, access, job('web')))).toMatchObject({ code: 'conflict', message: expect.stringContaining('jobs/web.yml') });
    expect(err(() => jobs.saveFromApi(out, access, job('new', 'api-team')))?.code).toBe('not_found');
    expect(err(() => jobs.saveFromApi(dev, access, job('new', 'no-such-team')))?.message).toMatch(/team 'no-such-team' not found/);
    const bad = err(() => jobs.saveFromApi(dev, access, 'name: x\nteam: api-team\nstages: []\n'));
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).issues[0]).toMatchObject({ file: 'job.yml', line: 3, field: 'stages' });
    const changes: string[] = [];
    jobs.onChange((j) => changes.push(j!.name));
    expect(jobs.saveFromApi(dev, access, job('new', 'api-team'))).toMatchObject({ created: true, job: { source: 'api', team: 'api-team' } });
    expect(changes).toEqual(['new']);
  });
});
