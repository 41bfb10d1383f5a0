/**
 * The log center's state on the App logs page, in a real browser (Debian's chromium, playwright-core) against a
 * real master whose log center received batches over the real agent protocol (a raw agent; no Docker needed):
 * an admin sees the entries per environment and that indexing caught up; a non-admin sees no such panel.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MasterMessage } from '../../shared/protocol';
import { ensureEnvironment, startMaster, type TestMaster } from '../helpers/cluster';
import { uniqueName } from '../helpers/docker';
import { helloRaw, type RawAgent } from '../integration/engine-raw-agent';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const environment = uniqueName('lsweb');
const app = uniqueName('statsweb');
const user = `viewer-${app}`;
const password = 'viewer-password-123';

let master: TestMaster;
let browser: Browser;
let agent: RawAgent;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm test installs it)`);
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
  [master, browser] = await Promise.all([
    startMaster(),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
  await ensureEnvironment(master.api, environment);
  const team = uniqueName('statsteam');
  await master.api.createTeam(team);
  await master.api.createUser({ username: user, password });
  await master.api.setMember(team, user, 'maintainer');
  agent = await helloRaw(master.url, (await master.api.createAgentToken(environment, 'raw-web')).token, 'raw-web', environment);
  const texts = Array.from({ length: 25 }, (_, i) => `web stats line ${i}`);
  agent.sendJson({ type: 'agent:container-logs', source: `${environment}/c/stdout`, firstSeq: 1, app, environment, instance: `${app}-1`, streams: 'o'.repeat(25), ts: texts.map(() => Date.now()), texts });
  const ack = await agent.next('the ack', (m): m is Extract<MasterMessage, { type: 'master:container-logs-ack' }> => m.type === 'master:container-logs-ack');
  expect(ack.storedThrough).toBe(25);
}, 180_000);

afterAll(async () => {
  agent?.ws.close();
  await browser?.close();
  await master?.stop();
});

async function openAppLogs(username: string, pw: string) {
  const page = await browser.newPage();
  await page.goto(master.url);
  await page.getByLabel('User').fill(username);
  await page.getByLabel('Password').fill(pw);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await page.getByRole('link', { name: 'App logs' }).click();
  await page.getByRole('heading', { name: 'App logs' }).waitFor();
  return page;
}

describe('log center stats on the App logs page', () => {
  it('shows an admin the entries per environment and the indexing state; not a non-admin', async () => {
    const page = await openAppLogs('admin', master.adminPassword);
    const panel = page.getByTestId('log-center-stats');
    // Polled every 5 s: the worker indexes the 25 entries within ~2 s of their storing.
    await panel.getByText(/Log center: 25 entries, 0\.0 MiB; indexing up to date/).waitFor({ timeout: 20_000 });
    await panel.locator('summary').click();
    const row = panel.getByRole('row', { name: new RegExp(environment) });
    expect(await row.getByRole('cell').allTextContents()).toEqual([environment, '25', '0.0 MiB', '1', '14 days']);
    await page.close();

    const other = await openAppLogs(user, password);
    await other.getByRole('button', { name: 'Search' }).waitFor();
    expect(await other.getByTestId('log-center-stats').count()).toBe(0);
    await other.close();
  });
});
