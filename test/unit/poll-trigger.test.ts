/**
 * The poller against a real bare repository and a real engine store: the first poll records a baseline
 * without building, a new head builds exactly once (poll_heads and the build in one transaction), only
 * watched refs count, path filters use the master's diff, and every decision lands in trigger_events.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobYaml } from '../../shared/job';
import type { JobRecord } from '../../master/context';
import { createTriggerPort } from '../../master/engine/builds/create-build';
import { createMasterGit } from '../../master/git';
import { startPoller, type Poller } from '../../master/triggers/poll';
import { createPushPipeline } from '../../master/webhooks/pipeline';
import { engineFixture, type EngineFixture } from './engine-fixtures';
import { git } from '../helpers/git';

let f: EngineFixture;
let dir: string;
let bare: string;
let work: string;
let jobs: Map<string, JobRecord>;
let poller: Poller;
let onChange: (job: JobRecord | undefined, id: number) => void;

/** Commits `files` on the current branch of the work tree and pushes it; returns the new head. */
function push(files: Record<string, string>, branch = 'main'): string {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(work, file)), { recursive: true });
    writeFileSync(join(work, file), text);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', `change ${Object.keys(files).join(' ')}`);
  git(work, 'push', '-q', bare, `HEAD:refs/heads/${branch}`);
  return git(work, 'rev-parse', 'HEAD');
}

function addJob(name: string, triggers: string): JobRecord {
  const yaml = `name: ${name}
team: shop
repo: { url: '${bare}', branch: main }
triggers: ${triggers}
stages:
  - name: build
    environment: ci
    steps: [ { sh: make } ]
`;
  const { id } = f.addJob(yaml);
  const job: JobRecord = { id, name, teamId: f.teamId, team: 'shop', yaml, source: 'api', filePath: null, enabled: true, config: parseJobYaml(yaml) };
  jobs.set(name, job);
  onChange(job, id);
  return job;
}

const builds = (jobId: number) =>
  f.db.prepare<[number], { commit_sha: string; ref: string; trigger: string }>('SELECT commit_sha, ref, trigger FROM builds WHERE job_id = ? ORDER BY id').all(jobId);
const events = (jobId: number) =>
  f.db.prepare<[number], { outcome: string; reason: string; ref: string | null }>('SELECT outcome, reason, ref FROM trigger_events WHERE job_id = ? ORDER BY id').all(jobId);

beforeEach(() => {
  f = engineFixture();
  dir = mkdtempSync(join(tmpdir(), 'slipway-poll-'));
  bare = join(dir, 'origin.git');
  work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', bare);
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  push({ 'README.md': 'hi' });
  jobs = new Map();
  const ctx = f.core.ctx;
  ctx.jobs = {
    byId: (id) => [...jobs.values()].find((j) => j.id === id),
    all: () => [...jobs.values()],
    onChange: (l) => (onChange = l),
  };
  // Every minute on Jan 1st: the cron never fires during the test, polls run through pollNow.
  poller = startPoller(ctx, createMasterGit(ctx), createPushPipeline(ctx, createTriggerPort(f.core)));
});

afterEach(() => {
  poller.stop();
  f.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('poller', () => {
  it('records a baseline first, then builds a new head exactly once', async () => {
    const job = addJob('web', `{ poll: '* * 1 1 *' }`);
    expect((await poller.pollNow(jobs.get('web')!.id))?.kind).toBe('baseline');
    expect(builds(job.id)).toEqual([]);
    expect(events(job.id)[0]).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/^first poll: 1 head/) });
    expect((await poller.pollNow(jobs.get('web')!.id))?.changes).toEqual([]);

    const head = push({ 'src/a.ts': 'a' });
    const r = await poller.pollNow(jobs.get('web')!.id);
    expect(r?.changes.map((c) => [c.ref, c.sha, c.result.queued.length])).toEqual([['refs/heads/main', head, 1]]);
    expect((await poller.pollNow(jobs.get('web')!.id))?.changes).toEqual([]);
    const b = builds(job.id);
    expect(b).toHaveLength(1);
    expect(b[0]).toMatchObject({ commit_sha: head, ref: 'refs/heads/main' });
    expect(JSON.parse(b[0].trigger)).toMatchObject({ kind: 'poll', provider: 'poll' });
    expect(f.db.prepare("SELECT sha FROM poll_heads WHERE job_id = ? AND ref = 'refs/heads/main'").pluck().all(job.id)).toEqual([head]);
    expect(poller.planned().get(job.id)).toBe('* * 1 1 *');
  });

  it('watches repo.branch by default, and push branch globs and tags when set', async () => {
    const def = addJob('def', `{ poll: '* * 1 1 *' }`);
    const globs = addJob('globs', `{ poll: '* * 1 1 *', push: { branches: ['release/*'], tags: true } }`);
    await poller.pollNow(jobs.get('def')!.id);
    await poller.pollNow(jobs.get('globs')!.id);
    const rel = push({ 'r.txt': '1' }, 'release/1');
    push({ 'f.txt': '1' }, 'feature/x');
    git(work, 'tag', 'v1');
    git(work, 'push', '-q', bare, 'v1');
    expect((await poller.pollNow(jobs.get('def')!.id))?.changes).toEqual([]);
    const r = await poller.pollNow(jobs.get('globs')!.id);
    expect(r?.changes.map((c) => c.ref).sort()).toEqual(['refs/heads/release/1', 'refs/tags/v1']);
    expect(builds(globs.id).map((b) => b.ref).sort()).toEqual(['refs/heads/release/1', 'refs/tags/v1']);
    expect(builds(globs.id).find((b) => b.ref === 'refs/heads/release/1')?.commit_sha).toBe(rel);
    expect(builds(def.id)).toEqual([]);
  });

  it('applies path filters with the changed files diffed on the master', async () => {
    const job = addJob('paths', `{ poll: '* * 1 1 *', push: { branches: [main], paths: ['src/**'] } }`);
    await poller.pollNow(jobs.get('paths')!.id);
    push({ 'docs/readme.md': 'x' });
    const ignored = await poller.pollNow(jobs.get('paths')!.id);
    expect(ignored?.changes[0].result.ignored[0].reason).toMatch(/no changed file matches triggers.push.paths/);
    const head = push({ 'src/x.ts': 'x' });
    const queued = await poller.pollNow(jobs.get('paths')!.id);
    expect(queued?.changes[0].result.queued).toHaveLength(1);
    expect(builds(job.id).map((b) => b.commit_sha)).toEqual([head]);
    expect(events(job.id).map((e) => e.outcome)).toEqual(['ignored', 'ignored', 'queued']);
  });

  it('does nothing for a job without a poll trigger, and survives an unreachable repository', async () => {
    addJob('nopoll', `{ push: true }`);
    expect(await poller.pollNow(jobs.get('nopoll')!.id)).toBeNull();
    const gone = addJob('gone', `{ poll: '* * 1 1 *' }`);
    rmSync(bare, { recursive: true, force: true });
    expect(await poller.pollNow(jobs.get('gone')!.id)).toBeNull();
    expect(builds(gone.id)).toEqual([]);
  });
});
