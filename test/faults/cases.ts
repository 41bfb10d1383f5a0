/**
 * The fault matrix: which faults, with which timings. Two profiles share the cases:
 *  - short: heartbeats every 250 ms and a 4 s lease, so a freeze "longer than the lease" takes seconds
 *    (run by `npm test`, test/faults/faults.test.ts);
 *  - full: the master's defaults (5 s heartbeats, 30 s lease) and the freezes of issue 6 (40 s, 60 s)
 *    (`npm run faults`, and `npm run bench -- faults` for bench-results.json).
 */

export interface Profile {
  name: 'short' | 'full';
  heartbeatMs: number;
  leaseTtlMs: number;
  /** SLIPWAY_AGENT_LOST_MS; default the lease TTL. */
  agentLostMs?: number;
  /** Lines the step prints, one every lineDelayS seconds. */
  lines: number;
  lineDelayS: number;
  /** Lines stored before the fault is injected ("mid-step"). */
  linesBefore: number;
  /** Cases run at once (each has its own master and agents). */
  concurrency: number;
  /** Upper bound for one case, from trigger to checks done. */
  caseTimeoutMs: number;
}

export const SHORT: Profile = {
  name: 'short',
  heartbeatMs: 250,
  leaseTtlMs: 4000,
  lines: 80,
  lineDelayS: 0.05,
  linesBefore: 10,
  concurrency: 2,
  caseTimeoutMs: 90_000,
};

export const FULL: Profile = {
  name: 'full',
  heartbeatMs: 5000,
  leaseTtlMs: 30_000,
  lines: 400,
  lineDelayS: 0.05,
  linesBefore: 20,
  concurrency: 3,
  caseTimeoutMs: 240_000,
};

export type Fault =
  /** kill -9 the agent; restart it (same name and token) when `restart`. */
  | { kind: 'agent-kill9'; restart: boolean }
  /** SIGSTOP the agent process for ms, then SIGCONT. */
  | { kind: 'agent-freeze'; ms: number }
  /** kill -9 the master, keep it down for ms, start it again on the same data dir and port. */
  | { kind: 'master-kill9'; downMs: number }
  /** SIGTERM the agent: it drains (finishes the running stage) and exits. */
  | { kind: 'agent-drain' };

export interface FaultCase {
  name: string;
  fault: Fault;
  /** The job's retry: { lost }. */
  retryLost: number;
  expect: { status: 'success' | 'failed'; attempts: number; error?: RegExp };
}

export function casesFor(p: Profile): FaultCase[] {
  const lease = p.leaseTtlMs;
  const freezes = p.name === 'full' ? [40_000, 60_000] : [Math.round(lease * 1.5)];
  return [
    { name: 'agent kill -9, retry', fault: { kind: 'agent-kill9', restart: true }, retryLost: 2, expect: { status: 'success', attempts: 2 } },
    { name: 'agent kill -9, no retry', fault: { kind: 'agent-kill9', restart: false }, retryLost: 0, expect: { status: 'failed', attempts: 1, error: /agent lost/ } },
    // Longer than "in doubt" (two heartbeats), well inside the lease.
    { name: `agent freeze ${sec(lease * 0.4)} < lease, no retry`, fault: { kind: 'agent-freeze', ms: Math.round(lease * 0.4) }, retryLost: 0, expect: { status: 'success', attempts: 1 } },
    ...freezes.map((ms): FaultCase => ({
      name: `agent freeze ${sec(ms)} > lease, retry`,
      fault: { kind: 'agent-freeze', ms },
      retryLost: 2,
      expect: { status: 'success', attempts: 2 },
    })),
    {
      name: `agent freeze ${sec(freezes[0])} > lease, no retry`,
      fault: { kind: 'agent-freeze', ms: freezes[0] },
      retryLost: 0,
      expect: { status: 'failed', attempts: 1, error: /agent lost: '.*' sent no heartbeat for .*, its lease expired; no retries/ },
    },
    { name: 'master kill -9, restart at once', fault: { kind: 'master-kill9', downMs: 0 }, retryLost: 0, expect: { status: 'success', attempts: 1 } },
    { name: `master kill -9, down ${sec(lease * 1.25)} > lease`, fault: { kind: 'master-kill9', downMs: Math.round(lease * 1.25) }, retryLost: 0, expect: { status: 'success', attempts: 1 } },
    { name: 'agent SIGTERM drain', fault: { kind: 'agent-drain' }, retryLost: 0, expect: { status: 'success', attempts: 1 } },
  ];
}

function sec(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}
