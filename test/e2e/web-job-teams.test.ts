/**
 * The web UI for a user in two teams that both have a job `web` (job names are unique per team only): a real
 * chromium against a real master. Pages that know the job's team link and call by `team/name`, so this user
 * never meets the master's 409 for an ambiguous bare name: the build page's job link, the editor's redirect
 * after saving, the job page's own actions (run, edit, delete), and the log search's job filter. The job page
 * also moves a job to another team (POST /jobs/:job/move).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type TestMaster } from '../helpers/cluster';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const games = `games-${suffix}`;
/** A third team, where the user is a developer: a team jobs may be moved to. */
const arcade = `arcade-${suffix}`;
const user = `both-${suffix}`;
const password = 'both-password-123';

let master: TestMaster;
let browser: Browser;
let page: Page;
let shopBuild: number;

const jobYaml = (team: string, word: string) => `name: web\nteam: ${team}\nstages:\n  - name: build\n    environment: ci\n    steps:\n      - sh: echo ${word}\n`;

/** Follows an in-app path as a link click would (history API, no reload: the session lives in memory). */
async function go(path: string): Promise<void> {
  await page.evaluate((p) => {
    window.history.pushState(null, '', p);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}

/** The page shows no error (the master's 409 for an ambiguous name would appear as one). */
async function expectNoError(): Promise<void> {
  expect(await page.locator('main .error').allTextContents()).toEqual([]);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm test installs it)`);
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
  [master, browser] = await Promise.all([
    startMaster(),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] }),
  ]);
  await master.api.createUser({ username: user, password });
  for (const team of [shop, games]) {
    await master.api.createTeam(team);
    await master.api.setMember(team, user, 'maintainer');
    await master.api.applyJob(jobYaml(team, `from-${team}`));
  }
  await master.api.createTeam(arcade);
  await master.api.setMember(arcade, user, 'developer');
  // No agent: the build stays queued, which is all the build page needs here.
  shopBuild = (await master.api.trigger(`${shop}/web`)).id;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(master.url);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await master?.stop();
});

describe('a job name two of my teams use, in the web UI', () => {
  it("the build page links its job by team/name, and the job page's actions use it", async () => {
    await go(`/builds/${shopBuild}`);
    const link = page.locator('main h1 a', { hasText: 'web' });
    await link.waitFor();
    // Before, this was /jobs/web: the job page answered "job name 'web' is used by several of your teams".
    expect(await link.getAttribute('href')).toBe(`/jobs/${shop}%2Fweb`);
    await link.click();
    await page.getByText(`team ${shop}`).waitFor();
    await expectNoError();

    // Run build from that page: a new build of shop's job (the API call names the team too).
    await page.getByRole('button', { name: 'Run build' }).click();
    await page.waitForURL(/\/builds\/\d+$/);
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    expect(id).not.toBe(shopBuild);
    expect(await master.api.getBuild(id)).toMatchObject({ job: 'web', team: shop });
  }, 60_000);

  it("the editor saves the job and returns to that team's job page", async () => {
    await go(`/jobs/${encodeURIComponent(`${games}/web`)}`);
    await page.getByText(`team ${games}`).waitFor();
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('button', { name: 'Save job' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/jobs/${games}%2Fweb/edit`);
    await page.getByRole('tab', { name: 'YAML' }).click();
    await page.getByLabel('Job YAML').fill(jobYaml(games, 'edited-in-the-browser'));
    await page.getByText('Valid job.').waitFor();
    await page.getByRole('button', { name: 'Save job' }).click();
    // Before, the editor went to /jobs/web, where this user got the 409 instead of the job.
    await page.waitForURL((u) => u.pathname === `/jobs/${games}%2Fweb`);
    await page.getByText(`team ${games}`).waitFor();
    await expectNoError();
    expect((await master.api.getJob(`${games}/web`)).yaml).toContain('edited-in-the-browser');
    expect((await master.api.getJob(`${shop}/web`)).yaml).toContain(`from-${shop}`);
  }, 60_000);

  it("the log search offers each team's job as team/name and searches within it without a 409", async () => {
    await page.getByRole('link', { name: 'Log search' }).click();
    const select = page.getByLabel('Job');
    await select.locator('option', { hasText: `${shop}/web` }).waitFor({ state: 'attached' });
    expect((await select.locator('option').allTextContents()).sort()).toEqual(['all jobs', ...[games, shop].map((t) => `${t}/web`)].sort());
    await select.selectOption(`${shop}/web`);
    await page.getByRole('searchbox').fill('anything');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No match.').waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
  }, 60_000);

  it('moves a job to another team from its page, and says why when the target has a job of that name', async () => {
    page.on('dialog', (d) => void d.accept());
    const before = await master.api.getJob(`${shop}/web`);
    await go(`/jobs/${encodeURIComponent(`${shop}/web`)}`);
    const form = page.getByRole('form', { name: 'Move job' });
    await form.getByLabel('Team').locator('option', { hasText: arcade }).waitFor({ state: 'attached' });
    // Targets: the teams where this user may edit jobs, not the job's own.
    expect((await form.getByLabel('Team').locator('option').allTextContents()).sort()).toEqual([arcade, games].sort());
    await form.getByLabel('Team').selectOption(games);
    await form.getByRole('button', { name: 'Move job' }).click();
    await form.getByRole('alert').filter({ hasText: `team '${games}' already has a job 'web'` }).waitFor();

    await form.getByLabel('Team').selectOption(arcade);
    await form.getByRole('button', { name: 'Move job' }).click();
    await page.waitForURL((u) => u.pathname === `/jobs/${arcade}%2Fweb`);
    await page.getByText(`team ${arcade}`).waitFor();
    await expectNoError();
    const after = await master.api.getJob(`${arcade}/web`);
    expect(after).toMatchObject({ id: before.id, team: arcade });
    expect((await master.api.listBuilds(`${arcade}/web`)).map((b) => b.id)).toContain(shopBuild);
    // A developer of arcade may not move it out again: the form is not offered.
    expect(await page.getByRole('form', { name: 'Move job' }).count()).toBe(0);
  }, 60_000);
});
