/**
 * Push benchmarks (issue 3): a real master, one agent (capacity 4) and a bare repository whose
 * post-receive hook POSTs a GitLab Push Hook (curl, headers as GitLab sends them), so `git push` alone
 * starts each build. 100 measured pushes, one after another, after 3 warm-up pushes; each push waits for
 * the previous build to finish, so the figure is push -> step, not time spent queued behind other builds
 * (as dispatch.bench.ts excludes queue wait).
 *
 *  - push_to_step_p50_ms / _p99_ms: `git push` started (this process's clock) -> the build's first step,
 *    the checkout, running on the agent (steps[0].startedAt, the agent's clock: same machine).
 *  - webhook_ack_p99_ms: request received -> 2xx sent, measured from the client side as curl's
 *    time_total of each hook delivery (connect + send + the master's answer on loopback). That is an upper
 *    bound of the server-side figure, and the one a Git server sees; it needs no instrumentation of the
 *    master's code.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportBench } from '../helpers/bench';
import { startAgent, startMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { BENCH_MASTER_ENV, percentile, round } from './common';

const PUSHES = 100;
const WARMUP = 3;
const SECRET = 'bench-hook-token';

const dir = mkdtempSync(join(tmpdir(), 'slipway-push-bench-'));
// The agent fetches local repositories as the build user: the repository must be readable by it.
chmodSync(dir, 0o755);
const bare = join(dir, 'web.git');
const work = join(dir, 'work');
const acks = join(dir, 'acks.txt');
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'B', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'B', GIT_COMMITTER_EMAIL: 'b@x' } }).trim();

/** post-receive: one GitLab Push Hook per updated ref; curl appends "<http code> <seconds>" to acks.txt. */
function installHook(hookUrl: string): void {
  const hook = `#!/bin/sh
while read before after ref; do
  msg=$(git log -1 --format=%s "$after")
  uuid=$(cat /proc/sys/kernel/random/uuid)
  body=$(printf '{"object_kind":"push","event_name":"push","before":"%s","after":"%s","ref":"%s","checkout_sha":"%s","user_name":"bench","total_commits_count":1,"project":{"git_http_url":"file://%s","web_url":"file://%s"},"repository":{"name":"web","url":"file://%s","git_http_url":"file://%s","git_ssh_url":"file://%s","homepage":"file://%s"},"commits":[{"id":"%s","message":"%s","author":{"name":"bench"},"added":[],"removed":[],"modified":["f.txt"]}]}' \\
    "$before" "$after" "$ref" "$after" "${bare}" "${bare}" "${bare}" "${bare}" "${bare}" "${bare}" "$after" "$msg")
  curl -s -o /dev/null -w '%{http_code} %{time_total}\\n' -X POST \\
    -H 'Content-Type: application/json' -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: ${SECRET}' -H "X-Gitlab-Event-UUID: $uuid" \\
    --data-binary "$body" '${hookUrl}' >> '${acks}'
done
`;
  const file = join(bare, 'hooks', 'post-receive');
  writeFileSync(file, hook);
  chmodSync(file, 0o755);
}

const master = await startMaster({ env: BENCH_MASTER_ENV });
try {
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  installHook(`${master.url}/api/v1/hooks/gitlab`);
  await master.api.createTeam('bench');
  await master.api.setSecret('bench', 'WEBHOOK_SECRET', SECRET);
  await startAgent(master, { environment: 'ci', capacity: 4 });
  await master.api.applyJob(`name: push-bench
team: bench
repo: { url: 'file://${bare}', branch: main }
triggers: { push: { branches: [main] } }
stages:
  - name: build
    environment: ci
    steps:
      - sh: "true"
`);

  const delays: number[] = [];
  for (let i = 0; i < WARMUP + PUSHES; i++) {
    writeFileSync(join(work, 'f.txt'), `push ${i}\n`);
    git(work, 'add', 'f.txt');
    git(work, 'commit', '-q', '-m', `bench ${i}`);
    const sha = git(work, 'rev-parse', 'HEAD');
    const pushedAt = Date.now();
    git(work, 'push', '-q', bare, 'HEAD:refs/heads/main');
    const startedAt = await waitFor(
      `build of push ${i} finished`,
      async () => {
        const b = (await master.api.listBuilds('push-bench', { limit: 5 })).find((x) => x.commit === sha);
        if (!b) return undefined;
        const step = (await master.api.getBuild(b.id)).stages[0]?.steps[0];
        if (step && step.kind !== 'checkout') throw new Error(`first step of build ${b.id} is ${step.kind}, not the checkout`);
        if (!step?.startedAt || !['success', 'failed'].includes(b.status)) return undefined;
        return step.startedAt;
      },
      { timeoutMs: 30_000, intervalMs: 5 },
    ).catch(async (err: Error) => {
      const recent = await master.api.listBuilds('push-bench', { limit: 5 });
      const hooks = readFileSync(acks, 'utf8').trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${err.message}; last builds: ${recent.map((b) => `#${b.number} ${b.status} ${b.commit?.slice(0, 8)} ${b.error ?? ''}`).join(', ')}; last hook answers: ${hooks}`);
    });
    if (i >= WARMUP) delays.push(startedAt - pushedAt);
  }
  await waitFor('every build finished', async () => (await master.api.listBuilds('push-bench', { limit: 200 })).every((b) => ['success', 'failed'].includes(b.status)), { timeoutMs: 60_000, intervalMs: 100 });
  const failed = (await master.api.listBuilds('push-bench', { limit: 200 })).filter((b) => b.status !== 'success');
  if (failed.length) throw new Error(`${failed.length} bench builds did not succeed, e.g. #${failed[0].number}: ${failed[0].error}`);

  const ackLines = readFileSync(acks, 'utf8').trim().split('\n').slice(WARMUP);
  const bad = ackLines.filter((l) => !/^2\d\d /.test(l));
  if (bad.length) throw new Error(`webhook deliveries without a 2xx answer: ${bad.slice(0, 3).join(', ')}`);
  const ackMs = ackLines.map((l) => Number(l.split(' ')[1]) * 1000).sort((a, b) => a - b);
  delays.sort((a, b) => a - b);
  reportBench({
    webhook_ack_p50_ms: round(percentile(ackMs, 50), 2),
    webhook_ack_p99_ms: round(percentile(ackMs, 99), 2),
    push_to_step_p50_ms: round(percentile(delays, 50), 1),
    push_to_step_p99_ms: round(percentile(delays, 99), 1),
    push_to_step_max_ms: round(delays[delays.length - 1], 1),
    push_to_step_pushes: PUSHES,
  });
} finally {
  await master.stop();
  rmSync(dir, { recursive: true, force: true });
}
