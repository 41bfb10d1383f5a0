/**
 * Runs one fault case against real processes: a master and an agent started through the CLI
 * (test/helpers/cluster.ts), a job whose step prints numbered lines and appends each one to a side file
 * per stage run ($SLIPWAY_STAGE_RUN_ID) before printing it, the fault injected once the master stored
 * `linesBefore` lines, then a wait (on states, never a fixed sleep) for the build's final state.
 *
 * The checks, per attempt (stage run): what the step printed (its side file) against what the master
 * stored (GET /builds/:id/log?stageRunId=), line for line.
 *  - lost:       printed but not stored. For an attempt that ended 'lost' (its agent killed or frozen past
 *                its lease) the lines after the last stored one died with the agent or were printed after
 *                the master gave the attempt up: those are counted as `cut`, not lost; a gap before the
 *                last stored line is lost.
 *  - duplicated: stored more than once.
 *  - order:      the stored lines must be exactly the first lines printed, in order (no stray line).
 *  - stuck:      builds of the job, or stage runs of the build, still queued, pending or running.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildDetail } from '../../shared/api';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import type { FaultCase, Profile } from './cases';

export interface AttemptCheck {
  attempt: number;
  status: string;
  printed: number;
  stored: number;
  lost: number;
  duplicated: number;
  cut: number;
  /** Stored lines that are not the printed lines' prefix in order (stray, reordered). */
  outOfOrder: number;
}

export interface FaultResult {
  case: string;
  profile: string;
  finalState: string;
  expectedState: string;
  attempts: number;
  linesLost: number;
  linesDuplicated: number;
  linesCut: number;
  stuck: number;
  /** From the fault's injection to the build's final state. */
  timeToFinalMs: number;
  error: string | null;
  perAttempt: AttemptCheck[];
  passed: boolean;
  problems: string[];
}

const FINAL = ['success', 'failed', 'cancelled', 'timeout'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCase(p: Profile, c: FaultCase): Promise<FaultResult> {
  const slug = `${c.fault.kind}-${randomBytes(3).toString('hex')}`;
  const side = mkdtempSync(join(tmpdir(), 'slipway-fault-'));
  // The step runs as the job's build user when the agent is root: it must be able to write here.
  chmodSync(side, 0o777);
  let master: TestMaster | undefined;
  const agents: TestAgent[] = [];
  try {
    master = await startMaster({
      env: {
        SLIPWAY_HEARTBEAT_MS: String(p.heartbeatMs),
        SLIPWAY_LEASE_TTL_MS: String(p.leaseTtlMs),
        SLIPWAY_AGENT_LOST_MS: String(p.agentLostMs ?? p.leaseTtlMs),
        SLIPWAY_CANCEL_GRACE_MS: '1000',
      },
    });
    const m = master;
    const team = `faults-${slug}`;
    await m.api.createTeam(team);
    const env = `f-${slug}`;
    let agent = await startAgent(m, { environment: env });
    agents.push(agent);
    const job = `fault-${slug}`;
    const script = [
      `side="${side}/$SLIPWAY_STAGE_RUN_ID"`,
      'echo $$ > "$side.pid"',
      'i=1',
      `while [ $i -le ${p.lines} ]; do echo "line $i" >> "$side.txt"; echo "line $i"; i=$((i+1)); sleep ${p.lineDelayS}; done`,
    ].join('; ');
    await m.api.applyJob(`name: ${job}
team: ${team}
retry: { lost: ${c.retryLost} }
stages:
  - name: print
    environment: ${env}
    steps:
      - sh: ${JSON.stringify(script)}
`);
    const b = await m.api.trigger(job);
    const deadline = Date.now() + p.caseTimeoutMs;
    const left = () => Math.max(1000, deadline - Date.now());
    await waitFor(`${p.linesBefore} lines stored`, async () => lineCount(String(await m.api.buildLog(b.id))) >= p.linesBefore, { timeoutMs: left() });

    const t0 = Date.now();
    let drained: Promise<void> | undefined;
    switch (c.fault.kind) {
      case 'agent-kill9':
        await agent.kill('SIGKILL');
        if (c.fault.restart) {
          agent = await startAgent(m, { environment: env, name: agent.name, token: agent.token });
          agents.push(agent);
        }
        break;
      case 'agent-freeze': {
        const pid = agent.process.pid!;
        process.kill(pid, 'SIGSTOP');
        try {
          await sleep(c.fault.ms);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        break;
      }
      case 'master-kill9':
        await m.restart({ signal: 'SIGKILL', downMs: c.fault.downMs });
        break;
      case 'agent-drain':
        drained = agent.stop();
        break;
    }
    const done = await waitFor(
      `build ${b.id} in a final state`,
      async () => {
        const d = await m.api.getBuild(b.id);
        return FINAL.includes(d.status) ? d : undefined;
      },
      { timeoutMs: left(), intervalMs: 100 },
    );
    // The master's finish time (same host clock): the wait above may only look after a freeze ends.
    const timeToFinalMs = (done.finishedAt ?? Date.now()) - t0;
    await drained;
    return await check(m, c, p, job, done, side, timeToFinalMs);
  } catch (err) {
    return failed(c, p, `${(err as Error).message}\n--- master output (tail) ---\n${master?.output().slice(-3000) ?? ''}\n--- agent output (tail) ---\n${agents.at(-1)?.output().slice(-3000) ?? ''}`);
  } finally {
    killSteps(side);
    for (const a of agents) if (a.process.exitCode === null && a.process.signalCode === null) process.kill(a.process.pid!, 'SIGCONT');
    await master?.stop().catch(() => {});
    rmSync(side, { recursive: true, force: true });
  }
}

async function check(m: TestMaster, c: FaultCase, p: Profile, job: string, done: BuildDetail, side: string, timeToFinalMs: number): Promise<FaultResult> {
  const problems: string[] = [];
  const perAttempt: AttemptCheck[] = [];
  for (const sr of done.stages) {
    const stored = lines(String(await m.api.buildLog(done.id, sr.id)));
    const file = join(side, `${sr.id}.txt`);
    const printed = existsSync(file) ? lines(readFileSync(file, 'utf8')) : [];
    perAttempt.push({ attempt: sr.attempt, status: sr.status, ...compare(printed, stored, sr.status === 'lost') });
  }
  const builds = await m.api.listBuilds(job, { limit: 100 });
  const stuckBuilds = builds.filter((x) => !FINAL.includes(x.status)).length;
  const stuckStages = done.stages.filter((s) => ['queued', 'pending', 'running'].includes(s.status)).length;
  const r: FaultResult = {
    case: c.name,
    profile: p.name,
    finalState: done.status,
    expectedState: c.expect.status,
    attempts: done.stages.length,
    linesLost: sum(perAttempt, 'lost'),
    linesDuplicated: sum(perAttempt, 'duplicated'),
    linesCut: sum(perAttempt, 'cut'),
    stuck: stuckBuilds + stuckStages,
    timeToFinalMs,
    error: done.error,
    perAttempt,
    passed: false,
    problems,
  };
  if (r.finalState !== c.expect.status) problems.push(`final state ${r.finalState} (${done.error ?? 'no error'}), expected ${c.expect.status}`);
  if (r.attempts !== c.expect.attempts) problems.push(`${r.attempts} attempts, expected ${c.expect.attempts}`);
  if (c.expect.error && !c.expect.error.test(done.error ?? '')) problems.push(`error ${JSON.stringify(done.error)} does not match ${c.expect.error}`);
  if (r.linesLost) problems.push(`${r.linesLost} lines lost`);
  if (r.linesDuplicated) problems.push(`${r.linesDuplicated} lines duplicated`);
  const disorder = sum(perAttempt, 'outOfOrder');
  if (disorder) problems.push(`${disorder} stored lines out of order or never printed`);
  if (r.stuck) problems.push(`${r.stuck} builds or stages left queued or running`);
  const last = perAttempt.at(-1);
  if (r.finalState === 'success' && last && (last.printed !== p.lines || last.stored !== p.lines)) {
    problems.push(`the successful attempt printed ${last.printed} and stored ${last.stored} of ${p.lines} lines`);
  }
  r.passed = problems.length === 0;
  return r;
}

/** Line-for-line comparison of one attempt; `cutAllowed` for an attempt lost with its agent. */
export function compare(printed: string[], stored: string[], cutAllowed: boolean): Omit<AttemptCheck, 'attempt' | 'status'> {
  const storedSet = new Set(stored);
  const duplicated = stored.length - storedSet.size;
  const position = new Map(printed.map((l, i) => [l, i]));
  let lastStored = -1;
  for (const l of stored) lastStored = Math.max(lastStored, position.get(l) ?? -1);
  let lost = 0;
  let cut = 0;
  printed.forEach((l, i) => {
    if (storedSet.has(l)) return;
    if (cutAllowed && i > lastStored) cut++;
    else lost++;
  });
  const unique = [...storedSet];
  let outOfOrder = 0;
  unique.forEach((l, i) => {
    if (printed[i] !== l) outOfOrder++;
  });
  return { printed: printed.length, stored: stored.length, lost, duplicated, cut, outOfOrder };
}

function failed(c: FaultCase, p: Profile, problem: string): FaultResult {
  return {
    case: c.name,
    profile: p.name,
    finalState: 'none',
    expectedState: c.expect.status,
    attempts: 0,
    linesLost: 0,
    linesDuplicated: 0,
    linesCut: 0,
    stuck: 1,
    timeToFinalMs: 0,
    error: null,
    perAttempt: [],
    passed: false,
    problems: [problem],
  };
}

/** A killed agent cannot clean up its steps: every step process group still alive goes here. */
function killSteps(side: string): void {
  if (!existsSync(side)) return;
  for (const f of readdirSync(side).filter((n) => n.endsWith('.pid'))) {
    const pid = Number(readFileSync(join(side, f), 'utf8').trim());
    if (!(pid > 1)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const lineCount = (text: string) => lines(text).length;
const sum = (xs: AttemptCheck[], k: 'lost' | 'duplicated' | 'cut' | 'outOfOrder') => xs.reduce((n, x) => n + x[k], 0);
