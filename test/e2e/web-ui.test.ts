/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core) against a real master and a real
 * agent started like the integration tests do: log in, see only the jobs of one's teams, create a job in the
 * YAML editor (live validation by the shared schema), trigger a build with
 * a parameter, watch its log arrive live, search it, see a log line with <script>, HTML and ANSI codes
 * rendered as coloured text, search logs across builds, cancel a running build, open a 200,000-line log,
 * log out, manage agent tokens, teams, members and secrets as an admin, and lose the session when the master refuses the token. Screenshots go to test/artifacts/ (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../shared/client/api-client';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const suffix = Math.random().toString(36).slice(2, 8);
const team = `web-${suffix}`;
const otherTeam = `web-other-${suffix}`;
const user = `dev-${suffix}`;
const password = 'dev-password-123';
const job = `web-job-${suffix}`;
const slowJob = `web-slow-${suffix}`;
const hiddenJob = `web-hidden-${suffix}`;
const bigJob = `web-big-${suffix}`;
const madeJob = `web-made-${suffix}`;
const formJob = `web-form-${suffix}`;
const pluginJob = `web-plugin-${suffix}`;
const failJob = `web-fail-${suffix}`;
const BIG_LINES = 200_000;

let master: TestMaster;
let dev: ApiClient;
let browser: Browser;
let page: Page;

// The hostile line: a script tag, markup and an image with an onerror handler, in red and bold.
const HOSTILE = String.raw`printf '\033[1;31mRED <script>window.__pwned=1</script> <b>bold?</b> <img src=x onerror="window.__pwned=2">\033[0m plain\n'`;

/** A job of one ci stage; each step is [name, script, extra YAML lines of its `sh` map]. */
function jobYaml(name: string, teamName: string, steps: [string, string, string[]?][], params = ''): string {
  const lines = [`name: ${name}`, `team: ${teamName}`, params, 'stages:', '  - name: build', '    environment: ci', '    steps:'];
  for (const [stepName, script, extra = []] of steps) {
    lines.push(`      - name: ${stepName}`, '        sh:', ...extra.map((e) => `          ${e}`), '          run: |');
    for (const l of script.split('\n')) lines.push(`            ${l}`);
  }
  return lines.filter(Boolean).join('\n') + '\n';
}

// A JUnit report with one failing and one passing test (the step itself does not fail on it).
const JUNIT = [
  'mkdir -p reports',
  `cat > reports/junit.xml <<'XML'`,
  '<testsuite name="ui" tests="2" failures="1"><testcase classname="ui.cart" name="adds an item" time="0.01"/>',
  '<testcase classname="ui.cart" name="removes an item" time="0.02"><failure message="expected 0 items">boom</failure></testcase></testsuite>',
  'XML',
].join('\n');

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `web-${name}.png`), fullPage: true });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm test installs it)`);
  // The master serves web/dist; npm test builds it first, this covers running the file alone.
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  const started = Date.now();
  [master, browser] = await Promise.all([
    startMaster(),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
  await Promise.all([master.api.createTeam(team), master.api.createTeam(otherTeam), master.api.createUser({ username: user, password })]);
  await master.api.setMember(team, user, 'developer');
  await startAgent(master, { environment: 'ci', capacity: 2 });
  await master.api.applyJob(
    jobYaml(
      job,
      team,
      [
        ['run', [HOSTILE, 'for i in 1 2 3 4 5 6; do echo "tick $i of $GREETING"; sleep 0.4; done', 'echo "done $GREETING"'].join('\n')],
        ['image meta', 'echo "digest=sha256:0123456789abcdef" >> "$SLIPWAY_OUTPUT"', ['outputs: [digest]']],
        ['unit tests', JUNIT, ['junit: reports/junit.xml']],
      ],
      'params:\n  - name: GREETING\n    default: hello',
    ),
  );
  await master.api.applyJob(jobYaml(slowJob, team, [['wait', 'echo started slowly\nsleep 60']]));
  await master.api.applyJob(jobYaml(hiddenJob, otherTeam, [['secret', 'echo secret']]));
  await master.api.applyJob(jobYaml(bigJob, team, [['print', `seq -f 'line %g of the big log' 1 ${BIG_LINES}`]]));
  dev = await master.login(user, password);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  console.log(`web-ui setup: ${Date.now() - started} ms`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await master?.stop();
});

describe('web UI in a real browser', () => {
  it('logs in and lists only the jobs of the teams one belongs to', async () => {
    await page.goto(master.url);
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await shot('dashboard');
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('link', { name: job, exact: true }).waitFor();
    expect(await page.getByRole('link', { name: slowJob }).count()).toBe(1);
    expect(await page.getByText(hiddenJob).count()).toBe(0);
    await shot('jobs');
    // Another team's job by its URL: the master answers 404, and the page says so without its content.
    await page.evaluate((path) => {
      window.history.pushState(null, '', path);
      window.dispatchEvent(new PopStateEvent('popstate'));
    }, `/jobs/${hiddenJob}`);
    await page.locator('main .error', { hasText: 'not found' }).waitFor();
    expect(await page.getByText('echo secret').count()).toBe(0);
  });

  it('creates a job in the YAML editor, validated live by the shared schema with errors at their line', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: 'New job' }).click();
    await page.getByRole('tab', { name: 'YAML' }).click();
    const editor = page.getByLabel('Job YAML');
    await editor.waitFor();
    const bad = [`name: ${madeJob}`, `team: ${team}`, 'stages:', '  - name: build', '    environment: ci', '    timeoutz: 5m', '    steps:', '      - sh: echo made in the browser', ''].join('\n');
    await editor.fill(bad);
    const issues = page.getByTestId('job-issues');
    await issues.getByText("unknown field 'timeoutz'").waitFor();
    expect(await issues.locator('li').textContent()).toMatch(/^line 6:\d+ stages\[0\]\.timeoutz/);
    // A click on the problem selects its line in the editor.
    await issues.locator('li').getByRole('button').click();
    expect(await editor.evaluate((el: HTMLTextAreaElement) => el.value.slice(el.selectionStart, el.selectionEnd))).toBe('    timeoutz: 5m');
    expect(await page.getByRole('button', { name: 'Save job' }).isDisabled()).toBe(true);
    await editor.fill(bad.replace('timeoutz:', 'timeout:'));
    await page.getByText('Valid job.').waitFor();
    expect(await page.getByTestId('job-preview').textContent()).toContain('on ci');
    await shot('job-editor');
    await page.getByRole('button', { name: 'Save job' }).click();
    await page.waitForURL(`${master.url}/jobs/${madeJob}`);
    await page.getByRole('heading', { name: madeJob }).waitFor();
    expect((await dev.getJob(madeJob)).yaml).toContain('echo made in the browser');
  });

  it('creates a job in the form (fields generated from the step kinds\' schema), errors at the field, the YAML in sync', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: 'New job' }).click();
    const form = page.getByTestId('job-form');
    await form.waitFor();
    const yaml = page.getByLabel('Job YAML');
    const field = (label: string) => form.getByLabel(label, { exact: true });
    await field('Job name').fill(formJob);
    await field('Team').selectOption(team);
    // A field the shared schema refuses shows the problem under itself, and the YAML view has the same value.
    await field('Stage 1 environment').fill('Bad Env');
    const envField = form.locator('div.field', { has: page.getByLabel('Stage 1 environment', { exact: true }) });
    await envField.locator('.field-issue').getByText('environment must be 1-63 characters').waitFor();
    expect(await field('Stage 1 environment').getAttribute('aria-invalid')).toBe('true');
    expect(await yaml.inputValue()).toContain('environment: Bad Env');
    await field('Stage 1 environment').fill('ci');
    await envField.locator('.field-issue').waitFor({ state: 'detached' });
    // The shell step's short form switched to its options keeps the command as `run`.
    await field('Step 1.1 sh form').selectOption({ label: 'options' });
    expect(await field('Step 1.1 sh run').inputValue()).toBe('echo "$GREETING from $APP"');
    await field('Step 1.1 sh junit').fill('reports/junit.xml');
    // A new step of the deploy kind: its fields come from the kind's JSON Schema; its own rule shows at the step.
    await form.getByRole('button', { name: 'Add a step to stage 1' }).click();
    await field('Step 1.2 kind').selectOption('deploy');
    await form.getByText('give either compose: (a file in the workspace) or composeInline:').waitFor();
    await field('Step 1.2 deploy app (optional)').fill('Shop_Web');
    await form.locator('div.field', { has: page.getByLabel('Step 1.2 deploy app (optional)', { exact: true }) }).locator('.field-issue').getByText('app names are 1-63 characters').waitFor();
    await field('Step 1.2 deploy app (optional)').fill('shop-web');
    await field('Step 1.2 deploy composeInline (optional)').fill('services: { web: { image: "${IMAGE}" } }');
    await field('Step 1.2 deploy replicas (optional)').fill('2');
    // Steps reorder: the deploy step moved up comes first, moved back the shell step does.
    await form.getByRole('button', { name: 'Move step 1.2 up' }).click();
    expect((parseYaml(await yaml.inputValue()) as { stages: { steps: object[] }[] }).stages[0].steps[0]).toHaveProperty('deploy');
    await form.getByRole('button', { name: 'Move step 1.2 up' }).click();
    expect((parseYaml(await yaml.inputValue()) as { stages: { steps: object[] }[] }).stages[0].steps[0]).toHaveProperty('sh');
    // Environment variables, secrets by name, and a second stage behind an approval.
    await field('Job environment variables').fill('APP=shop\nLEVEL=info');
    await field('Job environment variables').blur();
    await field('Secrets (team secrets by name)').fill('DEPLOY_KEY');
    await field('Secrets (team secrets by name)').blur();
    await form.getByRole('button', { name: 'Add a stage' }).click();
    await field('Stage 2 environment').fill('ci');
    await field('Stage 2 waits for an approval').check();
    // The short form and the options carry the command both ways.
    await field('Step 2.1 sh form').selectOption({ label: 'options' });
    expect(await field('Step 2.1 sh run').inputValue()).toBe('echo hello');
    await field('Step 2.1 sh form').selectOption({ label: 'short form' });
    expect(await field('Step 2.1 sh').inputValue()).toBe('echo hello');
    // A required field emptied to be retyped keeps its place in the YAML.
    await field('Job name').fill('');
    expect((await yaml.inputValue()).split('\n')[0]).toBe('name: ""');
    await field('Job name').fill(formJob);
    expect((await yaml.inputValue()).split('\n')[0]).toBe(`name: ${formJob}`);
    await page.getByText('Valid job.').waitFor();
    await shot('job-form');
    // At phone width the form and the YAML stack and fit.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('job-form-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    const saved = parseYaml(await yaml.inputValue());
    expect(saved).toMatchObject({
      name: formJob,
      team,
      env: { APP: 'shop', LEVEL: 'info' },
      secrets: ['DEPLOY_KEY'],
      stages: [
        {
          name: 'build',
          environment: 'ci',
          steps: [
            { name: 'hello', sh: { run: 'echo "$GREETING from $APP"', junit: 'reports/junit.xml' } },
            { deploy: { app: 'shop-web', composeInline: 'services: { web: { image: "${IMAGE}" } }', replicas: 2 } },
          ],
        },
        { name: 'stage2', environment: 'ci', approval: { teams: [team] }, steps: [{ sh: 'echo hello' }] },
      ],
    });
    // The YAML view edits the same job: the form follows it.
    await yaml.fill((await yaml.inputValue()).replace('description: What this job does.', 'description: Made in the form.'));
    expect(await field('Description (optional)').inputValue()).toBe('Made in the form.');
    await page.getByRole('button', { name: 'Save job' }).click();
    await page.waitForURL(`${master.url}/jobs/${formJob}`);
    const stored = await dev.getJob(formJob);
    expect(parseYaml(stored.yaml)).toEqual({ ...saved, description: 'Made in the form.' });
    expect(stored.stages).toEqual([
      { name: 'build', environment: 'ci' },
      { name: 'stage2', environment: 'ci' },
    ]);
    // Editing it again opens the form on the stored job; a change touches only its own line of the YAML.
    await page.getByRole('link', { name: 'Edit' }).click();
    await field('Description (optional)').waitFor();
    expect(await field('Description (optional)').inputValue()).toBe('Made in the form.');
    await field('Step 1.2 deploy replicas (optional)').fill('3');
    await page.getByText('Valid job.').waitFor();
    const edited = await page.getByLabel('Job YAML').inputValue();
    expect(edited).toBe(stored.yaml.replace('replicas: 2', 'replicas: 3'));
    await page.getByRole('button', { name: 'Save job' }).click();
    await page.waitForURL(`${master.url}/jobs/${formJob}`);
    expect((await dev.getJob(formJob)).yaml).toBe(edited);
  }, 60_000);

  it("validates a job using a plugin's step kind with the enabled plugins' manifests, and gives the kind a form from its schema", async () => {
    const installed = await runCli(['plugin', 'install', join(ROOT, 'plugins', 'dockerfile-lint')], {
      env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(ARTIFACTS, 'no-cli-config.json') },
    });
    expect(installed.stderr).toBe('');
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: 'New job' }).click();
    await page.getByRole('tab', { name: 'YAML' }).click();
    const editor = page.getByLabel('Job YAML');
    await editor.fill([`name: ${pluginJob}`, `team: ${team}`, 'stages:', '  - name: lint', '    environment: ci', '    steps:', '      - dockerfile-lint: { failOn: warning }', ''].join('\n'));
    await page.getByText('Valid job.').waitFor();
    expect(await page.getByTestId('job-preview').textContent()).toContain('dockerfile-lint');
    // The plugin's own schema still applies.
    await editor.fill((await editor.inputValue()).replace('failOn: warning', 'failOn: sometimes'));
    await page.getByTestId('job-issues').getByText('stages[0].steps[0].dockerfile-lint.failOn').waitFor();
    await editor.fill((await editor.inputValue()).replace('failOn: sometimes', 'failOn: warning'));
    // In the form: its fields from the manifest's JSON Schema, a choice for an enum.
    await page.getByRole('tab', { name: 'Form' }).click();
    const form = page.getByTestId('job-form');
    expect(await form.getByLabel('Step 1.1 kind', { exact: true }).inputValue()).toBe('dockerfile-lint');
    await form.getByLabel('Step 1.1 dockerfile-lint failOn (optional)', { exact: true }).selectOption('none');
    expect(await editor.inputValue()).toContain('dockerfile-lint: { failOn: none }');
    await page.getByText('Valid job.').waitFor();
    await page.getByRole('button', { name: 'Save job' }).click();
    await page.waitForURL(`${master.url}/jobs/${pluginJob}`);
  }, 60_000);

  it('triggers a build with a parameter and shows its log live, escaped and coloured', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('link', { name: job, exact: true }).click();
    await page.getByLabel('GREETING').fill('hi-from-the-browser');
    await page.getByRole('button', { name: 'Run build' }).click();
    await page.waitForURL(/\/builds\/\d+$/);
    const buildId = Number(/\/builds\/(\d+)$/.exec(page.url())![1]);

    // Live: a line printed while the build still runs is on the page before the build ends.
    const log = page.getByTestId('log');
    await log.getByText('tick 2 of hi-from-the-browser').waitFor({ timeout: 20_000 });
    expect((await dev.getBuild(buildId)).status).toBe('running');
    await log.getByText('done hi-from-the-browser').waitFor({ timeout: 20_000 });
    await page.locator('.page-head .status-success').waitFor({ timeout: 10_000 });

    // The hostile line is text: no element came out of it, nothing ran, and its colour is the ANSI red.
    const red = log.locator('span.ansi-fg-1', { hasText: 'RED <script>' });
    await red.waitFor();
    expect(await red.textContent()).toBe('RED <script>window.__pwned=1</script> <b>bold?</b> <img src=x onerror="window.__pwned=2">');
    expect(await red.getAttribute('class')).toBe('ansi-fg-1 ansi-bold');
    expect(await red.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(224, 108, 117)');
    expect(await log.locator('script, b, img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await log.getByText('plain', { exact: false }).last().textContent()).toContain(' plain');

    // Stages and steps with their status and duration.
    await page.locator('.stage', { hasText: 'build' }).locator('.status-success').first().waitFor();
    expect(await page.locator('.steps li', { hasText: 'run' }).locator('.step-dur').textContent()).toMatch(/\d+(\.\d+)? ?(ms|s)/);

    // Step outputs and test results, failures first.
    await page.getByTestId('outputs').getByText('sha256:0123456789abcdef').waitFor();
    const firstTest = page.getByTestId('tests').locator('tbody tr').first();
    expect(await firstTest.textContent()).toContain('removes an item');
    expect(await firstTest.locator('.status').textContent()).toBe('failed');

    // Search within the log.
    await page.getByLabel('Search the log').fill('tick 4');
    await page.getByText('1 / 1').waitFor();
    await page.getByLabel('Search the log').press('Enter');
    expect(await log.locator('.log-current').textContent()).toContain('tick 4 of hi-from-the-browser');
    await shot('build');
    // At phone width the page still fits: nothing wider than the viewport but the log's own scroller.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('build-phone');
    await page.setViewportSize({ width: 1280, height: 900 });

    // Re-run: a new build of the same job with the same parameters, opened at once.
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForURL((u) => /\/builds\/\d+$/.test(u.pathname) && u.pathname !== `/builds/${buildId}`);
    const rerun = await dev.getBuild(Number(/\/builds\/(\d+)$/.exec(page.url())![1]));
    expect(rerun.params).toEqual({ GREETING: 'hi-from-the-browser' });
    await page.getByRole('heading', { name: `${job} #2` }).waitFor();
  }, 60_000);

  it('searches logs across builds with the words highlighted, the log still only text', async () => {
    await page.getByRole('link', { name: 'Log search' }).click();
    await page.getByLabel('Search all logs').fill('pwned');
    const hits = page.getByTestId('search-hits');
    // The full-text index trails the stored log by up to a second or so: search again until it answers.
    await waitFor('a search hit', async () => {
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForTimeout(200);
      return (await hits.count()) > 0;
    });
    expect(await hits.getByRole('link', { name: `${job} #1` }).count()).toBe(1);
    expect(await hits.locator('mark').first().textContent()).toMatch(/pwned/i);
    expect(await hits.getByText('<script>', { exact: false }).count()).toBeGreaterThan(0);
    expect(await hits.locator('script, b, img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    await shot('search');
  }, 30_000);

  it('cancels a running build', async () => {
    const b = await dev.trigger(slowJob);
    await page.goto(`${master.url}/builds/${b.id}`);
    // A reload loses the in-memory session: log in again, the page stays on the build.
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('log').getByText('started slowly').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.page-head .status-cancelled').waitFor({ timeout: 20_000 });
    await waitFor('build cancelled', async () => (await dev.getBuild(b.id)).status === 'cancelled');
    expect(await page.getByRole('button', { name: 'Re-run' }).count()).toBe(1);
  }, 45_000);

  it('opens a 200,000-line log with its last line in view, rendering only the visible rows', async () => {
    const b = await dev.trigger(bigJob);
    await waitFor('big build finished', async () => (await dev.getBuild(b.id)).status === 'success', { timeoutMs: 30_000 });
    const t0 = Date.now();
    await page.evaluate((to) => {
      window.history.pushState(null, '', to);
      window.dispatchEvent(new PopStateEvent('popstate'));
    }, `/builds/${b.id}`);
    const last = page.getByTestId('log').getByText(`line ${BIG_LINES} of the big log`, { exact: true });
    await last.waitFor({ timeout: 20_000 });
    const ms = Date.now() - t0;
    console.log(`ui_log_200k_render_ms: ${ms}`);
    expect(await page.getByText(`${(BIG_LINES + 1).toLocaleString('en-US')} lines`).count()).toBe(1);
    expect(await page.locator('.log-line').count()).toBeLessThan(200);
    expect(await page.getByLabel('Follow').isChecked()).toBe(true);
    // Scrolled to the top, the first lines are drawn instead, and follow mode pauses.
    await page.getByTestId('log').evaluate((el) => (el.scrollTop = 0));
    await page.getByTestId('log').getByText('line 1 of the big log', { exact: true }).waitFor();
    expect(await page.getByLabel('Follow').isChecked()).toBe(false);
    await shot('big-log');
    // A line link (#L<n>) opens the log at that line, follow mode off.
    const go = (to: string) =>
      page.evaluate((path) => {
        window.history.pushState(null, '', path);
        window.dispatchEvent(new PopStateEvent('popstate'));
      }, to);
    await go('/agents');
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await go(`/builds/${b.id}#L150001`);
    await page.getByTestId('log').getByText('line 150000 of the big log', { exact: true }).waitFor();
    expect(await page.getByLabel('Follow').isChecked()).toBe(false);
    expect(await page.getByTestId('log').getByText(`line ${BIG_LINES} of the big log`, { exact: true }).count()).toBe(0);
  }, 45_000);

  it('shows agents per environment and logs out', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByTestId('env-ci').locator('.status-connected, .status-busy').first().waitFor();
    await shot('agents');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
  });

  it('lets an admin create an environment, an agent token (with the command to start an agent) and revoke it', async () => {
    await page.goto(`${master.url}/agents`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(master.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('New environment name').fill(`uienv${suffix}`);
    await page.getByRole('button', { name: 'Create environment' }).click();
    await page.getByTestId(`env-uienv${suffix}`).getByText('No agent in this environment.').waitFor();
    const tokens = page.getByTestId('tokens-ci');
    await tokens.locator('summary').click();
    await tokens.getByLabel('New agent name').fill(`ui-agent-${suffix}`);
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const created = tokens.getByTestId('created-token');
    await created.waitFor();
    expect(await created.locator('pre').textContent()).toContain(`--name ui-agent-${suffix} --environment ci`);
    expect((await created.getByLabel('Agent token').inputValue()).length).toBeGreaterThan(20);
    page.once('dialog', (d) => void d.accept());
    await tokens.locator('li', { hasText: `ui-agent-${suffix}` }).getByRole('button', { name: 'Revoke' }).click();
    await tokens.locator('li', { hasText: `ui-agent-${suffix}` }).getByText('revoked').waitFor();
  });

  it('lets an admin create a team, add a member and set a write-only secret', async () => {
    const newTeam = `ui-team-${suffix}`;
    await page.getByRole('link', { name: 'Teams' }).click();
    await page.getByLabel('New team name').fill(newTeam);
    await page.getByRole('button', { name: 'Create team' }).click();
    const card = page.getByTestId(`team-${newTeam}`);
    await card.waitFor();
    await card.getByLabel('User name').fill(user);
    await card.getByLabel('Role', { exact: true }).selectOption('viewer');
    await card.getByRole('button', { name: 'Add member' }).click();
    await card.getByLabel(`Role of ${user}`).waitFor();
    expect(await card.getByLabel(`Role of ${user}`).inputValue()).toBe('viewer');
    await card.getByLabel('Secret name').fill('DEPLOY_KEY');
    await card.getByLabel('Secret value').fill('s3cret-value-never-shown');
    await card.getByRole('button', { name: 'Set secret' }).click();
    await card.getByTestId(`secrets-${newTeam}`).getByText('DEPLOY_KEY').waitFor();
    expect(await card.getByLabel('Secret value').inputValue()).toBe('');
    expect(await page.content()).not.toContain('s3cret-value-never-shown');
    expect((await master.api.listTeams()).find((t) => t.name === newTeam)?.members).toEqual([{ username: user, role: 'viewer' }]);
    await shot('teams');
    await page.getByRole('button', { name: 'Log out' }).click();
  });

  it("lets an admin (any maintainer) set a team notification channel; the build page shows its delivery to a real HTTP receiver", async () => {
    // The receiver stands in for a chat service's webhook endpoint: a real HTTP server recording the calls.
    const calls: string[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    try {
      await page.goto(`${master.url}/teams`);
      await page.getByLabel('User').fill('admin');
      await page.getByLabel('Password').fill(master.adminPassword);
      await page.getByRole('button', { name: 'Log in' }).click();
      const channels = page.getByTestId(`notifiers-${team}`);
      await channels.getByLabel('Channel name').fill('ui-hook');
      await channels.getByLabel('Channel target').fill(url);
      await channels.getByLabel('fixed').uncheck();
      await channels.getByRole('button', { name: 'Save channel' }).click();
      await channels.getByText(`webhook ${url} on failure`).waitFor();
      expect(await master.api.teamNotifiers(team)).toMatchObject([{ name: 'ui-hook', channel: { webhook: url, on: ['failure'] } }]);
      // A bad channel: the master's answer names the problem.
      await channels.getByLabel('Channel name').fill('bad-hook');
      await channels.getByLabel('Channel kind').selectOption('email');
      await channels.getByLabel('Channel target').fill('not-an-address');
      await channels.getByRole('button', { name: 'Save channel' }).click();
      await channels.getByRole('alert').waitFor();
      expect(await channels.getByRole('alert').textContent()).toMatch(/email/i);

      await master.api.applyJob(jobYaml(failJob, team, [['fail', 'echo about to fail\nexit 3']]));
      const b = await master.api.trigger(failJob);
      await waitFor('the failure delivered', async () => calls.length > 0, { timeoutMs: 30_000 });
      await page.evaluate((to) => {
        window.history.pushState(null, '', to);
        window.dispatchEvent(new PopStateEvent('popstate'));
      }, `/builds/${b.id}`);
      const notes = page.getByTestId('notifications');
      await notes.getByText('delivered', { exact: false }).waitFor();
      expect(await notes.textContent()).toContain(`failure to webhook 127.0.0.1:${(receiver.address() as AddressInfo).port}`);
      await page.getByRole('link', { name: 'Teams' }).click();
      page.once('dialog', (d) => void d.accept());
      await page.getByTestId(`notifiers-${team}`).locator('li', { hasText: 'ui-hook' }).getByRole('button', { name: 'Remove' }).click();
      await page.getByTestId(`notifiers-${team}`).getByText('No channels', { exact: false }).waitFor();
      await page.getByRole('button', { name: 'Log out' }).click();
    } finally {
      receiver.close();
    }
  }, 60_000);

  it('lets an admin see, disable, enable and (re)install plugins; removing one a job uses is refused, naming the job', async () => {
    await page.goto(`${master.url}/plugins`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(master.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    const card = page.getByTestId('plugin-dockerfile-lint');
    await card.getByText('1.0.0', { exact: true }).waitFor();
    expect(await card.textContent()).toContain('dockerfile-lint');
    await page.getByTestId('step-kinds').getByText('dockerfile-lint', { exact: true }).waitFor();
    await card.getByRole('button', { name: 'Disable' }).click();
    await card.locator('.status-disabled').waitFor();
    expect((await master.api.listPluginPackages()).find((p) => p.name === 'dockerfile-lint')?.enabled).toBe(false);
    await card.getByRole('button', { name: 'Enable' }).click();
    await card.locator('.status-enabled').waitFor();
    page.once('dialog', (d) => void d.accept());
    await card.getByRole('button', { name: 'Remove' }).click();
    await card.getByRole('alert').getByText(`used by job '${pluginJob}'`, { exact: false }).waitFor();
    // The same package uploaded from a file: unchanged.
    const tgz = join(ARTIFACTS, 'dockerfile-lint.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', join(ROOT, 'plugins', 'dockerfile-lint'), '--exclude=./node_modules', '--transform', 's,^\\.,package,', '.']);
    await page.getByLabel('Plugin package').setInputFiles(tgz);
    await page.getByRole('button', { name: 'Install' }).click();
    await page.getByText('dockerfile-lint 1.0.0 unchanged').waitFor();
    await shot('plugins');
    await page.getByRole('button', { name: 'Log out' }).click();
  });

  it('ends the session when the master refuses the token (user disabled)', async () => {
    await page.goto(master.url);
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await master.api.setUserDisabled(user, true);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByText('session expired or revoked: log in again').waitFor();
    expect(await page.getByRole('button', { name: 'Log in' }).count()).toBe(1);
  });
});
