/**
 * master_rss_mb_500_agents: the master's resident memory with 500 connected idle agents, simulated by four
 * load-generator processes speaking the real protocol (agent-swarm.ts). Also reports the RSS of the same
 * master before the agents connected (V8 may shrink its heap in between, so the difference is no
 * per-agent figure).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { reportBench } from '../helpers/bench';
import { startMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { BENCH_MASTER_ENV, round, rssMb } from './common';

const AGENTS = 500;
const GENERATORS = 4;

const master = await startMaster({ env: { ...BENCH_MASTER_ENV, SLIPWAY_HEARTBEAT_MS: '5000' } });
const generators: ReturnType<typeof spawn>[] = [];
try {
  await master.api.createEnvironment('idle');
  const token = (await master.api.createAgentToken('idle', 'swarm')).token;
  const pid = master.process.pid!;
  await new Promise((r) => setTimeout(r, 3000));
  const before = rssMb(pid);

  const per = AGENTS / GENERATORS;
  await Promise.all(
    Array.from({ length: GENERATORS }, (_, g) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/agent-swarm.ts', master.url, token, 'idle', String(per), `swarm${g}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      generators.push(child);
      return new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', () => resolve());
        child.once('exit', (code) => reject(new Error(`load generator ${g} exited ${code}`)));
      });
    }),
  );
  await waitFor('500 agents connected', async () => (await master.api.listAgents()).filter((a) => a.state === 'connected').length === AGENTS, {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  // Let a few heartbeat rounds pass so the figure is the steady state, not the handshake peak.
  await new Promise((r) => setTimeout(r, 12_000));
  const after = rssMb(pid);
  reportBench({
    master_rss_mb_500_agents: round(after),
    master_rss_mb_0_agents: round(before),
  });
} finally {
  for (const g of generators) g.kill();
  await master.stop();
}
