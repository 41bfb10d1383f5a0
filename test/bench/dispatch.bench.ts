/**
 * dispatch_p50_ms / dispatch_p99_ms: 20 agents of capacity 1, 500 one-step builds triggered at a steady
 * rate below capacity. Dispatch = the trigger API's response received -> the step's process spawned on the
 * agent (the agent's timestamp, same machine and clock). Builds that had to wait for a free agent are
 * counted apart (queue wait is excluded from the figure, as the issue defines it) and reported.
 */
import { reportBench } from '../helpers/bench';
import { startAgent, startMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { BENCH_MASTER_ENV, percentile, round } from './common';

const AGENTS = 20;
const BUILDS = 500;
const RATE_PER_S = 25;

const master = await startMaster({ env: BENCH_MASTER_ENV });
try {
  await master.api.createTeam('bench');
  await master.api.createEnvironment('ci');
  const token = (await master.api.createAgentToken('ci', 'bench')).token;
  await Promise.all(Array.from({ length: AGENTS }, (_, i) => startAgent(master, { environment: 'ci', name: `bench-${i}`, capacity: 1, token })));
  await master.api.applyJob(`name: dispatch-bench
team: bench
stages:
  - name: run
    environment: ci
    steps:
      - sh: "true"
`);
  const triggered: { id: number; at: number }[] = [];
  const t0 = performance.now();
  for (let i = 0; i < BUILDS; i++) {
    // Steady rate: wait for this build's slot in the schedule, not a fixed gap after the last response.
    const due = t0 + (i * 1000) / RATE_PER_S;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const b = await master.api.trigger('dispatch-bench');
    triggered.push({ id: b.id, at: performance.timeOrigin + performance.now() });
  }
  await waitFor(
    'all builds finished',
    async () => (await master.api.listBuilds('dispatch-bench', { limit: 1000 })).every((b) => b.status === 'success' || b.status === 'failed'),
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const delays: number[] = [];
  let queued = 0;
  for (const t of triggered) {
    const b = await master.api.getBuild(t.id);
    if (b.status !== 'success') throw new Error(`build ${t.id} ${b.status}: ${b.error}`);
    const stage = b.stages[0];
    // A build that waited in the queue for a free agent is not a dispatch measurement.
    if (stage.startedAt! - stage.queuedAt! > 1000) queued++;
    delays.push(stage.steps[0].startedAt! - t.at);
  }
  delays.sort((a, b) => a - b);
  reportBench({
    dispatch_p50_ms: round(percentile(delays, 50), 2),
    dispatch_p99_ms: round(percentile(delays, 99), 2),
    dispatch_max_ms: round(delays[delays.length - 1], 2),
    dispatch_builds: BUILDS,
    dispatch_agents: AGENTS,
    dispatch_rate_per_s: RATE_PER_S,
    dispatch_queued_builds: queued,
  });
} finally {
  await master.stop();
}
