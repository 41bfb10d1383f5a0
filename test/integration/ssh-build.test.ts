/**
 * A real master and agent build jobs whose repository is served by a real sshd on loopback, with the job's
 * SSH key from a team secret: with the server's line in repo.knownHosts the agent checks out the pushed
 * commit and a manual trigger resolves the branch head on the master (ls-remote over SSH); without it, or
 * with another key for that host, the checkout fails naming the host and the repo.knownHosts fix, no later
 * step runs, and the manual trigger is refused with the same explanation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail, WebhookResult } from '../../shared/api';
import { SlipwayError } from '../../shared/errors';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { SshTestRepo, sshdAvailable, startSshd, type TestSshd } from './ssh-server';

const SECRET = 'ssh-hook-secret-5';
let master: TestMaster;
let sshd: TestSshd;
let root: string;
let repo: SshTestRepo;

const jobYaml = (name: string, knownHosts?: string) => `name: ${name}
team: sshteam
repo:
  url: '${sshd.url(repo.dir)}'
  credentials: GIT_KEY
${knownHosts ? `  knownHosts: '${knownHosts}'\n` : ''}triggers: { push: true }
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'echo "built=$(git log -1 --format=%H)"; cat version.txt'
`;

async function finished(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout', 'error'].includes(b.status) ? (b as BuildDetail) : undefined;
  }, { timeoutMs: 60_000 });
}

const unknownHost = () => new RegExp(`SSH host key of 127\\.0\\.0\\.1 \\(port ${sshd.port}\\) is not known: add .*repo\\.knownHosts.*ssh-keyscan -p ${sshd.port} 127\\.0\\.0\\.1`);
const changedHost = () => new RegExp(`SSH host key of 127\\.0\\.0\\.1 \\(port ${sshd.port}\\) does not match repo\\.knownHosts`);

describe.skipIf(!sshdAvailable)('builds of an SSH repository with strict host keys', () => {
  beforeAll(async () => {
    sshd = await startSshd();
    root = mkdtempSync(join(tmpdir(), 'slipway-ssh-build-'));
    repo = new SshTestRepo(join(root, 'web'));
    repo.commit('first', { 'version.txt': 'v1\n' });
    master = await startMaster();
    await master.api.createTeam('sshteam');
    await master.api.setSecret('sshteam', 'WEBHOOK_SECRET', SECRET);
    await master.api.setSecret('sshteam', 'GIT_KEY', sshd.userKey);
    await startAgent(master, { environment: 'ci' });
    await master.api.applyJob(jobYaml('ssh-known', sshd.hostLine));
    await master.api.applyJob(jobYaml('ssh-unknown'));
    await master.api.applyJob(jobYaml('ssh-wrong', sshd.wrongHostLine));
  }, 60_000);
  afterAll(async () => {
    await master?.stop();
    await sshd?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('checks out a pushed commit only for the job that knows the host key', async () => {
    const sha = repo.commit('second', { 'version.txt': 'v2\n' });
    const res = await fetch(`${master.url}/api/v1/hooks/generic`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ repository: sshd.url(repo.dir), ref: 'refs/heads/main', sha }),
    });
    expect(res.status).toBe(202);
    const result = (await res.json()) as WebhookResult;
    expect(result.queued, JSON.stringify(result)).toHaveLength(3);
    const byJob = new Map<string, BuildDetail>();
    for (const q of result.queued) {
      const b = await finished(q.buildId);
      byJob.set(b.job, b);
    }

    const known = byJob.get('ssh-known')!;
    const knownLog = await master.api.buildLog(known.id);
    expect(known.status, knownLog).toBe('success');
    expect(knownLog).toContain(`built=${sha}`);
    expect(knownLog).toContain('v2');
    expect(knownLog).not.toContain('PRIVATE KEY');

    for (const [job, reason] of [
      ['ssh-unknown', unknownHost()],
      ['ssh-wrong', changedHost()],
    ] as const) {
      const b = byJob.get(job)!;
      const log = await master.api.buildLog(b.id);
      expect(b.status, log).toBe('failed');
      const checkout = b.stages[0].steps[0];
      expect(checkout.kind).toBe('checkout');
      expect(checkout.error).toMatch(reason);
      // Nothing was checked out, so the step that reads the files never ran.
      expect(log).not.toContain('built=');
      expect(b.stages[0].steps[1].status).not.toBe('success');
    }
  }, 120_000);

  it('resolves the branch head on the master for a manual trigger only with the host key', async () => {
    const sha = repo.commit('third', { 'version.txt': 'v3\n' });
    const build = await master.api.trigger('ssh-known');
    expect(build.commit).toBe(sha);
    expect((await finished(build.id)).status).toBe('success');

    for (const [job, reason] of [
      ['ssh-unknown', unknownHost()],
      ['ssh-wrong', changedHost()],
    ] as const) {
      const err = await master.api.trigger(job).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SlipwayError);
      expect((err as SlipwayError).code).toBe('unavailable');
      expect((err as SlipwayError).message).toMatch(reason);
    }
  }, 120_000);
});
