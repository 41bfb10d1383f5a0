/**
 * The web UI's two figures (issue 10), in Debian's chromium driven by playwright-core against a real master
 * and agent:
 * - ui_log_200k_render_ms: a finished build with 200,000 log lines, opened from another page of the UI,
 *   until its last line is visible in follow mode (the stored log replayed over /api/v1/stream, lines
 *   assembled, virtualised rows drawn). Median of ROUNDS openings. Target < 1,500 ms.
 * - ui_bundle_kb: gzipped size of the JavaScript the first page loads (every script and modulepreload of the
 *   served index.html), from a fresh `vite build web`. Target < 300 KB.
 * Baselines measured in the same run: ui_log_small_render_ms, the same opening of a 10-line build (what the
 * page costs without the log), and ui_all_js_kb, every JS file of the build gzipped (the first page plus the
 * chunks loaded later, such as the job editor); the ratios are printed with them.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { reportBench } from '../helpers/bench';
import { startAgent, startMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LINES = 200_000;
const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
const master = await startMaster();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const html = await (await fetch(master.url)).text();
  const scripts = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1]);
  const gzOf = async (src: string) => gzipSync(Buffer.from(await (await fetch(master.url + src)).arrayBuffer()), { level: 9 }).length;
  let gz = 0;
  for (const src of scripts) gz += await gzOf(src);
  let allGz = 0;
  for (const f of readdirSync(join(ROOT, 'web/dist/assets')).filter((n) => n.endsWith('.js'))) allGz += await gzOf(`/assets/${f}`);

  await master.api.createTeam('bench');
  await startAgent(master, { environment: 'ci' });
  await master.api.applyJob(
    ['name: big-log', 'team: bench', 'stages:', '  - name: print', '    environment: ci', '    steps:', `      - sh: seq -f 'line %g of the big log' 1 ${LINES}`].join('\n') + '\n',
  );
  await master.api.applyJob(['name: small-log', 'team: bench', 'stages:', '  - name: print', '    environment: ci', '    steps:', `      - sh: seq -f 'line %g of the small log' 1 10`].join('\n') + '\n');
  const build = await master.api.trigger('big-log');
  const small = await master.api.trigger('small-log');
  await waitFor('the 200,000-line build', async () => (await master.api.getBuild(build.id)).status === 'success', { timeoutMs: 60_000 });
  await waitFor('the 10-line build', async () => (await master.api.getBuild(small.id)).status === 'success', { timeoutMs: 60_000 });

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(master.url);
  await page.getByLabel('User').fill('admin');
  await page.getByLabel('Password').fill(master.adminPassword);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const go = (to: string) =>
    page.evaluate((path) => {
      window.history.pushState(null, '', path);
      window.dispatchEvent(new PopStateEvent('popstate'));
    }, to);
  /** Opens a build from another page until its last log line is visible; milliseconds per round. */
  const open = async (id: number, lastLine: string): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await go('/agents');
      await page.getByRole('heading', { name: 'Agents' }).waitFor();
      const t0 = Date.now();
      await go(`/builds/${id}`);
      await page.getByTestId('log').getByText(lastLine, { exact: true }).waitFor({ timeout: 30_000 });
      times.push(Date.now() - t0);
    }
    return times;
  };
  const smallTimes = await open(small.id, 'line 10 of the small log');
  const times = await open(build.id, `line ${LINES} of the big log`);
  const kb = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
  reportBench({
    ui_log_200k_render_ms: median(times),
    ui_log_200k_render_max_ms: Math.max(...times),
    ui_log_small_render_ms: median(smallTimes),
    ui_log_200k_vs_small_ratio: Math.round((median(times) / Math.max(1, median(smallTimes))) * 10) / 10,
    ui_bundle_kb: kb(gz),
    ui_all_js_kb: kb(allGz),
    ui_first_page_js_share: Math.round((gz / allGz) * 100) / 100,
  });
} finally {
  await browser.close();
  await master.stop();
}
