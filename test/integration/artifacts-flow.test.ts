/**
 * Artifacts end to end: a stage uploads a file, a later stage on another agent downloads it, a user downloads
 * it with the same checksum; an oversized artifact fails the stage with a clear error; path traversal and
 * uploads without the lease are refused; other teams get 404.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../shared/client/api-client';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const suffix = Math.random().toString(36).slice(2, 8);
const team = `art-${suffix}`;
const otherTeam = `art-other-${suffix}`;
const LIMIT = 64 * 1024;
let master: TestMaster;
let outsider: ApiClient;
let ciToken: string;

async function runBuild(job: string) {
  const { id } = await master.api.trigger(job);
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  });
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function put(path: string, token: string, stageRunId: number, headers: Record<string, string> = {}, body = Buffer.from('payload')) {
  const res = await fetch(`${master.url}/api/v1/agent/stage-runs/${stageRunId}/artifacts?path=${encodeURIComponent(path)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'x-slipway-epoch': '1', 'x-slipway-sha256': sha256(body), ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
}

beforeAll(async () => {
  master = await startMaster({ env: { SLIPWAY_MAX_ARTIFACT_BYTES: String(LIMIT) } });
  await master.api.createTeam(team);
  await master.api.createTeam(otherTeam);
  await master.api.createUser({ username: `eve-${suffix}`, password: 'eve-password-1' });
  await master.api.setMember(otherTeam, `eve-${suffix}`, 'maintainer');
  outsider = await master.login(`eve-${suffix}`, 'eve-password-1');
  ciToken = (await startAgent(master, { environment: 'ci' })).token;
  await startAgent(master, { environment: 'pre' });
});

afterAll(async () => {
  await master?.stop();
});

describe('artifacts', () => {
  it('a stage uploads, a later stage on another agent and a user download the same bytes', async () => {
    const job = `ship-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: build
    environment: ci
    artifacts: [dist/app.bin]
    steps:
      - sh: mkdir -p dist && head -c 20000 /dev/urandom > dist/app.bin && sha256sum dist/app.bin
  - name: deploy
    environment: pre
    steps:
      - sh: sha256sum dist/app.bin
`);
    const b = await runBuild(job);
    expect(b.status).toBe('success');
    const list = await master.api.listArtifacts(b.id);
    expect(list).toEqual([{ id: expect.any(Number), buildId: b.id, stageRunId: b.stages[0].id, path: 'dist/app.bin', size: 20000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const bytes = await master.api.downloadArtifact(list[0].id);
    expect(bytes.length).toBe(20000);
    expect(sha256(bytes)).toBe(list[0].sha256);
    // Both stages printed the checksum of the file they saw: the deploy stage got the build stage's bytes.
    const log = await master.api.buildLog(b.id);
    expect(log.split(`${list[0].sha256}  dist/app.bin`).length - 1).toBe(2);

    const res = await fetch(`${master.url}/api/v1/artifacts/${list[0].id}`, { headers: { authorization: `Bearer ${master.api.token}` } });
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="?app\.bin"?$/);
    expect(res.headers.get('x-slipway-sha256')).toBe(list[0].sha256);
    await res.arrayBuffer();

    await expect(outsider.downloadArtifact(list[0].id)).rejects.toMatchObject({ code: 'not_found', message: `artifact ${list[0].id} not found` });
    await expect(outsider.listArtifacts(b.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('an artifact over SLIPWAY_MAX_ARTIFACT_BYTES fails the stage with a clear error and is not kept', async () => {
    const job = `huge-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: build
    environment: ci
    artifacts: [big.bin]
    steps:
      - sh: head -c ${LIMIT + 1} /dev/zero > big.bin
`);
    const b = await runBuild(job);
    expect(b.status).toBe('failed');
    expect(b.stages[0].error).toContain(`artifact big.bin is ${LIMIT + 1} bytes, over the limit of ${LIMIT} bytes`);
    expect(await master.api.listArtifacts(b.id)).toEqual([]);
  });

  it('refuses path traversal, absolute paths and uploads without the lease', async () => {
    const { token } = await master.api.createAgentToken('ci', `probe-${suffix}`);
    const traversal = await put('../../slipway.db', token, 1);
    expect(traversal.status).toBe(400);
    expect(traversal.body.error?.message).toBe(`path "../../slipway.db": must not contain '..'`);
    const absolute = await put('/etc/passwd', token, 1);
    expect(absolute.status).toBe(400);
    expect(absolute.body.error?.message).toMatch(/"\/etc\/passwd": must be relative/);
    // A valid path, but this token's agent holds no lease on the stage run.
    const stolen = await put('dist/x', token, 1);
    expect(stolen.status).toBe(403);
    expect(stolen.body.error?.message).toMatch(/not leased to this agent/);
    const missing = await put('dist/x', token, 999_999);
    expect(missing.status).toBe(404);
    const noAuth = await put('dist/x', 'bogus', 1);
    expect(noAuth.status).toBe(401);
    const noSha = await put('dist/x', token, 1, { 'x-slipway-sha256': 'abc' });
    expect(noSha.status).toBe(400);
    expect(noSha.body.error?.message).toMatch(/^X-Slipway-Sha256: /);
  });

  it('takes an upload from the lease holder only with the current epoch and the right checksum', async () => {
    const job = `slow-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: build
    environment: ci
    steps:
      - sh: sleep 4
`);
    const { id } = await master.api.trigger(job);
    const stageRunId = await waitFor('stage running', async () => {
      const b = await master.api.getBuild(id);
      return b.stages[0]?.status === 'running' ? b.stages[0].id : undefined;
    });
    // The lease epoch is not part of the public API: read it from the master's store, read-only.
    const store = new Database(join(master.dataDir, 'slipway.db'), { readonly: true });
    const epoch = (store.prepare('SELECT lease_epoch FROM stage_runs WHERE id = ?').get(stageRunId) as { lease_epoch: number }).lease_epoch;
    store.close();
    const body = Buffer.from('hello artifact\n');
    const wrongSha = await put('out/x.txt', ciToken, stageRunId, { 'x-slipway-epoch': String(epoch), 'x-slipway-sha256': sha256(Buffer.from('other')) }, body);
    expect(wrongSha.status).toBe(400);
    expect(wrongSha.body.error?.message).toBe(`X-Slipway-Sha256: artifact out/x.txt arrived with sha256 ${sha256(body)}, not ${sha256(Buffer.from('other'))}`);
    const oldEpoch = await put('out/x.txt', ciToken, stageRunId, { 'x-slipway-epoch': String(epoch + 1), 'x-slipway-sha256': sha256(body) }, body);
    expect(oldEpoch.status).toBe(403);
    expect(await master.api.listArtifacts(id)).toEqual([]);
    const ok = await put('./out//x.txt', ciToken, stageRunId, { 'x-slipway-epoch': String(epoch), 'x-slipway-sha256': sha256(body) }, body);
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ id: expect.any(Number), buildId: id, stageRunId, path: 'out/x.txt', size: body.length, sha256: sha256(body) });
    expect(Buffer.from(await master.api.downloadArtifact((ok.body as { id: number }).id))).toEqual(body);
  });
});
