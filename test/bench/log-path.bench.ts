/**
 * log_lines_per_s: one step prints 1M lines of ~80 bytes; agent -> master -> a subscribed client, every
 * line stored. The clock starts when the step's process is spawned (agent clock) and stops when the
 * subscriber has the last line (the master publishes a chunk only after it is committed, so that is also
 * when the last line is stored). raw_ws_lines_per_s is the same lines over a bare ws connection between
 * two processes, measured in the same run (best of three); index_lag_s is how long after that the last line is searchable.
 */
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportBench } from '../helpers/bench';
import { startAgent, startMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { BENCH_MASTER_ENV, round, subscribeLines } from './common';
import { block, line } from './lines';
import { rawWsLinesPerSecond } from './raw-ws';

const LINES = 1_000_000;

// The step `cat`s a prepared file: the generator must not be what is measured.
const file = join(tmpdir(), `slipway-bench-lines-${process.pid}.txt`);
const parts: Buffer[] = [];
for (let i = 0; i < LINES; i += 10_000) parts.push(block(i, 10_000));
writeFileSync(file, Buffer.concat(parts), { mode: 0o644 });

// The baseline is noisy on two cores: take the best of three, so the ratio errs on the low side.
let raw = 0;
for (let i = 0; i < 3; i++) raw = Math.max(raw, await rawWsLinesPerSecond(LINES));

const master = await startMaster({ env: BENCH_MASTER_ENV });
try {
  await startAgent(master, { environment: 'ci', capacity: 1 });
  await master.api.createTeam('bench');
  await master.api.applyJob(`name: log-bench
team: bench
stages:
  - name: print
    environment: ci
    steps:
      - sh: cat ${file}
`);
  const build = await master.api.trigger('log-bench');
  const sub = subscribeLines(master.api.streamUrl(), master.api.token!, build.id, LINES);
  const lastLineAt = await sub.done;
  sub.close();
  const detail = await waitFor('build finished', async () => {
    const b = await master.api.getBuild(build.id);
    return b.status === 'success' ? b : undefined;
  });
  const startedAt = detail.stages[0].steps[0].startedAt!;
  const seconds = (lastLineAt - startedAt) / 1000;
  const lastWord = line(LINES - 1).split(' ')[1];
  await waitFor('last line searchable', async () => (await master.api.searchLogs(lastWord, { job: 'log-bench' })).length > 0, { timeoutMs: 120_000, intervalMs: 20 });
  const indexLag = (Date.now() - lastLineAt) / 1000;
  const stored = await master.api.buildLog(build.id);
  const storedLines = stored.split('\n').length - 1;
  if (storedLines !== LINES) throw new Error(`stored ${storedLines} lines, expected ${LINES}`);

  const perSecond = Math.round(LINES / seconds);
  reportBench({
    log_lines_per_s: perSecond,
    raw_ws_lines_per_s: raw,
    log_path_ratio: round(perSecond / raw, 3),
    log_path_seconds: round(seconds, 3),
    index_lag_s: round(indexLag, 3),
  });
} finally {
  await master.stop();
  rmSync(file, { force: true });
}
