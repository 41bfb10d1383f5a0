/**
 * Path filters decided after the answer (master/webhooks/path-checks.ts), on a real SQLite store, the real
 * engine core and real git: a bare repository in a temp dir diffed by the master's git cache.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobYaml } from '../../shared/job';
import type { JobRecord } from '../../master/context';
import { createTriggerPort } from '../../master/engine/builds/create-build';
import { createPushPipeline, type PushEvent, type PushPipeline } from '../../master/webhooks/pipeline';
import { engineFixture, type EngineFixture } from './engine-fixtures';
import { git } from '../helpers/git';

const ZERO = '0'.repeat(40);
let f: EngineFixture;
let pipeline: PushPipeline;
let jobs: JobRecord[];
let dir: string;
let bare: string;
let work: string;
const shas: Record<'readme' | 'docs' | 'code', string> = { readme: '', docs: '', code: '' };

function commit(file: string, message: string): string {
  mkdirSync(join(work, file, '..'), { recursive: true });
  writeFileSync(join(work, file), `${message}\n`);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', message);
  git(work, 'push', '-q', 'origin', 'main');
  return git(work, 'rev-parse', 'HEAD');
}

function job(name: string, url: string): JobRecord {
  const yaml = `name: ${name}\nteam: shop\nrepo: { url: '${url}' }\ntriggers: { push: { branches: [main], paths: ['src/**'] } }\nstages:\n  - name: build\n    environment: ci\n    steps: [ { sh: 'true' } ]\n`;
  const { id } = f.addJob(yaml);
  const rec: JobRecord = { id, name, teamId: f.teamId, team: 'shop', yaml, source: 'api', filePath: null, enabled: true, config: parseJobYaml(yaml) };
  jobs.push(rec);
  return rec;
}

function push(over: Partial<PushEvent> = {}): PushEvent {
  return { provider: 'generic', event: 'push', repoUrls: [`file://${bare}`], ref: 'refs/heads/main', sha: shas.docs, before: shas.readme, verify: (s) => s === 'hook-secret', ...over };
}

const builds = () => f.db.prepare('SELECT id, commit_sha AS sha, commit_info AS info FROM builds ORDER BY id').all() as { id: number; sha: string; info: string }[];
const events = () => f.db.prepare('SELECT id, outcome, reason, build_id AS buildId FROM trigger_events ORDER BY id').all() as { id: number; outcome: string; reason: string; buildId: number | null }[];
const pendingRows = () => (f.db.prepare('SELECT COUNT(*) AS n FROM pending_path_checks').get() as { n: number }).n;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-path-checks-'));
  bare = join(dir, 'web.git');
  work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  git(work, 'remote', 'add', 'origin', bare);
  shas.readme = commit('README', 'readme');
  shas.docs = commit('docs/guide.md', 'docs only');
  shas.code = commit('src/app.ts', 'code');

  f = engineFixture();
  jobs = [];
  f.core.ctx.jobs = { byId: (id) => jobs.find((j) => j.id === id), all: () => jobs, onChange: () => {} };
  f.secrets.set(f.teamId, 'WEBHOOK_SECRET', 'hook-secret');
  pipeline = createPushPipeline(f.core.ctx, createTriggerPort(f.core));
});
afterEach(async () => {
  await pipeline.settled();
  f.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('path filters without a list of changed files', () => {
  it('answers pending at once, then ignores a push whose diff touches no watched path', async () => {
    job('web', `file://${bare}`);
    const res = pipeline.accept(push());
    expect(res.queued).toEqual([]);
    expect(res.pending).toEqual([{ job: 'web', team: 'shop', reason: expect.stringMatching(/does not list its changed files.*src\/\*\*/) }]);
    expect(events()).toMatchObject([{ outcome: 'pending', buildId: null }]);
    expect(pendingRows()).toBe(1);

    await pipeline.settled();
    expect(events()).toMatchObject([{ outcome: 'ignored', reason: 'no changed file matches triggers.push.paths (src/**)', buildId: null }]);
    expect(builds()).toEqual([]);
    expect(pendingRows()).toBe(0);
  });

  it('builds a push whose diff touches a watched path, with the diffed files in the commit info', async () => {
    job('web', `file://${bare}`);
    pipeline.accept(push({ sha: shas.code, before: shas.docs, headMessage: 'code', author: 'Ada' }));
    await pipeline.settled();
    const [b] = builds();
    expect(b.sha).toBe(shas.code);
    expect(JSON.parse(b.info)).toEqual({ author: 'Ada', message: 'code', changedFiles: ['src/app.ts'] });
    expect(events()).toMatchObject([{ outcome: 'queued', buildId: b.id, reason: expect.stringMatching(/1 changed file\(s\) diffed/) }]);
  });

  it('builds anyway when the repository cannot be reached, and says so', async () => {
    const gone = join(dir, 'gone.git');
    job('lost', `file://${gone}`);
    const res = pipeline.accept(push({ repoUrls: [`file://${gone}`] }));
    expect(res.pending).toHaveLength(1);
    await pipeline.settled();
    expect(builds()).toHaveLength(1);
    expect(events()).toMatchObject([{ outcome: 'queued', buildId: 1, reason: expect.stringMatching(/could not be computed.*built without the path filter/) }]);
  });

  it('builds a new branch (nothing to diff against) with the reason recorded', async () => {
    job('web', `file://${bare}`);
    pipeline.accept(push({ sha: shas.docs, before: ZERO }));
    await pipeline.settled();
    expect(builds()).toHaveLength(1);
    expect(JSON.parse(builds()[0].info).changedFiles).toBeUndefined();
    expect(events()[0]).toMatchObject({ outcome: 'queued', reason: expect.stringMatching(/changed files unknown.*path filter not applied/) });
  });

  it('counts a repeated delivery of a pending one as a duplicate', async () => {
    job('web', `file://${bare}`);
    pipeline.accept(push({ deliveryId: 'd-7' }));
    const again = pipeline.accept(push({ deliveryId: 'd-7' }));
    expect(again).toMatchObject({ duplicate: true, pending: [], queued: [] });
    await pipeline.settled();
    expect(events().map((e) => e.outcome)).toEqual(['ignored', 'duplicate']);
  });

  it('decides a check once even when a resuming instance schedules it too', async () => {
    job('web', `file://${bare}`);
    pipeline.accept(push({ sha: shas.code, before: shas.docs }));
    // A second pipeline on the same store resumes the row the first one has scheduled but not decided.
    const other = createPushPipeline(f.core.ctx, createTriggerPort(f.core));
    other.resumePending();
    other.resumePending();
    await Promise.all([pipeline.settled(), other.settled()]);
    expect(builds()).toHaveLength(1);
    expect(events()).toMatchObject([{ outcome: 'queued', buildId: builds()[0].id }]);
  });

  it('decides at once when the delivery lists its files', () => {
    job('web', `file://${bare}`);
    expect(pipeline.accept(push({ changedFiles: ['docs/x.md'] })).ignored[0].reason).toMatch(/no changed file matches/);
    expect(pipeline.accept(push({ sha: shas.code, changedFiles: ['src/app.ts'] })).queued).toHaveLength(1);
    expect(pendingRows()).toBe(0);
  });
});
