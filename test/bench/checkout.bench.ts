/**
 * checkout_incremental_ratio: the whole checkout as the agent runs it for a stage with a repository (the job's
 * pooled workspace acquired and cleaned, then the checkout step; per-job cache, build user when root) for
 * build 1 on a cold cache and empty workspace and build 2 one commit later in the reused workspace,
 * on a repository of 2,000 commits whose tree holds 2,000 files of 10 KB (20 MB), served over file://.
 * The repository is generated with `git fast-import` in a couple of seconds. Median of ROUNDS rounds, each
 * with a fresh agent work dir. Target: ratio < 0.3.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { reportBench } from '../helpers/bench';
import type { Workspaces } from '../../agent/workspace';
import { agentDir, prepareWorkspace, runCheckout, sh, source, tempDir, TEST_JOB_ID } from '../unit/agent-git-fixtures';

const FILES = 2000;
const FILE_BYTES = 10 * 1024;
const COMMITS = 2000;
const ROUNDS = Number(process.env.CHECKOUT_BENCH_ROUNDS ?? 5);

/** A fast-import stream: one commit with the whole tree, then COMMITS - 1 commits changing one small file. */
function* importStream(): Generator<string | Buffer> {
  let mark = 0;
  const t = 1_700_000_000;
  const blob = (data: Buffer | string) => {
    mark++;
    return [`blob\nmark :${mark}\ndata ${Buffer.byteLength(data)}\n`, data, '\n'];
  };
  const marks: number[] = [];
  for (let i = 0; i < FILES; i++) {
    // Base64 text: compresses like source code would, not like random bytes.
    yield* blob(randomBytes((FILE_BYTES * 3) / 4).toString('base64'));
    marks.push(mark);
  }
  const commit = (msg: string, lines: string) =>
    `commit refs/heads/main\ncommitter Bench <bench@example.com> ${t + mark} +0000\ndata ${msg.length}\n${msg}\n${lines}\n`;
  yield commit('initial tree', marks.map((m, i) => `M 100644 :${m} src/d${i % 50}/f${i}.txt\n`).join(''));
  for (let c = 1; c < COMMITS; c++) {
    yield* blob(`change ${c} ${randomBytes(16).toString('hex')}\n`);
    yield commit(`commit ${c}`, `M 100644 :${mark} log/c${c % 100}.txt\n`);
  }
}

async function makeRepo(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  sh(dir, 'init', '--quiet', '--bare');
  const child = spawn('git', ['fast-import', '--quiet'], { cwd: dir, stdio: ['pipe', 'inherit', 'inherit'] });
  for (const part of importStream()) if (!child.stdin.write(part)) await new Promise((r) => child.stdin.once('drain', r));
  child.stdin.end();
  const code = await new Promise((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`git fast-import exited with ${code}`);
}

/**
 * One build's checkout: pooled workspace, clean, checkout step (what the stage run does before its steps),
 * timed; then the workspace is released as after the build's steps (not timed: it is no part of the checkout,
 * and a real build's steps run in between).
 */
async function build(ws: Workspaces, url: string, sha: string, previousSha?: string) {
  const t = performance.now();
  const pooled = await ws.acquire('bench', await ws.userFor(TEST_JOB_ID));
  try {
    await prepareWorkspace(ws, pooled.dir, url);
    const r = await runCheckout(ws, source({ url, sha, previousSha, cacheKey: 'bench' }), { workspace: pooled.dir });
    return { ...r, ms: performance.now() - t };
  } finally {
    await pooled.release();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const root = tempDir('checkout-bench');
  const dirs = [root];
  try {
    const repoDir = join(root, 'repo.git');
    await makeRepo(repoDir);
    const url = `file://${repoDir}`;
    const prev = sh(repoDir, 'rev-parse', 'main~1');
    const head = sh(repoDir, 'rev-parse', 'main');
    const firsts: number[] = [];
    const incrementals: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ws = await agentDir();
      dirs.push(ws.workDir);
      const b1 = await build(ws, url, prev);
      firsts.push(b1.ms);
      if (b1.result.status !== 'success') throw new Error(`build 1 checkout: ${b1.result.error}\n${b1.log}`);
      const b2 = await build(ws, url, head, prev);
      incrementals.push(b2.ms);
      if (b2.result.status !== 'success') throw new Error(`build 2 checkout: ${b2.result.error}\n${b2.log}`);
      if (!/\(incremental\)/.test(b2.log)) throw new Error(`build 2 did not fetch incrementally:\n${b2.log}`);
      if (!/workspace reused/.test(b2.log)) throw new Error(`build 2 did not reuse the workspace:\n${b2.log}`);
      process.stdout.write(`round ${round + 1}: first ${firsts[round].toFixed(0)} ms, incremental ${incrementals[round].toFixed(0)} ms\n${b2.log}`);
      ws.close();
      rmSync(ws.workDir, { recursive: true, force: true });
    }
    const first = median(firsts);
    const incremental = median(incrementals);
    reportBench({
      checkout_first_ms: Math.round(first),
      checkout_incremental_ms: Math.round(incremental),
      checkout_incremental_ratio: Number((incremental / first).toFixed(3)),
    });
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
