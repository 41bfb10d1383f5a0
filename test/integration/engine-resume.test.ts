/**
 * No log line lost or stored twice: a build keeps running through a cut agent connection (a real TCP
 * proxy between agent and master, cut mid-build) and through a master restart mid-build; in both cases
 * the stored log equals, line for line, what the step printed.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const LINES = 300;
const expected = Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join('');
const printer = `for i in $(seq 1 ${LINES}); do echo "line $i"; sleep 0.01; done`;

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const team = `resume-${suffix}`;

beforeAll(async () => {
  master = await startMaster({ env: { SLIPWAY_HEARTBEAT_MS: '300', SLIPWAY_LEASE_TTL_MS: '10000', SLIPWAY_AGENT_LOST_MS: '10000' } });
  await master.api.createTeam(team);
});
afterAll(async () => {
  await master?.stop();
});

interface Proxy {
  url: string;
  /** Destroys every open connection (both sides); new connections are still accepted. */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP proxy from a free local port to the master. */
async function startProxy(targetPort: number): Promise<Proxy> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function jobYaml(name: string, env: string): string {
  return `name: ${name}
team: ${team}
stages:
  - name: print
    environment: ${env}
    steps:
      - sh: ${JSON.stringify(printer)}
`;
}

async function logOf(id: number): Promise<string> {
  return String(await master.api.buildLog(id));
}

async function waitDone(id: number) {
  return waitFor(
    `build ${id} finished`,
    async () => {
      const b = await master.api.getBuild(id);
      return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
    },
    { timeoutMs: 45_000 },
  );
}

describe('resume without losing or repeating a line', () => {
  it('survives a cut agent connection (TCP proxy) mid-build', async () => {
    const proxy = await startProxy(master.port);
    const agent = await startAgent({ ...master, url: proxy.url } as TestMaster, { environment: 'cut' });
    try {
      await master.api.applyJob(jobYaml(`cut-${suffix}`, 'cut'));
      const b = await master.api.trigger(`cut-${suffix}`);
      await waitFor('line 50 stored', async () => (await logOf(b.id)).includes('line 50\n'));
      proxy.cut();
      await waitFor('line 150 stored after reconnect', async () => (await logOf(b.id)).includes('line 150\n'));
      proxy.cut();
      const done = await waitDone(b.id);
      expect(done.status).toBe('success');
      expect(await logOf(b.id)).toBe(expected);
      expect(done.stages.map((s) => s.attempt)).toEqual([1]);
      // The cuts were real: the agent said hello again after each one.
      expect(agent.output().match(/connected to/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    } finally {
      await agent.stop();
      await proxy.close();
    }
  });

  it('survives a master restart mid-build', async () => {
    const agent = await startAgent(master, { environment: 'restart' });
    await master.api.applyJob(jobYaml(`restart-${suffix}`, 'restart'));
    const b = await master.api.trigger(`restart-${suffix}`);
    await waitFor('line 50 stored', async () => (await logOf(b.id)).includes('line 50\n'));
    await master.restart();
    const done = await waitDone(b.id);
    expect(done.status).toBe('success');
    expect(await logOf(b.id)).toBe(expected);
    expect(done.stages.map((s) => [s.attempt, s.agent])).toEqual([[1, agent.name]]);
  });
});
