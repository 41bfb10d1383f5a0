/**
 * Regression (issue 6): with `retry: { lost: 2 }`, an agent frozen (SIGSTOP) for longer than its lease
 * failed the build with "agent is at capacity (1)": the lease lapsed before the agent was declared lost,
 * the retry was assigned to the frozen, still "connected" agent, and on waking it refused that
 * assignment as a step error. Here the agent-lost limit is longer than the lease (a valid configuration
 * that makes the old race certain); the build must still end retried and successful.
 */
import { describe, expect, it } from 'vitest';
import { SHORT, type FaultCase, type Profile } from '../faults/cases';
import { runCase } from '../faults/run-case';

const profile: Profile = { ...SHORT, heartbeatMs: 500, leaseTtlMs: 3000, agentLostMs: 8000, concurrency: 1 };
const freeze: FaultCase = {
  name: 'agent freeze 5s > lease 3s, retry, agent-lost limit 8s',
  fault: { kind: 'agent-freeze', ms: 5000 },
  retryLost: 2,
  expect: { status: 'success', attempts: 2 },
};

describe('recovery after an agent freeze', () => {
  it('retries the stage elsewhere in time and succeeds, never failing with "at capacity"', async () => {
    const r = await runCase(profile, freeze);
    expect(r.error ?? '').not.toMatch(/capacity/);
    expect(r.problems).toEqual([]);
    expect(r.perAttempt.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'lost'],
      [2, 'success'],
    ]);
  }, 90_000);
});
