/**
 * Commit status reporting against a local HTTP server that records the calls (no mocks): a real engine
 * core on a real SQLite store moves builds through queued -> running -> success/failed, and the reporter
 * must POST the provider's status call for the build's commit, in order, with the right method, path,
 * headers and body; retry a 5xx; and stay silent for builds without a commit or jobs without `status:`.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobYaml } from '../../shared/job';
import { Effects } from '../../master/engine/core';
import { createBuild } from '../../master/engine/builds/create-build';
import { finishStage, type StageRunRow } from '../../master/engine/builds/transitions';
import { startStatusReporter, type StatusReporter } from '../../master/status/reporter';
import { engineFixture, type EngineFixture } from '../unit/engine-fixtures';

interface Call {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, string>;
}

const SHA = 'a'.repeat(40);
let f: EngineFixture;
let server: Server;
let api: string;
let calls: Call[];
let answers: number[];
let reporter: StatusReporter;

beforeEach(async () => {
  f = engineFixture();
  calls = [];
  answers = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ method: req.method!, path: req.url!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') });
      res.statusCode = answers.shift() ?? 201;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  reporter = startStatusReporter(f.core, { baseUrl: () => 'http://slipway.example/', backoffMs: 10 });
  f.secrets.set(f.teamId, 'STATUS_TOKEN', 'glpat-s3cret');
});

afterEach(async () => {
  reporter.stop();
  server.close();
  f.cleanup();
});

function job(name: string, status: string): { id: number; yaml: string } {
  return f.addJob(`name: ${name}
team: shop
repo: { url: 'git@git.example:shop/web.git' }
${status}
stages:
  - name: build
    environment: ci
    checkout: false
    steps: [ { sh: make } ]
`);
}

/** Queues a build of `j` at SHA, lets an agent take it, then finishes its stage with `end`. */
async function runBuild(j: { id: number; yaml: string }, end: 'success' | 'failed', sha: string | null = SHA): Promise<number> {
  const fx = new Effects();
  const id = createBuild(f.core, fx, {
    jobId: j.id, yaml: j.yaml, config: parseJobYaml(j.yaml), params: {}, branch: 'main', ref: 'refs/heads/main', sha, trigger: { kind: 'push' },
  });
  f.core.apply(fx);
  f.connect(`agent-${id}`, 'ci');
  expect(f.dispatch()).toBe(1);
  const run = f.db.prepare<[number], StageRunRow>('SELECT * FROM stage_runs WHERE build_id = ?').get(id)!;
  const fx2 = new Effects();
  f.db.transaction(() => finishStage(f.core, fx2, run, end, end === 'failed' ? 'exit 2' : null, Date.now()))();
  f.core.apply(fx2);
  await reporter.idle();
  return id;
}

describe('commit status reporter', () => {
  it('GitLab: pending, running then success for the build commit, with PRIVATE-TOKEN', async () => {
    const j = job('web', `status: { provider: gitlab, apiUrl: '${api}/api/v4/', token: STATUS_TOKEN }`);
    const id = await runBuild(j, 'success');
    expect(calls.map((c) => c.body.state)).toEqual(['pending', 'running', 'success']);
    for (const c of calls) {
      expect(c.method).toBe('POST');
      expect(c.path).toBe(`/api/v4/projects/shop%2Fweb/statuses/${SHA}`);
      expect(c.headers['private-token']).toBe('glpat-s3cret');
      expect(c.headers['content-type']).toBe('application/json');
      expect(c.body).toMatchObject({ name: 'slipway/web', ref: 'main', target_url: `http://slipway.example/builds/${id}` });
    }
    expect(calls[2].body.description).toBe('web #1 succeeded');
  });

  it('GitHub: one pending (queued and running are the same state), then failure, with a Bearer token', async () => {
    const j = job('api', `status: { provider: github, apiUrl: '${api}', token: STATUS_TOKEN, context: ci/slipway }`);
    const id = await runBuild(j, 'failed');
    expect(calls.map((c) => c.body)).toEqual([
      { state: 'pending', target_url: `http://slipway.example/builds/${id}`, description: 'api #1 queued', context: 'ci/slipway' },
      { state: 'failure', target_url: `http://slipway.example/builds/${id}`, description: 'api #1 failed', context: 'ci/slipway' },
    ]);
    for (const c of calls) {
      expect(c.path).toBe(`/repos/shop/web/statuses/${SHA}`);
      expect(c.headers.authorization).toBe('Bearer glpat-s3cret');
    }
  });

  it('Gitea: Authorization token, and a 5xx answer is retried', async () => {
    answers = [503];
    const j = job('gt', `status: { provider: gitea, apiUrl: '${api}/api/v1', token: STATUS_TOKEN }`);
    await runBuild(j, 'success');
    expect(calls.map((c) => c.body.state)).toEqual(['pending', 'pending', 'success']);
    expect(calls[0].path).toBe(`/api/v1/repos/shop/web/statuses/${SHA}`);
    expect(calls[0].headers.authorization).toBe('token glpat-s3cret');
  });

  it('a refused token (401) is not retried', async () => {
    answers = [401];
    const j = job('deny', `status: { provider: github, apiUrl: '${api}', token: STATUS_TOKEN }`);
    await runBuild(j, 'success');
    expect(calls.map((c) => c.body.state)).toEqual(['pending', 'success']);
  });

  it('reports nothing for a build without a commit, a job without status, or a missing token secret', async () => {
    await runBuild(job('nosha', `status: { provider: github, apiUrl: '${api}', token: STATUS_TOKEN }`), 'success', null);
    await runBuild(job('nostatus', ''), 'success');
    await runBuild(job('notoken', `status: { provider: github, apiUrl: '${api}', token: NO_SUCH_SECRET }`), 'success');
    expect(calls).toEqual([]);
  });
});
