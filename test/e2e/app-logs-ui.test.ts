/**
 * The web UI's App logs page in a real browser (Debian's chromium, playwright-core) against a real master and a
 * real agent shipping a real container's logs: a team member searches the app's logs by words, follows them
 * live (new lines appear), and a line holding markup shows as text; another team's app answers "not found".
 * Screenshots go to test/artifacts/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureEnvironment, startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { buildLogImage, containerLogsConfig, runLabelled, storedEntries, type LabelledContainer } from '../helpers/logcenter';
import { waitFor } from '../helpers/wait';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const environment = 'logs-web';
const app = uniqueName('webapp');
const hidden = uniqueName('hiddenapp');
const team = uniqueName('webteam');
const user = `dev-${app}`;
const password = 'dev-password-123';

let env: DockerTestEnv;
let master: TestMaster;
let browser: Browser;
let page: Page;
let image: string;
const dir = mkdtempSync(join(tmpdir(), 'slipway-logweb-'));
const containers: LabelledContainer[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm test installs it)`);
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  env = await requireDocker();
  image = await buildLogImage(env.docker, dir);
  [master, browser] = await Promise.all([
    startMaster(),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
  await ensureEnvironment(master.api, environment);
  await master.api.createTeam(team);
  await master.api.createUser({ username: user, password });
  await master.api.setMember(team, user, 'viewer');
  await master.api.applyJob(
    `name: ${app}-job\nteam: ${team}\nstages:\n  - name: deploy\n    environment: ${environment}\n    steps:\n      - deploy: { app: ${app}, image: x, composeInline: "services: { web: { image: 'x' } }" }\n`,
  );
  const config = containerLogsConfig(join(dir, 'cfg'), { spool: { dir: join(dir, 'spool') }, multiline: { flushMs: 50 }, batch: { flushMs: 20 } });
  await startAgent(master, { environment, args: ['--config', config] });
  containers.push(
    await runLabelled(env.docker, image, {
      app,
      environment,
      name: `${app}-1`,
      script: `echo "hello from the web test"; echo "<b>markup</b> <script>window.__pwned=1</script>"; i=0; while true; do i=$((i+1)); echo "web tick $i"; sleep 0.3; done`,
    }),
    await runLabelled(env.docker, image, { app: hidden, environment, name: `${hidden}-1`, optIn: true, script: 'echo "secret app line"; sleep 3600' }),
  );
  await waitFor('first lines stored', async () => (await storedEntries(master.api, app, { q: 'hello' })).length === 1, { timeoutMs: 30_000, intervalMs: 200 });
  page = await browser.newPage();
}, 180_000);

afterAll(async () => {
  for (const c of containers) await c.container.remove({ force: true }).catch(() => undefined);
  await browser?.close();
  await master?.stop();
  if (env) await removeImages(env.docker, [image]);
  rmSync(dir, { recursive: true, force: true });
});

describe('App logs page', () => {
  it('searches an app of the team, follows it live, shows markup as text, and hides other apps', async () => {
    await page.goto(master.url);
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('link', { name: 'App logs' }).click();
    await page.getByRole('heading', { name: 'App logs' }).waitFor();

    await page.getByLabel('App').fill(app);
    await page.getByLabel('Words').fill('hello web');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('app-log-line').first().waitFor();
    expect(await page.getByTestId('app-log-line').allTextContents()).toEqual([expect.stringMatching(new RegExp(`${environment} ${app}-1 stdout hello from the web test$`))]);

    await page.getByLabel('Words').fill('markup');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('<b>markup</b> <script>window.__pwned=1</script>').waitFor();
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // Live: the newest lines, then ticks written after the tail opened.
    await page.getByLabel('Words').fill('');
    await page.getByRole('button', { name: 'Follow live' }).click();
    await page.getByRole('button', { name: 'Stop following' }).waitFor();
    const firstTicks = await waitFor('ticks on the page', async () => {
      const ticks = (await page.getByTestId('app-log-line').allTextContents()).filter((t) => /web tick \d+$/.test(t));
      return ticks.length ? ticks : undefined;
    }, { timeoutMs: 10_000 });
    const lastSeen = Number(/web tick (\d+)$/.exec(firstTicks[firstTicks.length - 1])![1]);
    await waitFor('a newer tick through the live tail', async () => (await page.getByTestId('app-log-line').allTextContents()).some((t) => Number(/web tick (\d+)$/.exec(t)?.[1] ?? 0) > lastSeen), { timeoutMs: 5000 });
    await page.screenshot({ path: join(ARTIFACTS, 'web-app-logs.png'), fullPage: true });
    await page.getByRole('button', { name: 'Stop following' }).click();

    // An app no job of the team deploys: the master answers as for an app that does not exist.
    await page.getByLabel('App').fill(hidden);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe(`app '${hidden}' not found`);
  });
});
