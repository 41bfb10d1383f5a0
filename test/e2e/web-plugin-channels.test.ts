/**
 * The team notification channels page with a notifier plugin, in a real chromium against a real master:
 * plugins/mattermost-notify is installed with the CLI, its kind is offered next to the built-in ones, and its
 * settings are fields its manifest's config schema drives (the secret field says it takes a team secret's
 * name). A channel made in the form is stored as the plugin channel; Edit loads it back and saving replaces
 * it; a value the schema refuses is shown as the master's error, naming the field.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const suffix = Math.random().toString(36).slice(2, 8);
const team = `wpc-${suffix}`;
let master: TestMaster;
let browser: Browser;
let page: Page;
let root: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm test installs it)`);
  // The master serves web/dist; npm test builds it first, this covers running the file alone.
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  root = mkdtempSync(join(tmpdir(), 'slipway-web-plugin-channels-'));
  [master, browser] = await Promise.all([
    startMaster(),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
  await master.api.createTeam(team);
  await master.api.setSecret(team, 'MM_HOOK', 'http://127.0.0.1:9/hooks/not-used');
  const cliEnv = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(root, 'cli.json') };
  const installed = await runCli(['plugin', 'install', join(ROOT, 'plugins', 'mattermost-notify')], { env: cliEnv });
  expect(installed.stdout, installed.stderr).toBe('plugin mattermost-notify@1.0.0 installed: notifiers mattermost\n');
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error('page error:', err.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await master?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('plugin notifier channels in the web UI', () => {
  it('creates, edits and validates a mattermost channel with fields from the plugin schema', async () => {
    await page.goto(`${master.url}/teams`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(master.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    const channels = page.getByTestId(`notifiers-${team}`);
    await channels.getByLabel('Channel name').fill('mm');
    await channels.getByLabel('Channel kind').selectOption('mattermost');
    const fields = channels.getByTestId('plugin-channel-mattermost');
    await fields.getByText('mattermost (plugin mattermost-notify@1.0.0): POSTs', { exact: false }).waitFor();
    // The schema's fields, required ones without "(optional)", with the manifest's descriptions.
    expect(await fields.getByLabel('mattermost url', { exact: true }).count()).toBe(1);
    expect(await fields.getByLabel('mattermost channel (optional)').count()).toBe(1);
    expect(await fields.getByLabel('mattermost iconUrl (optional)').count()).toBe(1);
    await fields.getByText('name of the team secret holding the incoming-webhook URL').waitFor();
    expect(await channels.getByLabel('Channel target').count()).toBe(0);
    await fields.getByLabel('mattermost url', { exact: true }).fill('MM_HOOK');
    await fields.getByLabel('mattermost channel (optional)').fill('builds');
    await channels.getByLabel('fixed').uncheck();
    await page.screenshot({ path: join(ARTIFACTS, 'web-plugin-channel-form.png'), fullPage: true });
    await channels.getByRole('button', { name: 'Save channel' }).click();
    await channels.getByText('mattermost (plugin) {"url":"MM_HOOK","channel":"builds"} on failure').waitFor();
    expect(await master.api.teamNotifiers(team)).toMatchObject([{ name: 'mm', channel: { notifier: 'mattermost', config: { url: 'MM_HOOK', channel: 'builds' }, on: ['failure'] } }]);

    // Edit: the stored settings come back into the fields; saving replaces the channel of that name.
    await channels.locator('li', { hasText: 'mm' }).getByRole('button', { name: 'Edit' }).click();
    expect(await channels.getByLabel('Channel name').inputValue()).toBe('mm');
    expect(await fields.getByLabel('mattermost channel (optional)').inputValue()).toBe('builds');
    await fields.getByLabel('mattermost channel (optional)').fill('ops');
    await fields.getByLabel('mattermost username (optional)').fill('CI');
    await channels.getByLabel('deploy').check();
    await channels.getByRole('button', { name: 'Save channel' }).click();
    await channels.getByText('mattermost (plugin) {"url":"MM_HOOK","channel":"ops","username":"CI"} on failure, deploy').waitFor();
    await waitFor('the edited channel', async () => {
      const list = await master.api.teamNotifiers(team);
      return list.length === 1 && JSON.stringify(list[0].channel) === JSON.stringify({ notifier: 'mattermost', config: { url: 'MM_HOOK', channel: 'ops', username: 'CI' }, on: ['failure', 'deploy'] });
    });

    // A value the plugin's schema refuses: the master's answer names the field; nothing is stored.
    await channels.getByLabel('Channel name').fill('mm-bad');
    await channels.getByLabel('Channel kind').selectOption('mattermost');
    await fields.getByLabel('mattermost url', { exact: true }).fill('MM_HOOK');
    await fields.getByLabel('mattermost iconUrl (optional)').fill('ftp://example/icon.png');
    await channels.getByRole('button', { name: 'Save channel' }).click();
    await channels.getByRole('alert').waitFor();
    expect(await channels.getByRole('alert').textContent()).toMatch(/iconUrl/);
    expect((await master.api.teamNotifiers(team)).map((n) => n.name)).toEqual(['mm']);
  }, 120_000);
});
