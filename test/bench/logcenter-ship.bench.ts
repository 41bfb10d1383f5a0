/**
 * logcenter_ship_lines_per_s: a container `cat`s LINES lines of ~80 bytes into Docker's log; a real agent's
 * container-logs service follows it (Engine API log stream, multi-line rule, disk spool, batches over its
 * WebSocket) into a real master's log center store (stored and indexed). The clock starts when the container
 * is started and stops when the last line is searchable through the API.
 *
 * Baseline in the same run: the same container writing the same lines with nobody following
 * (docker_log_lines_per_s: start -> container exited, i.e. Docker's own logging), and the ratio between them.
 * Every line is checked to be stored exactly once (the agent's acknowledged count and a count query).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { searchAppLogs } from '../../shared/client/app-logs-client';
import { reportBench } from '../helpers/bench';
import { ensureEnvironment, startAgent, startMaster } from '../helpers/cluster';
import { removeImages, requireDocker, uniqueName } from '../helpers/docker';
import { buildLogImage, containerLogsConfig } from '../helpers/logcenter';
import { waitFor } from '../helpers/wait';
import { BENCH_MASTER_ENV, round } from './common';

const LINES = Number(process.env.LOGCENTER_BENCH_LINES ?? 300_000);
const environment = 'bench-logs';

const dir = mkdtempSync(join(tmpdir(), 'slipway-logship-bench-'));
const file = join(dir, 'lines.txt');
const pad = 'x'.repeat(60);
writeFileSync(file, Array.from({ length: LINES }, (_, i) => `w${i} ${pad}`.slice(0, 79) + '\n').join(''), { mode: 0o644 });

const { docker } = await requireDocker();
const image = await buildLogImage(docker, dir);
const made: Docker.Container[] = [];

async function writer(app: string, labels: boolean): Promise<{ c: Docker.Container; startedAt: number }> {
  const c = await docker.createContainer({
    name: `${app}-1`,
    Image: image,
    Cmd: ['sh', '-c', 'cat /data/lines.txt'],
    Labels: labels ? { 'io.slipway.app': app, 'io.slipway.environment': environment, 'io.slipway.logs': 'true' } : {},
    HostConfig: { NetworkMode: 'none', Binds: [`${file}:/data/lines.txt:ro`] },
  });
  made.push(c);
  const startedAt = Date.now();
  await c.start();
  return { c, startedAt };
}

// Baseline: Docker's own logging of the same lines, nobody following.
const base = await writer(uniqueName('bench-base'), false);
await base.c.wait();
const baseSeconds = (Date.now() - base.startedAt) / 1000;

const master = await startMaster({ env: BENCH_MASTER_ENV });
try {
  await ensureEnvironment(master.api, environment);
  const config = containerLogsConfig(join(dir, 'cfg'), { spool: { dir: join(dir, 'spool'), maxMb: 1024 } });
  await startAgent(master, { environment, args: ['--config', config], env: { SLIPWAY_LOG_LEVEL: 'warn' } });
  const app = uniqueName('bench-app');
  const run = await writer(app, true);
  const last = `w${LINES - 1}`;
  await waitFor('the last line searchable', async () => (await searchAppLogs(master.api, { app, q: last, limit: 1 })).hits.length > 0, { timeoutMs: 600_000, intervalMs: 20 });
  const seconds = (Date.now() - run.startedAt) / 1000;
  // Exactly once: the number of entries with the common padding word equals LINES (counted page by page).
  let stored = 0;
  let cursor: string | undefined;
  do {
    const page = await searchAppLogs(master.api, { app, limit: 1000, cursor });
    stored += page.hits.length;
    cursor = page.nextCursor;
  } while (cursor);
  if (stored !== LINES) throw new Error(`stored ${stored} entries, expected ${LINES}`);
  const perSecond = Math.round(LINES / seconds);
  const basePerSecond = Math.round(LINES / baseSeconds);
  reportBench({
    logcenter_ship_lines_per_s: perSecond,
    logcenter_ship_seconds: round(seconds, 3),
    logcenter_ship_docker_baseline_lines_per_s: basePerSecond,
    logcenter_ship_ratio: round(perSecond / basePerSecond, 3),
    logcenter_ship_lines: LINES,
  });
} finally {
  await master.stop();
  for (const c of made) await c.remove({ force: true }).catch(() => undefined);
  await removeImages(docker, [image]);
  rmSync(dir, { recursive: true, force: true });
}
