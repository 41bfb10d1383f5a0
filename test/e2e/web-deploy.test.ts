/**
 * The web UI's environments and deployments in a real browser (Debian's chromium driven by playwright-core)
 * against a real master, real agents, the real Docker engine and registry, a real etcd and a real nginx:
 * a job deploys a busybox httpd image (pushed to the registry, so its digest is known) to `pre`, then to a
 * protected `prod` whose approvers are the ops team.
 *  - approve: an ops member approves the waiting prod stage on the deployments page and the stage then deploys;
 *    the job's developer sees the gate but may not decide it; a member of another team sees neither the gate
 *    nor the deployments nor the build.
 *  - reject, promote (re-run from prod: the same digest), approve on the build page, scale and roll back,
 *    all from the deployments page; instances registered in etcd and the nginx edge are shown.
 *  - registries (admin): add with a write-only password, browse repositories, remove.
 * The deploy is real (not a shell step standing in for it), so the approval gates a real rollout.
 * Screenshots go to test/artifacts/ (git-ignored).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../agent/deploy/rollout';
import { dockerClient } from '../../agent/docker/engine';
import { buildImage } from '../../agent/docker/image-build';
import { pushImage } from '../../agent/docker/image-push';
import type { BuildDetail } from '../../shared/api';
import type { ApiClient } from '../../shared/client/api-client';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { freeTcpPort, startEtcd, startNginx, type TestEtcd, type TestNginx } from '../helpers/discovery';
import { busyboxContext, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { waitFor } from '../helpers/wait';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'test/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const ns = uniqueName('webdep');
const shop = `${ns}-shop`;
const ops = `${ns}-ops`;
const other = `${ns}-other`;
const pre = `${ns}-pre`;
const prod = `${ns}-prod`;
const app = `${ns}-site`;
const job = `${ns}-release`;
const quality = `${ns}-quality`;
const password = 'a-long-password-1';
const users: Record<'dev' | 'op' | 'outsider', { name: string; api?: ApiClient }> = {
  dev: { name: `${ns}-dev` },
  op: { name: `${ns}-op` },
  outsider: { name: `${ns}-outsider` },
};

let env: DockerTestEnv;
let dir: string;
let etcd: TestEtcd;
let nginx: TestNginx;
let master: TestMaster;
let browser: Browser;
let page: Page;
const images: string[] = [];
const refs: string[] = [];
const digests: string[] = [];

const deployStep = `      - deploy:
          app: ${app}
          image: \${{ steps.pick.outputs.reference }}
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                command: [sh, -c, 'exec httpd -f -p $$PORT']
                healthcheck: { tcp: true, start_period: 1s, interval: 200ms, timeout: 1s, retries: 5, deadline: 30s }
                stop_grace_period: 1s
`;

const jobYaml = () => `name: ${job}
team: ${shop}
params:
  - name: REF
    default: ${refs[0]}
stages:
  - name: pre
    environment: ${pre}
    steps:
      - id: pick
        sh: { run: 'echo "reference=$REF" >> "$SLIPWAY_OUTPUT"', outputs: [reference] }
${deployStep}  - name: prod
    environment: ${prod}
    steps:
${deployStep}`;

/**
 * A job whose step writes a JUnit report and a SARIF report: with BREAK=1 the test 'saves' fails and the
 * scanner finds one more (high) problem.
 */
const qualityYaml = () => {
  const result = (rule: string, level: string, file: string, line: number, text: string) =>
    `{"ruleId":"${rule}","level":"${level}","message":{"text":"${text}"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"${file}"},"region":{"startLine":${line}}}}]}`;
  const sarif = (results: string[]) => `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"lintr"}},"results":[${results.join(',')}]}]}`;
  const script = [
    'mkdir -p reports',
    `if [ "$BREAK" = 1 ]; then SAVE='<testcase classname="shop.cart" name="saves" time="0.3"><failure message="expected 1, got 2">diff</failure></testcase>'; else SAVE='<testcase classname="shop.cart" name="saves" time="0.3"/>'; fi`,
    `printf '%s%s%s' '<testsuite name="shop" tests="2"><testcase classname="shop.cart" name="adds" time="0.1"/>' "$SAVE" '</testsuite>' > reports/junit.xml`,
    `if [ "$BREAK" = 1 ]; then printf '%s' '${sarif([result('no-eval', 'warning', 'src/a.js', 3, 'eval is evil'), result('hardcoded-key', 'error', 'src/keys.js', 9, 'a key in the code')])}' > reports/lint.sarif;`,
    `else printf '%s' '${sarif([result('no-eval', 'warning', 'src/a.js', 3, 'eval is evil')])}' > reports/lint.sarif; fi`,
  ];
  return `name: ${quality}
team: ${shop}
params:
  - name: BREAK
    default: "0"
stages:
  - name: check
    environment: ${pre}
    steps:
      - name: checks
        sh:
          junit: reports/junit.xml
          sarif: reports/lint.sarif
          run: |
${script.map((l) => `            ${l}`).join('\n')}
`;
};

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `web-${name}.png`), fullPage: true });
}

async function login(user: string, pw = password): Promise<void> {
  await page.goto(`${master.url}/deployments`);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(pw);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Deployments' }).waitFor();
}

async function logout(): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
}

/** In-app navigation (keeps the in-memory session). */
async function go(path: string): Promise<void> {
  await page.evaluate((to) => {
    window.history.pushState(null, '', to);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}

const settled = (id: number): Promise<BuildDetail> =>
  waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 90_000 });

const waitingAt = (id: number, stage: string) =>
  waitFor(`build ${id} waiting at ${stage}`, async () => {
    const b = await master.api.getBuild(id);
    if (['success', 'failed', 'cancelled', 'timeout'].includes(b.status)) throw new Error(`build ${id} ended ${b.status}: ${b.error}`);
    return b.stages.find((s) => s.name === stage)?.status === 'waiting' ? b : undefined;
  }, { timeoutMs: 90_000 });

/** The build the page navigated to after an action (its URL). */
async function openedBuild(previous: string): Promise<number> {
  await page.waitForURL((u) => /^\/builds\/\d+$/.test(u.pathname) && u.pathname !== previous);
  return Number(/\/builds\/(\d+)$/.exec(page.url())![1]);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (npm test installs it)`);
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) execFileSync('npx', ['vite', 'build', 'web'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(ARTIFACTS, { recursive: true });
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-web-deploy-'));
  // Two versions of the site: a busybox OS layer, and one more layer on it; both pushed, so both have digests.
  busyboxContext(join(dir, 'v1'));
  mkdirSync(join(dir, 'v2'));
  refs.push(`${env.registry}/${ns}/site:1`, `${env.registry}/${ns}/site:2`);
  await buildImage(env.docker, { context: join(dir, 'v1'), tags: [refs[0]], log: () => undefined });
  writeFileSync(join(dir, 'v2', 'index.html'), 'v2\n');
  writeFileSync(join(dir, 'v2', 'Dockerfile'), `FROM ${refs[0]}\nCOPY index.html /index.html\n`);
  await buildImage(env.docker, { context: join(dir, 'v2'), tags: [refs[1]], log: () => undefined });
  images.push(...refs);
  for (const ref of refs) {
    const pushed = await pushImage(env.docker, ref, { log: () => undefined });
    digests.push(pushed.digest);
  }
  // Deploy by digest: the reference the history shows with its digest (the engine has it after the push).
  refs.splice(0, 2, ...refs.map((r, i) => `${r.replace(/:\d+$/, '')}@${digests[i]}`));

  [etcd, nginx] = await Promise.all([startEtcd(dir), startNginx(dir)]);
  [master, browser] = await Promise.all([
    startMaster({ env: { SLIPWAY_ETCD: etcd.url } }),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
  for (const t of [shop, ops, other]) await master.api.createTeam(t);
  for (const [key, team, role] of [
    ['dev', shop, 'developer'],
    ['op', ops, 'developer'],
    ['outsider', other, 'maintainer'],
  ] as const) {
    await master.api.createUser({ username: users[key].name, password });
    await master.api.setMember(team, users[key].name, role);
    users[key].api = await master.login(users[key].name, password);
  }
  await master.api.createEnvironment(pre);
  await master.api.createEnvironment(prod, { protected: true, teams: [ops] });
  // The pre agent registers its instances in etcd and keeps an nginx edge routing to them.
  const preConfig = join(dir, 'pre.yml');
  writeFileSync(
    preConfig,
    `etcd: { endpoints: [${etcd.url}] }\nservices:\n  registration: { ttlSeconds: 5, resyncMs: 2000 }\n  edge:\n    file: ${nginx.includeFile}\n    nginx: ${JSON.stringify(nginx.command)}\n    debounceMs: 20\n    routes: [{ app: ${app}, environment: ${pre}, listen: "127.0.0.1:${await freeTcpPort()}" }]\n`,
  );
  await startAgent(master, { environment: pre, name: `${ns}-pre-agent`, args: ['--config', preConfig] });
  await startAgent(master, { environment: prod, name: `${ns}-prod-agent` });
  await master.api.applyJob(jobYaml());
  await master.api.applyJob(qualityYaml());
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error('page error:', err.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await master?.stop();
  if (env) {
    for (const e of [pre, prod]) await down({ docker: dockerClient(), app, environment: e, host: '127.0.0.1', log: () => undefined }).catch(() => undefined);
    await removeImages(env.docker, [...images]);
  }
  await nginx?.stop();
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('environments and deployments in a real browser', () => {
  let first = 0;

  it('an approver approves a protected deploy on the deployments page and the stage deploys; other teams neither see nor decide it', async () => {
    first = (await users.dev.api!.trigger(job)).id;
    await waitingAt(first, 'prod');

    // Another team's member: no gate, no deployment, and the build is not found.
    await login(users.outsider.name);
    await page.getByTestId('approvals').getByText('No stage waits for an approval.').waitFor();
    await page.getByText("Nothing deployed yet by your teams' jobs.").waitFor();
    expect(await page.getByText(job).count()).toBe(0);
    await go(`/builds/${first}`);
    await page.locator('main .error', { hasText: 'not found' }).waitFor();
    await logout();

    // The job's developer sees the gate (and pre running digest 1) but is not one of its approvers.
    await login(users.dev.name);
    const gate = page.getByTestId(`approval-${first}-prod`);
    await gate.getByText('You are not one of its approvers.').waitFor();
    expect(await gate.textContent()).toContain(`a member of ${ops} (developer or higher), as environment '${prod}' is protected`);
    const preRow = page.getByTestId(`current-${app}-${pre}`);
    await preRow.waitFor();
    expect(await preRow.textContent()).toContain(digests[0].slice(7, 19));
    // The build page says the same: the stage waits, and the developer is not one of its approvers.
    await go(`/builds/${first}`);
    await page.locator('.stage', { hasText: prod }).getByText('You are not one of its approvers.').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await logout();

    // The ops member is told on the dashboard and approves it on the deployments page; the prod stage then
    // deploys the same digest.
    await login(users.op.name);
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('dashboard-approvals').getByText('you may decide').waitFor();
    await page.getByRole('link', { name: 'Decide on the deployments page' }).click();
    const opGate = page.getByTestId(`approval-${first}-prod`);
    await opGate.getByLabel('Comment on stage prod').fill('ship it');
    await shot('deployments-approval');
    // By keyboard: from the comment, Tab reaches Approve and Enter presses it.
    await opGate.getByLabel('Comment on stage prod').press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Approve');
    await page.keyboard.press('Enter');
    await page.getByTestId('approvals').getByText('No stage waits for an approval.').waitFor();
    const done = await settled(first);
    expect(done.status, done.error ?? '').toBe('success');
    expect(done.approvals).toMatchObject([{ stage: 'prod', status: 'approved', decidedBy: users.op.name, comment: 'ship it' }]);
    // The approver is not in the job's team: the deployments of its app are not theirs to see.
    expect(await page.getByTestId(`current-${app}-${prod}`).count()).toBe(0);
    await logout();

    await login(users.dev.name);
    const prodRow = page.getByTestId(`current-${app}-${prod}`);
    await prodRow.waitFor();
    expect(await prodRow.textContent()).toContain(digests[0].slice(7, 19));
    expect(await prodRow.textContent()).toContain(`approved by ${users.op.name}`);
    expect(await page.getByTestId('history').locator('tbody tr').count()).toBe(2);
    await go(`/builds/${first}`);
    await page.getByTestId('approval-history').getByText(`by ${users.op.name}`).waitFor();
    // A deploy step links to the deployments of its app and environment (the filter is in the URL).
    await page.getByRole('link', { name: `${app} in ${prod}: deployments` }).click();
    await page.waitForURL((u) => u.pathname === '/deployments' && u.searchParams.get('environment') === prod && u.searchParams.get('app') === app);
    await page.getByTestId(`current-${app}-${prod}`).waitFor();
    expect(await page.getByTestId(`current-${app}-${pre}`).count()).toBe(0);
    expect(await page.getByTestId('history').locator('tbody tr').count()).toBe(1);
  }, 180_000);

  it('rejects, promotes the digest running in pre to prod, approves on the build page, scales and rolls back', async () => {
    // Version 2: pre deploys it, and ops rejects prod on the deployments page.
    const second = (await users.dev.api!.trigger(job, { params: { REF: refs[1] } })).id;
    await waitingAt(second, 'prod');
    await logout();
    await login(users.op.name);
    const gate = page.getByTestId(`approval-${second}-prod`);
    await gate.getByLabel('Comment on stage prod').fill('not today');
    page.once('dialog', (d) => void d.accept());
    await gate.getByRole('button', { name: 'Reject' }).click();
    const rejected = await settled(second);
    expect(rejected.status).toBe('failed');
    expect(rejected.error).toBe(`stage 'prod' rejected by ${users.op.name}: not today`);
    await logout();

    // The developer promotes what runs in pre (digest 2) to prod: a re-run of build 2 from its prod stage.
    await login(users.dev.name);
    const preRow = page.getByTestId(`current-${app}-${pre}`);
    await preRow.getByText(digests[1].slice(7, 19)).waitFor();
    await shot('deployments');
    page.once('dialog', (d) => void d.accept());
    await preRow.getByRole('button', { name: `Promote to ${prod}` }).click();
    const promoted = await openedBuild('/deployments');
    await waitingAt(promoted, 'prod');
    await logout();

    // Ops approves it on the build page.
    await page.goto(`${master.url}/builds/${promoted}`);
    await page.getByLabel('User').fill(users.op.name);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId(`gate-${promoted}-prod`).getByRole('button', { name: 'Approve' }).click();
    // Once decided, the gate no longer opens the build to ops, who are not in the job's team: the page says so.
    await page.getByText(`You approved stage prod of ${job} #`).waitFor();
    expect(await page.getByText('so it is no longer shown to you').count()).toBe(1);
    expect((await settled(promoted)).status).toBe('success');
    await logout();

    await login(users.dev.name);
    await page.getByTestId(`current-${app}-${prod}`).getByText(digests[1].slice(7, 19)).waitFor();

    // Scale pre to 2 instances: a new build re-running the deploy stage, opened at once.
    await page.getByLabel(`Replicas of ${app} in ${pre}`).fill('2');
    await page.getByTestId(`current-${app}-${pre}`).getByRole('button', { name: 'Scale' }).click();
    const scaled = await openedBuild('/deployments');
    expect((await settled(scaled)).status).toBe('success');
    await go('/deployments');
    await page.getByTestId(`current-${app}-${pre}`).getByText('2/2').waitFor();

    // The instances registered in etcd and the edge that routes to them.
    await page.getByTestId('instances').locator('.mono').nth(1).waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('instances').textContent()).toContain(pre);
    await page.getByTestId('edges').getByText(`${ns}-pre-agent`).waitFor();

    // Roll pre back: the previous image (digest 1) again.
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId(`current-${app}-${pre}`).getByRole('button', { name: 'Roll back' }).click();
    const rolled = await openedBuild('/deployments');
    expect((await settled(rolled)).status).toBe('success');
    await go('/deployments');
    await page.getByTestId(`current-${app}-${pre}`).getByText(digests[0].slice(7, 19)).waitFor();
    const list = await users.dev.api!.listDeployments({ app, environment: pre });
    expect(list[0]).toMatchObject({ digest: digests[0], buildId: rolled });

    // At phone width the page still fits: wide tables scroll inside their own box.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('deployments-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await logout();
  }, 240_000);

  it('shows scan findings (new ones marked, filterable) and tests against history on the build page', async () => {
    const before = await users.dev.api!.trigger(quality);
    expect((await settled(before.id)).status).toBe('success');
    const after = await users.dev.api!.trigger(quality, { params: { BREAK: '1' } });
    expect((await settled(after.id)).status).toBe('success');
    await login(users.dev.name);
    await go(`/builds/${after.id}`);
    const findings = page.getByTestId('findings');
    await findings.getByText('1 high (1 new)').waitFor();
    expect(await findings.getByText('1 medium').textContent()).toBe('1 medium');
    expect(await findings.getByRole('link', { name: `build ${before.id}` }).count()).toBe(1);
    // High first, the new one marked.
    const first = findings.locator('tbody tr').first();
    expect(await first.textContent()).toContain('hardcoded-key');
    expect(await first.textContent()).toContain('src/keys.js:9');
    expect(await first.locator('.tag', { hasText: 'new' }).count()).toBe(1);
    await findings.getByLabel('only new').check();
    await waitFor('only the new finding', async () => (await findings.locator('tbody tr').count()) === 1);
    await findings.getByLabel('only new').uncheck();
    await findings.getByLabel('Severity').selectOption('medium');
    await waitFor('only the medium finding', async () => (await findings.locator('tbody tr').count()) === 1 && (await findings.locator('tbody tr').textContent())!.includes('no-eval'));
    // Tests: failures first, and against the previous build: 'saves' newly failing, the slowest listed.
    expect(await page.getByTestId('tests').locator('tbody tr').first().textContent()).toContain('saves');
    const report = page.getByTestId('test-report');
    await report.getByTestId('newly-failing').getByText('shop.cart › saves').waitFor();
    expect(await report.getByTestId('newly-failing').textContent()).toContain('(was passed)');
    expect(await report.getByTestId('slowest').locator('li').first().textContent()).toContain('saves');
    expect(await report.textContent()).toContain('2 tests: 1 passed, 1 failed');
    await shot('build-quality');
    await logout();
  }, 90_000);

  it('lets an admin add a registry with a write-only password, browse it and remove it, and set who may approve an environment', async () => {
    await login('admin', master.adminPassword);
    const prodSettings = page.getByTestId(`environment-${prod}`);
    await prodSettings.getByLabel(`Approver teams of ${prod}`).fill(`${ops}, ${shop}`);
    await prodSettings.getByRole('button', { name: 'Save' }).click();
    await waitFor('approver teams saved', async () => (await master.api.listEnvironments()).find((e) => e.name === prod)?.teams.length === 2);
    expect((await master.api.listEnvironments()).find((e) => e.name === prod)).toMatchObject({ protected: true, teams: [ops, shop].sort() });
    await page.getByTestId(`environment-${pre}`).getByLabel('protected').check();
    await page.getByTestId(`environment-${pre}`).getByLabel('allow bind mounts').check();
    await page.getByTestId(`environment-${pre}`).getByRole('button', { name: 'Save' }).click();
    await waitFor('pre protected', async () => (await master.api.listEnvironments()).find((e) => e.name === pre)?.protected === true);
    expect((await master.api.listEnvironments()).find((e) => e.name === pre)?.deployPolicy).toEqual({ allowBindMounts: true, allowPrivileged: false, allowDockerSocket: false });
    await page.getByRole('link', { name: 'Registries' }).click();
    const form = page.getByRole('form', { name: 'Add a registry' });
    await form.getByLabel('Name', { exact: true }).fill(`${ns}-reg`);
    await form.getByLabel('Address (host:port)').fill(env.registry);
    await form.getByLabel('Teams granted').fill(shop);
    await form.getByLabel(/^Push prefixes/).fill(`${shop}=${ns}/`);
    await form.getByLabel('User name (optional)').fill('ci');
    await form.getByLabel('Password (optional, never shown again)').fill('reg-pass-never-shown');
    await form.getByRole('button', { name: 'Save registry' }).click();
    const card = page.getByTestId(`registry-${ns}-reg`);
    await card.getByText('password set (never shown)').waitFor();
    expect((await master.api.listRegistries()).find((r) => r.name === `${ns}-reg`)?.grants).toEqual([{ team: shop, prefixes: [`${ns}/`] }]);
    expect(await card.textContent()).toContain(`${shop} ${ns}/`);
    expect(await form.getByLabel('Password (optional, never shown again)').inputValue()).toBe('');
    expect(await page.content()).not.toContain('reg-pass-never-shown');
    await card.getByText('Repositories').click();
    await card.getByText(`${ns}/site`).waitFor();
    await shot('registries');
    page.once('dialog', (d) => void d.accept());
    await card.getByRole('button', { name: 'Remove' }).click();
    await card.waitFor({ state: 'detached' });
    expect((await master.api.listRegistries()).some((r) => r.name === `${ns}-reg`)).toBe(false);
    await logout();
  }, 60_000);
});
