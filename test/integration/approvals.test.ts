/**
 * Approval gates and protected environments against a real master and real agents running shell stages:
 * a stage declaring `approval:` waits (build and stage 'waiting', who may approve shown) until an approver
 * approves; an unauthorised approval is refused (403 naming who may, 404 outside the job's team); a rejection
 * and an expired gate fail the build with a message; a protected environment forces a gate that only its
 * teams (or an admin) can open; cancel closes an open gate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail, PendingApproval } from '../../shared/api';
import type { ApiClient } from '../../shared/client/api-client';
import { SlipwayError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { spawnCli } from '../helpers/process';
import { waitFor } from '../helpers/wait';

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const leads = `leads-${suffix}`;
const ops = `ops-${suffix}`;
const prod = `prod-${suffix}`;
const users: Record<string, ApiClient> = {};

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof SlipwayError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const settled = (id: number) =>
  waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 60_000 });

const waitingAt = (id: number, stage: string) =>
  waitFor(`build ${id} waiting at ${stage}`, async () => {
    const b = await master.api.getBuild(id);
    return b.status === 'waiting' && b.stages.find((s) => s.name === stage)?.status === 'waiting' ? b : undefined;
  }, { timeoutMs: 60_000 });

function gatedJob(name: string, approval: string, environment = 'ci'): string {
  return `name: ${name}
team: ${shop}
stages:
  - name: build
    environment: ci
    steps:
      - sh: echo built
  - name: release
    environment: ${environment}
${approval ? `    approval: ${approval}\n` : ''}    steps:
      - sh: echo released
`;
}

beforeAll(async () => {
  master = await startMaster();
  for (const t of [shop, leads, ops, `other-${suffix}`]) await master.api.createTeam(t);
  for (const [user, team, role] of [
    ['dev', shop, 'developer'],
    ['lead', leads, 'developer'],
    ['leadviewer', leads, 'viewer'],
    ['op', ops, 'developer'],
    ['outsider', `other-${suffix}`, 'maintainer'],
  ] as const) {
    await master.api.createUser({ username: `${user}-${suffix}`, password: 'a-long-password-1' });
    await master.api.setMember(team, `${user}-${suffix}`, role);
    users[user] = await master.login(`${user}-${suffix}`, 'a-long-password-1');
  }
  // The lead viewer also develops in the job's team: it sees the build, but its role in leads is too low.
  await master.api.setMember(shop, `leadviewer-${suffix}`, 'developer');
  await master.api.createEnvironment(prod, { protected: true, teams: [ops] });
  await startAgent(master, { environment: 'ci', capacity: 2 });
  await startAgent(master, { environment: prod });
  await master.api.applyJob(gatedJob(`gated-${suffix}`, `{ teams: [${leads}], timeout: 1h }`));
  await master.api.applyJob(gatedJob(`expiring-${suffix}`, `{ teams: [${leads}], roles: [maintainer], timeout: 2s }`));
  await master.api.applyJob(gatedJob(`protected-${suffix}`, '', prod));
}, 120_000);

afterAll(async () => {
  await master?.stop();
});

describe('approval gate', () => {
  it('pauses before the stage, refuses unauthorised approvers, and runs the stage once an approver approves', async () => {
    const { id } = await users.dev.trigger(`gated-${suffix}`);
    const waiting = await waitingAt(id, 'release');
    expect(waiting.stages.find((s) => s.name === 'build')?.status).toBe('success');
    const release = waiting.stages.find((s) => s.name === 'release')!;
    expect(release.waiting).toContain(`a member of ${leads} (developer or higher)`);
    expect(waiting.approvals).toMatchObject([{ stage: 'release', status: 'waiting', decidedBy: null }]);

    // The developer who triggered it is not an approver: 403 saying who is.
    const refused = await codeOf(users.dev.approveStage(id, 'release'));
    expect(refused).toMatch(/^forbidden: you may not approve stage 'release' of build \d+/);
    expect(refused).toContain(`a member of ${leads} (developer or higher), or an instance admin`);
    // A member of the approver team with a role below the gate's.
    expect(await codeOf(users.leadviewer.approveStage(id, 'release'))).toMatch(/^forbidden: you may not approve/);
    // Outside the job's team and not an approver: the build does not exist for them.
    expect(await codeOf(users.outsider.approveStage(id, 'release'))).toBe(`not_found: build ${id} not found`);
    expect(await codeOf(users.dev.rejectStage(id, 'release'))).toMatch(/^forbidden: you may not reject/);
    // The fork approval route does not open a stage's gate.
    expect(await codeOf(users.dev.approveBuild(id))).toMatch(/^conflict: build \d+ waits for the approval of stage 'release'/);
    expect((await master.api.getBuild(id)).status).toBe('waiting');

    // The lead is not in the job's team, yet sees what it is asked to approve (the detail only), and approves.
    expect((await users.lead.getBuild(id)).stages.find((s) => s.name === 'release')?.status).toBe('waiting');
    expect(await codeOf(users.lead.buildLog(id))).toBe(`not_found: build ${id} not found`);
    const approved = await users.lead.approveStage(id, 'release', 'ship it');
    expect(['queued', 'running', 'success']).toContain(approved.status);
    const done = await settled(id);
    expect(done.status).toBe('success');
    expect(done.stages.find((s) => s.name === 'release')?.status).toBe('success');
    expect(done.approvals).toMatchObject([{ stage: 'release', status: 'approved', decidedBy: `lead-${suffix}`, comment: 'ship it' }]);
    expect(await codeOf(users.lead.approveStage(id, 'release'))).toBe(`not_found: build ${id} not found`);
    expect(await codeOf(users.lead.getBuild(id))).toBe(`not_found: build ${id} not found`);
    expect(await codeOf(users.dev.approveStage(id, 'release'))).toMatch(/^conflict: stage 'release' of build \d+ .* is not waiting for approval \(build status success\)/);
  }, 90_000);

  it('a rejection fails the build with who rejected and why', async () => {
    const { id } = await users.dev.trigger(`gated-${suffix}`);
    await waitingAt(id, 'release');
    await users.lead.rejectStage(id, 'release', 'not today');
    const b = await settled(id);
    expect(b.status).toBe('failed');
    expect(b.error).toBe(`stage 'release' rejected by lead-${suffix}: not today`);
    expect(b.stages.find((s) => s.name === 'release')?.status).toBe('failed');
    expect(b.endReason).toBe('gate_rejected');
    expect(b.stages.find((s) => s.name === 'release')?.endReason).toBe('gate_rejected');
    expect(b.approvals).toMatchObject([{ status: 'rejected', decidedBy: `lead-${suffix}` }]);
  }, 90_000);

  it('an approval nobody gives expires after its timeout and fails the build', async () => {
    const { id } = await users.dev.trigger(`expiring-${suffix}`);
    const w = await waitingAt(id, 'release');
    expect(w.stages.find((s) => s.name === 'release')?.waiting).toContain(`a member of ${leads} (maintainer or higher)`);
    const b = await settled(id);
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/^stage 'release': approval expired after \d+s; nobody approved it/);
    expect(b.endReason).toBe('gate_expired');
    expect(b.approvals).toMatchObject([{ status: 'expired', decidedBy: null }]);
  }, 90_000);

  it('an open gate survives a master restart (kill -9) and is approved after it', async () => {
    const { id } = await users.dev.trigger(`gated-${suffix}`);
    await waitingAt(id, 'release');
    await master.restart({ signal: 'SIGKILL' });
    expect((await master.api.getBuild(id)).stages.find((s) => s.name === 'release')?.status).toBe('waiting');
    await users.lead.approveStage(id, 'release');
    expect((await settled(id)).status).toBe('success');
  }, 90_000);

  it('a newer build of a cancelPrevious job cancels an older one waiting at the gate and closes its gate', async () => {
    const job = `superseded-${suffix}`;
    await master.api.applyJob(gatedJob(job, `{ teams: [${leads}], timeout: 1h }`).replace(/^team: /m, 'cancelPrevious: true\nteam: '));
    const older = await users.dev.trigger(job);
    await waitingAt(older.id, 'release');
    expect((await users.lead.listApprovals()).filter((a) => a.buildId === older.id)).toMatchObject([{ stage: 'release', mayDecide: true }]);

    // The cancel is part of the newer build's creation (one transaction): no wait.
    const newer = await users.dev.trigger(job);
    const b = await master.api.getBuild(older.id);
    expect(b).toMatchObject({ status: 'cancelled', endReason: 'cancelled', error: `cancelled by newer build #${newer.number}` });
    expect(b.stages.find((s) => s.name === 'release')?.status).toBe('cancelled');
    expect(b.approvals).toMatchObject([{ stage: 'release', status: 'cancelled' }]);
    expect((await users.lead.listApprovals()).filter((a) => a.buildId === older.id)).toEqual([]);
    expect(await codeOf(users.lead.approveStage(older.id, 'release'))).toMatch(/^not_found|^conflict/);

    // The newer build is not touched: it reaches the gate and runs once approved.
    await waitingAt(newer.id, 'release');
    await users.lead.approveStage(newer.id, 'release');
    expect((await settled(newer.id)).status).toBe('success');
  }, 90_000);

  it('cancelling a waiting build closes its gate', async () => {
    const { id } = await users.dev.trigger(`gated-${suffix}`);
    await waitingAt(id, 'release');
    await users.dev.cancelBuild(id);
    const b = await settled(id);
    expect(b.status).toBe('cancelled');
    expect(b.approvals).toMatchObject([{ status: 'cancelled' }]);
    expect(await codeOf(users.lead.approveStage(id, 'release'))).toMatch(/^not_found|^conflict/);
  }, 90_000);
});

describe('protected environment', () => {
  it('forces a gate that only its teams (or an admin) may open, on triggers and re-runs alike', async () => {
    const { id } = await users.dev.trigger(`protected-${suffix}`);
    const b = await waitingAt(id, 'release');
    expect(b.stages.find((s) => s.name === 'release')?.waiting).toContain(`a member of ${ops} (developer or higher), as environment '${prod}' is protected`);
    // An approver of other gates is not one of the environment's.
    expect(await codeOf(users.lead.approveStage(id, 'release'))).toBe(`not_found: build ${id} not found`);
    // GET /approvals: the job's team sees the open gate (not theirs to decide), the environment's approvers see it
    // to decide, and nobody else learns of it.
    const gateOfBuild = (list: PendingApproval[]) => list.filter((a) => a.buildId === id);
    expect(gateOfBuild(await users.dev.listApprovals())).toMatchObject([{ stage: 'release', environment: prod, job: `protected-${suffix}`, team: shop, status: 'waiting', mayDecide: false }]);
    expect(gateOfBuild(await users.op.listApprovals())).toMatchObject([{ stage: 'release', mayDecide: true }]);
    expect(gateOfBuild(await master.api.listApprovals())).toMatchObject([{ stage: 'release', mayDecide: true }]);
    expect(gateOfBuild(await users.lead.listApprovals())).toEqual([]);
    expect(gateOfBuild(await users.outsider.listApprovals())).toEqual([]);
    const cli = await runCli(['approvals'], { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: users.op.token!, SLIPWAY_CONFIG: '/nonexistent/slipway-cli.json' } });
    expect(cli.stdout).toMatch(new RegExp(`^${id}\\s+protected-${suffix}#\\d+\\s+release\\s+${prod}\\s+yes\\s`, 'm'));
    expect(await codeOf(users.dev.approveStage(id, 'release'))).toMatch(/^forbidden: you may not approve stage 'release'.*as environment/);
    await users.op.approveStage(id, 'release');
    expect(gateOfBuild(await users.op.listApprovals())).toEqual([]);
    expect((await settled(id)).status).toBe('success');

    // A re-run from the deploying stage waits again.
    const rerun = await users.dev.rerunBuild(id, 'release');
    await waitingAt(rerun.id, 'release');
    await master.api.approveStage(rerun.id, 'release');
    const done: BuildDetail = await settled(rerun.id);
    expect(done.status).toBe('success');
    expect(done.approvals).toMatchObject([{ status: 'approved', decidedBy: 'admin' }]);
  }, 90_000);

  it('protection and approver teams change through the update route (admin only)', async () => {
    expect(await codeOf(users.dev.updateEnvironment(prod, { teams: [shop] }))).toMatch(/^forbidden/);
    expect(await codeOf(master.api.updateEnvironment(prod, { teams: ['no-such-team'] }))).toBe("invalid_request: teams: no team named 'no-such-team'");
    const env = await master.api.updateEnvironment(prod, { teams: [ops, leads] });
    expect(env).toMatchObject({ name: prod, protected: true, teams: [leads, ops].sort() });
    // Now the lead may approve prod stages.
    const { id } = await users.dev.trigger(`protected-${suffix}`);
    await waitingAt(id, 'release');
    await users.lead.approveStage(id, 'release');
    expect((await settled(id)).status).toBe('success');
    // Unprotected: no gate at all.
    await master.api.updateEnvironment(prod, { protected: false });
    const free = await users.dev.trigger(`protected-${suffix}`);
    const b = await settled(free.id);
    expect(b.status).toBe('success');
    expect(b.approvals).toEqual([]);
    await master.api.updateEnvironment(prod, { protected: true, teams: [ops] });
  }, 90_000);
});

describe('CLI', () => {
  const as = (api: ApiClient) => ({ SLIPWAY_URL: master.url, SLIPWAY_TOKEN: api.token!, SLIPWAY_CONFIG: '/nonexistent/slipway-cli.json' });

  it('build shows who must approve; approve and reject find the waiting stage; env create/update/list show approvers', async () => {
    const { id } = await users.dev.trigger(`gated-${suffix}`);
    await waitingAt(id, 'release');
    const shown = await runCli(['build', String(id)], { env: as(users.dev) });
    expect(shown.stdout).toMatch(new RegExp(`build ${id}: gated-${suffix}#\\d+ waiting`));
    expect(shown.stdout).toContain(`stage release [ci] waiting`);
    expect(shown.stdout).toContain(`waiting for approval by a member of ${leads} (developer or higher), or an instance admin; expires`);
    const refused = await runCli(['approve', String(id)], { env: as(users.dev) });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(new RegExp(`^error: you may not approve stage 'release' of build ${id} .*it needs a member of ${leads}`));
    const ok = await runCli(['approve', String(id), '--comment', 'go'], { env: as(users.lead) });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^build ${id} \\(gated-${suffix}#\\d+\\) (queued|running|success)`));
    await settled(id);
    const after = await runCli(['build', String(id)], { env: as(users.dev) });
    expect(after.stdout).toMatch(new RegExp(`stage release \\[ci\\] approved by lead-${suffix} at .*: go`));

    const second = await users.dev.trigger(`gated-${suffix}`);
    await waitingAt(second.id, 'release');
    const rejected = await runCli(['reject', String(second.id), '--stage', 'release', '--comment', 'broken'], { env: as(users.lead) });
    expect(rejected.code, rejected.stderr).toBe(0);
    expect((await settled(second.id)).error).toBe(`stage 'release' rejected by lead-${suffix}: broken`);
    const rejectedShown = await runCli(['build', String(second.id)], { env: as(users.dev) });
    expect(rejectedShown.stdout).toMatch(new RegExp(`build ${second.id}: gated-${suffix}#\\d+ failed \\(gate_rejected\\)`));
    expect(rejectedShown.stdout).toContain('stage release [ci] failed (gate_rejected) on -');
    const nothing = await runCli(['reject', String(second.id)], { env: as(users.dev) });
    expect(nothing.stderr.trim()).toBe(`error: build ${second.id} has no stage waiting for approval`);

    // Following a build says when a stage waits for approval, and how to approve it.
    const third = await users.dev.trigger(`gated-${suffix}`);
    await waitingAt(third.id, 'release');
    const following = spawnCli(['logs', String(third.id), '-f'], as(users.dev));
    let followedOut = '';
    let followedErr = '';
    following.process.stdout!.on('data', (d: Buffer) => (followedOut += d.toString('utf8')));
    following.process.stderr!.on('data', (d: Buffer) => (followedErr += d.toString('utf8')));
    // Approve only once the follower said the stage waits (it is subscribed and saw the gate), not after a
    // fixed time: a slow CLI start would otherwise find the gate already open and never say so.
    const told = `==> stage release waits for approval: slipway approve ${third.id} --stage release (or reject)\n`;
    await waitFor('the followed build to say the stage waits for approval', () => followedErr.includes(told), { timeoutMs: 60_000 });
    await users.lead.approveStage(third.id, 'release');
    expect(await following.exited, following.output()).toBe(0);
    expect(followedErr.split(told)).toHaveLength(2);
    expect(followedOut).toContain('released');

    const made = await runCli(['env', 'create', `vault-${suffix}`, '--protected', '--teams', `${ops},${leads}`], { env: as(master.api) });
    expect(made.stdout).toBe(`environment vault-${suffix} created (protected; approvers: ${[leads, ops].sort().join(', ')})\n`);
    const changed = await runCli(['env', 'update', `vault-${suffix}`, '--teams', ops], { env: as(master.api) });
    expect(changed.stdout).toBe(`environment vault-${suffix}: protected; approvers: ${ops}\n`);
    const list = await runCli(['env', 'list'], { env: as(master.api) });
    expect(list.stdout).toMatch(new RegExp(`vault-${suffix}\\s+yes\\s+${ops}`));
  }, 120_000);
});
