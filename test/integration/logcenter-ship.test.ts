/**
 * The container-log shipper end to end, with real containers on the real Docker engine, real agent and master
 * processes and the real log center store: every line a container writes (as Docker itself keeps it) is stored
 * exactly once across an agent kill, a container restart and a master kill; a stack trace stays one entry; with
 * the master away the spool grows and everything arrives when it is back; a spool over its bound drops the
 * oldest lines and says how many (never silently).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDocker, removeImages, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { startAgent, startMaster, ensureEnvironment, type TestAgent, type TestMaster } from '../helpers/cluster';
import { buildLogImage, containerLogsConfig, dockerLines, runLabelled, storedEntries, linesOf, type LabelledContainer } from '../helpers/logcenter';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let image: string;
const dir = mkdtempSync(join(tmpdir(), 'slipway-logship-'));
const containers: LabelledContainer[] = [];

beforeAll(async () => {
  env = await requireDocker();
  image = await buildLogImage(env.docker, dir);
  master = await startMaster();
}, 120_000);

afterAll(async () => {
  for (const c of containers) await c.container.remove({ force: true }).catch(() => undefined);
  await master?.stop();
  if (env) await removeImages(env.docker, [image]);
  rmSync(dir, { recursive: true, force: true });
});

/** Lines `run R seq I`, I = 1..n, in bursts of `burst` lines every `pauseS` s; a Java stack trace on stderr after line 50. */
const numbered = (n: number, burst: number, pauseS: number) => `
r=$(cat /tmp/run 2>/dev/null || echo 0); r=$((r+1)); echo $r > /tmp/run
i=0
while [ $i -lt ${n} ]; do
  i=$((i+1))
  echo "run $r seq $i"
  if [ $i -eq 50 ]; then printf 'Exception in thread main: boom in run %s\\n\\tat a.B.c(B.java:10)\\n\\tat a.B.main(B.java:3)\\n' $r >&2; fi
  if [ $((i % ${burst})) -eq 0 ]; then sleep ${pauseS}; fi
done
echo "run $r done"
sleep 3600
`;

async function agentFor(environment: string, spoolDir: string, name: string, token?: string, spool: Record<string, unknown> = {}): Promise<TestAgent> {
  const config = containerLogsConfig(join(dir, `cfg-${name}`), { spool: { dir: spoolDir, ...spool }, batch: { flushMs: 50 } });
  return startAgent(master, { environment, name, token, args: ['--config', config] });
}

/** Waits until the stored lines of the app are exactly Docker's lines of its containers (as multisets). */
async function expectExactlyOnce(app: string, cs: LabelledContainer[], timeoutMs = 60_000): Promise<void> {
  const want = (await Promise.all(cs.map((c) => dockerLines(c.container)))).flat().sort();
  let got: string[] = [];
  await waitFor(
    `the ${want.length} lines of ${app} stored`,
    async () => {
      got = linesOf(await storedEntries(master.api, app)).sort();
      return got.length >= want.length;
    },
    { timeoutMs, intervalMs: 500 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${got.length} stored`);
  });
  const seen = new Set<string>();
  const twice = got.filter((g) => seen.size === seen.add(g).size);
  expect(twice.slice(0, 5), 'lines stored twice').toEqual([]);
  expect(got.length).toBe(want.length);
  expect(got).toEqual(want);
}

describe('container logs shipped exactly once', () => {
  it('across an agent kill, a container restart and a master kill; a stack trace stays one entry', async () => {
    const environment = 'logs-pre';
    await ensureEnvironment(master.api, environment);
    const app = uniqueName('shop');
    const spoolDir = join(dir, 'spool-restarts');
    const name = uniqueName('logagent');
    let agent = await agentFor(environment, spoolDir, name);
    const c = await runLabelled(env.docker, image, { app, environment, name: `${app}-1`, script: numbered(3000, 50, 0.2) });
    containers.push(c);
    const storedSome = async (n: number) => waitFor(`${n} entries of ${app} stored`, async () => (await storedEntries(master.api, app)).length >= n, { timeoutMs: 30_000, intervalMs: 200 });

    await storedSome(100);
    // 1. The agent dies without a word; a new agent process with the same spool takes over.
    const token = agent.token;
    await agent.kill('SIGKILL');
    agent = await agentFor(environment, spoolDir, name, token);
    await storedSome(600);
    // 2. The container restarts (killed at once): its second run writes seq 1.. again under `run 2`.
    await c.container.restart({ t: 0 });
    await waitFor('run 2 stored', async () => (await storedEntries(master.api, app, { q: '"run 2 seq 100"' })).length > 0, { timeoutMs: 30_000, intervalMs: 200 });
    // 3. The master is killed while lines flow, and comes back on the same data.
    await master.restart({ signal: 'SIGKILL' });
    await waitFor('run 2 written to its end', async () => (await dockerLines(c.container)).includes('run 2 done'), { timeoutMs: 60_000, intervalMs: 500 });
    await expectExactlyOnce(app, [c]);

    const traces = (await storedEntries(master.api, app, { q: 'Exception boom' })).filter((e) => e.text.startsWith('Exception'));
    expect(traces.length).toBe(2);
    for (const t of traces) {
      expect(t.stream).toBe('stderr');
      expect(t.text.split('\n')).toEqual([expect.stringMatching(/^Exception in thread main: boom in run [12]$/), '\tat a.B.c(B.java:10)', '\tat a.B.main(B.java:3)']);
    }
    const first = (await storedEntries(master.api, app, { q: '"run 1 seq 1"' })).find((e) => e.text === 'run 1 seq 1');
    expect(first).toMatchObject({ app, environment, instance: `${app}-1`, stream: 'stdout' });
    await agent.stop();
  }, 180_000);

  it('spools while the master is away and ships it all when it is back; over its bound it drops the oldest lines and counts them', async () => {
    const envAway = 'logs-away';
    const envBound = 'logs-bound';
    await ensureEnvironment(master.api, envAway);
    await ensureEnvironment(master.api, envBound);
    const appAway = uniqueName('away');
    const appBound = uniqueName('bound');
    const spoolAway = join(dir, 'spool-away');
    const spoolBound = join(dir, 'spool-bound');
    const away = await agentFor(envAway, spoolAway, uniqueName('away-agent'));
    const bound = await agentFor(envBound, spoolBound, uniqueName('bound-agent'), undefined, { maxMb: 0.1, segmentKb: 8 });

    const restarted = master.restart({ downMs: 8000 });
    await waitFor('master down', async () => (await fetch(`${master.url}/healthz`).then(() => false, () => true)), { timeoutMs: 15_000 });
    const ca = await runLabelled(env.docker, image, { app: appAway, environment: envAway, name: `${appAway}-1`, script: numbered(2000, 500, 0.1) });
    const cb = await runLabelled(env.docker, image, { app: appBound, environment: envBound, name: `${appBound}-1`, script: numbered(12_000, 2000, 0.1) });
    containers.push(ca, cb);
    const spoolBytes = (d: string): number => {
      let n = 0;
      for (const s of readdirSync(d)) for (const f of readdirSync(join(d, s))) if (f.endsWith('.seg')) n += statSync(join(d, s, f)).size;
      return n;
    };
    // The master is away: the lines wait on the agent's disk.
    await waitFor('lines spooled while the master is away', () => spoolBytes(spoolAway) > 50_000, { timeoutMs: 15_000, intervalMs: 100 });
    await restarted;
    await waitFor(`run 1 of ${appAway} written`, async () => (await dockerLines(ca.container)).includes('run 1 done'), { timeoutMs: 30_000 });
    await expectExactlyOnce(appAway, [ca]);

    // The bounded agent dropped what did not fit and says so in its status (GET /agents, `slipway agents`).
    await waitFor(`run 1 of ${appBound} written`, async () => (await dockerLines(cb.container)).includes('run 1 done'), { timeoutMs: 30_000 });
    const status = await waitFor(
      'the bounded agent reporting dropped lines',
      async () => {
        const a = (await master.api.listAgents()).find((x) => x.environment === envBound && x.state !== 'offline');
        const s = a?.services.find((x) => x.name === 'container-logs');
        return s && s.state === 'degraded' && Number(s.facts.dropped) > 0 && Number(s.facts.pending) === 0 ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(status.detail).toMatch(/^\d+ line\(s\) dropped: the spool hit its bound of 0.1 MiB/);
    const want = await dockerLines(cb.container);
    const stored = await storedEntries(master.api, appBound);
    const got = linesOf(stored);
    // Nothing silently lost, nothing twice: stored + dropped = written entries (a stack trace is one), the newest all there.
    expect(new Set(got).size).toBe(got.length);
    expect(stored.length + Number(status.facts.dropped)).toBe(want.filter((l) => !l.startsWith('\t')).length);
    expect(got).toContain('run 1 done');
    expect(spoolBytes(spoolBound)).toBeLessThanOrEqual(0.1 * 1024 * 1024);
    await away.stop();
    await bound.stop();
  }, 180_000);
});
