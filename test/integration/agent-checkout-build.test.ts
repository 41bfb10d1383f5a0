/**
 * A real master and agent build a job with `repo: {url: file:///...}`: the implicit checkout step puts the
 * exact pushed commit into the workspace (an older one while the branch has moved on), the next step sees
 * it with `git log`, and the build records the author and message the agent read and, when the push did not
 * list them, the files changed since the previous build's commit.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildInfo, WebhookResult } from '../../shared/api';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { tempDir, TestRepo } from '../unit/agent-git-fixtures';

const SECRET = 'generic-hook-secret-9';
let master: TestMaster;
let root: string;
let repo: TestRepo;

async function push(body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${master.url}/api/v1/hooks/generic`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({ repository: repo.url, ref: 'refs/heads/main', ...body }),
  });
  expect(res.status).toBe(202);
  const result = (await res.json()) as WebhookResult;
  expect(result.queued, JSON.stringify(result)).toHaveLength(1);
  return result.queued[0].buildId;
}

async function finished(id: number): Promise<BuildInfo> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout', 'error'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  root = tempDir('co-build');
  repo = new TestRepo(join(root, 'web'));
  master = await startMaster();
  await master.api.createTeam('coteam');
  await master.api.setSecret('coteam', 'WEBHOOK_SECRET', SECRET);
  await startAgent(master, { environment: 'ci' });
  await master.api.applyJob(`name: checkout-e2e
team: coteam
repo: { url: '${repo.url}' }
triggers: { push: true }
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'echo "built=$(git log -1 --format=%H)"; cat version.txt'
`);
}, 60_000);
afterAll(async () => {
  await master?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('checkout in a real build', () => {
  it('builds exactly the pushed older commit and records what the agent read', async () => {
    const older = repo.commit('release 1\n\nwith a body', { 'version.txt': 'v1\n', 'src/a.ts': 'a\n' });
    repo.commit('moved on', { 'version.txt': 'v2\n' });
    const id = await push({ sha: older });
    const b = await finished(id);
    const log = await master.api.buildLog(id);
    expect(b.status, log).toBe('success');
    expect(log).toContain(`built=${older}`);
    expect(log).toContain('v1');
    expect(log).not.toContain('v2');
    expect(b.commit).toBe(older);
    expect(b.commitInfo).toMatchObject({ author: 'Ada Lovelace <ada@example.com>', message: 'release 1\n\nwith a body' });
  }, 90_000);

  it('reports the files changed since the previous build when the push does not list them', async () => {
    const next = repo.commit('touch docs and src', { 'docs/readme.md': 'r\n', 'src/a.ts': 'a2\n' });
    const id = await push({ sha: next });
    const b = await finished(id);
    const log = await master.api.buildLog(id);
    expect(b.status, log).toBe('success');
    expect(log).toMatch(/checkout file\/.*\/web @ [0-9a-f]{7} \(refs\/heads\/main\), depth 1/);
    // Computed by the agent's checkout (diff against the previous build's commit), not given by the push.
    expect(log).toContain('3 files changed since');
    expect(b.commitInfo?.changedFiles?.sort()).toEqual(['docs/readme.md', 'src/a.ts', 'version.txt']);
  }, 90_000);

  it('uses repository credentials for the checkout only, unless the job lists that secret for its steps', async () => {
    await master.api.setSecret('coteam', 'GIT_TOKEN', 'git-token-value-1234');
    const job = (name: string, secrets: string) => `name: ${name}
team: coteam
repo: { url: '${repo.url}', credentials: GIT_TOKEN }
${secrets}
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'echo "token=\${GIT_TOKEN:-none}"'
`;
    await master.api.applyJob(job('creds-checkout-only', ''));
    await master.api.applyJob(job('creds-in-env', 'secrets: [GIT_TOKEN]'));
    const only = await finished((await master.api.trigger('creds-checkout-only')).id);
    const inEnv = await finished((await master.api.trigger('creds-in-env')).id);
    const onlyLog = await master.api.buildLog(only.id);
    const inEnvLog = await master.api.buildLog(inEnv.id);
    expect(only.status, onlyLog).toBe('success');
    expect(onlyLog).toContain('token=none');
    expect(inEnvLog).toContain('token=***');
    expect(onlyLog + inEnvLog).not.toContain('git-token-value-1234');
  }, 90_000);
});
