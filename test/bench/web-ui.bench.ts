/**
 * The web UI's two figures (issue 10), in Debian's chromium driven by playwright-core against a real master
 * and agent:
 * - ui_log_200k_render_ms: a finished build with 200,000 log lines, opened from another page of the UI,
 *   until its last line is visible in follow mode (the stored log replayed over /api/v1/stream, lines
 *   assembled, virtualised rows drawn). Median of ROUNDS openings. Target < 1,500 ms.
 * - ui_bundle_kb: gzipped size of the JavaScript the first page loads (every script and modulepreload of the
 *   served index.html), from a fresh `vite build web`. Target < 300 KB.
 */
import { execFileSync } from 'node:child_process';
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
  let gz = 0;
  for (const src of scripts) gz += gzipSync(Buffer.from(await (await fetch(master.url + src)).arrayBuffer()), { level: 9 }).length;

  await master.api.createTeam('bench');
  await startAgent(master, { environment: 'ci' });
  await master.api.applyJob(
    ['name: big-log', 'team: bench', 'stages:', '  - name: print', '    environment: ci', '    steps:', `      - sh: seq -f 'line %g of the big log' 1 ${LINES}`].join('\n') + '\n',
  );
  const build = await master.api.trigger('big-log');
  await waitFor('the 200,000-line build', async () => (await master.api.getBuild(build.id)).status === 'success', { timeoutMs: 60_000 });

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
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await go('/agents');
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    const t0 = Date.now();
    await go(`/builds/${build.id}`);
    await page.getByTestId('log').getByText(`line ${LINES} of the big log`, { exact: true }).waitFor({ timeout: 30_000 });
    times.push(Date.now() - t0);
  }
  reportBench({
    ui_log_200k_render_ms: median(times),
    ui_log_200k_render_max_ms: Math.max(...times),
    ui_bundle_kb: Math.round((gz / 1024) * 10) / 10,
  });
} finally {
  await browser.close();
  await master.stop();
}
