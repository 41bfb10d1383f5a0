/**
 * Notifier plugins end to end with a real master (and agent): plugins/mattermost-notify is installed with the
 * CLI, a job's channel of its kind is validated at apply with the plugin's schema (file:line:col), and a
 * failing build is delivered through it to a real local HTTP receiver in the Mattermost shape: its first
 * attempt answered 500 and retried with backoff, the delivery visible with its attempts. No secret of the
 * job reaches the plugin's payload (a step name holds one; only *** arrives), and the plugin gets no master
 * environment. A team channel of the kind is validated too. test/fixtures/plugins/notify-how shows a
 * notifier that hangs (killed after SLIPWAY_NOTIFY_PLUGIN_TIMEOUT_MS, the delivery failed with the reason)
 * and one that throws.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail, NotificationInfo } from '../../shared/api';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const REPO = join(import.meta.dirname, '..', '..');
const suffix = Math.random().toString(36).slice(2, 8);
const team = `pn-${suffix}`;
const LEAKY = `s3cr3t-${suffix}-value`;
const received: { path: string; body: string }[] = [];
let hookCalls = 0;
let receiver: http.Server;
let base: string;
let master: TestMaster;
let root: string;
let cliEnv: Record<string, string>;

async function finished(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 90_000 });
}

async function settled(buildId: number, kind: string): Promise<NotificationInfo> {
  return waitFor(`${kind} notification of build ${buildId} settled`, async () => {
    const n = (await master.api.buildNotifications(buildId)).find((x) => x.kind === kind);
    return n && n.status !== 'pending' ? n : undefined;
  }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // The first Mattermost post fails: the master must retry it.
      if (req.url!.startsWith('/hooks/') && ++hookCalls === 1) return void res.writeHead(500).end('busy');
      received.push({ path: req.url!, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  root = mkdtempSync(join(tmpdir(), 'slipway-plugins-notify-'));
  master = await startMaster({ env: { SLIPWAY_NOTIFY_BACKOFF_MS: '200', SLIPWAY_NOTIFY_PLUGIN_TIMEOUT_MS: '1500' } });
  await master.api.createTeam(team);
  await startAgent(master, { environment: 'ci', name: `ci-${suffix}` });
  cliEnv = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(root, 'cli.json') };
  await master.api.setSecret(team, 'MM_HOOK', `${base}/hooks/tok-${suffix}`);
  await master.api.setSecret(team, 'LEAKY', LEAKY);
  await master.api.setSecret(team, 'REPORT_URL', `${base}/report`);
}, 60_000);

afterAll(async () => {
  await master?.stop();
  receiver?.close();
  rmSync(root, { recursive: true, force: true });
});

const job = (name: string, channel: string) => `name: ${name}
team: ${team}
secrets: [LEAKY]
notify:
  - ${channel}
stages:
  - name: s
    environment: ci
    steps:
      - name: "push with ${LEAKY}"
        sh: exit 1
`;

describe('notifier plugins', () => {
  it('delivers through the mattermost-notify plugin to a real receiver, retried with backoff, with no secret in the payload', async () => {
    const name = `mm-${suffix}`;
    const channel = 'mattermost: { url: MM_HOOK, channel: builds }';
    // Before the install the kind is unknown, at its line and column (locally and on the master).
    const file = join(root, 'mm.yml');
    writeFileSync(file, job(name, channel));
    const local = await runCli(['apply', '-f', file], { env: cliEnv });
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/mm\.yml:5:17: notify\[0\]\.mattermost: unknown notification channel 'mattermost' \(known: webhook, slack, dingtalk, feishu, email; plugins add more\)/);

    const installed = await runCli(['plugin', 'install', join(REPO, 'plugins', 'mattermost-notify')], { env: cliEnv });
    expect(installed.stdout, installed.stderr).toBe('plugin mattermost-notify@1.0.0 installed: notifiers mattermost\n');
    // Settings are checked with the plugin's schema: a missing field, a secret given as a value.
    await expect(master.api.applyJob(job(name, 'mattermost: { channel: builds }'))).rejects.toThrow(/job\.yml:5:17: notify\[0\]\.mattermost\.url: Invalid input: expected string/);
    await expect(master.api.applyJob(job(name, `mattermost: { url: '${base}/hooks/x' }`))).rejects.toThrow(/job\.yml:5:24: notify\[0\]\.mattermost\.url: the name of a team secret/);
    const applied = await runCli(['apply', '-f', file], { env: cliEnv });
    expect(applied.stderr).toBe('');

    const b = await finished((await master.api.trigger(name)).id);
    expect(b.status).toBe('failed');
    const n = await settled(b.id, 'mattermost');
    expect(n).toMatchObject({ event: 'failure', kind: 'mattermost', status: 'delivered', attempts: 2, target: 'plugin notifier mattermost (secret MM_HOOK)' });
    expect(hookCalls).toBe(2);
    const post = received.find((r) => r.path === `/hooks/tok-${suffix}`)!;
    const body = JSON.parse(post.body) as { text: string; username: string; channel: string; props: { slipway: { event: string; build: number; deliveryId: number } } };
    expect(body).toMatchObject({ username: 'Slipway', channel: 'builds', props: { slipway: { event: 'failure', build: b.id, deliveryId: n.id } } });
    expect(body.text).toContain(`:x: **${name} #${b.number} failed**`);
    expect(body.text).toContain('failed: s / push with ***');
    expect(post.body).not.toContain(LEAKY);
    // The webhook URL (a credential) shows nowhere in the delivery's status.
    expect(JSON.stringify(await master.api.buildNotifications(b.id))).not.toContain(`tok-${suffix}`);
    const cli = await runCli(['notifications', String(b.id)], { env: cliEnv });
    expect(cli.stdout).toMatch(/failure\s+mattermost\s+plugin notifier mattermost \(secret MM_HOOK\)\s+delivered\s+2/);

    // A team channel of the plugin's kind is validated the same way.
    await expect(master.api.setTeamNotifier(team, 'mm', { mattermost: { url: 'MM_HOOK', username: '' } })).rejects.toThrow(/channel\.mattermost\.username: /);
    expect((await master.api.setTeamNotifier(team, 'mm', { mattermost: { url: 'MM_HOOK' }, on: ['failure'] })).channel).toEqual({ notifier: 'mattermost', config: { url: 'MM_HOOK' }, on: ['failure'] });
    await master.api.removeTeamNotifier(team, 'mm');
    const viaCli = await runCli(['notify', 'set', team, 'mm-cli', '{ mattermost: { url: MM_HOOK, channel: ops }, on: [deploy] }'], { env: cliEnv });
    expect(viaCli.stdout, viaCli.stderr).toBe(`team ${team}: channel mm-cli = {"notifier":"mattermost","config":{"url":"MM_HOOK","channel":"ops"},"on":["deploy"]}\n`);
    const badCli = await runCli(['notify', 'set', team, 'mm-bad', '{ mattermost: { url: MM_HOOK, colour: red } }'], { env: cliEnv });
    expect(badCli.stderr).toMatch(/channel\.mattermost: .*colour/);
    await master.api.removeTeamNotifier(team, 'mm-cli');
  }, 120_000);

  it('kills a notifier that hangs after the timeout, fails one that throws (its secret masked in the error), and gives it no master environment', async () => {
    const installed = await runCli(['plugin', 'install', join(REPO, 'test', 'fixtures', 'plugins', 'notify-how')], { env: cliEnv });
    expect(installed.stdout, installed.stderr).toContain('plugin notify-how@1.0.0 installed');
    for (const how of ['hang', 'throw', 'leak', 'env']) await master.api.applyJob(job(`how-${how}-${suffix}`, `notify-how: { how: ${how}, report: REPORT_URL }`));
    const [hang, thrown, leak, env] = await Promise.all(['hang', 'throw', 'leak', 'env'].map(async (how) => finished((await master.api.trigger(`how-${how}-${suffix}`)).id)));

    const e = await settled(env.id, 'notify-how');
    expect(e.status).toBe('delivered');
    const report = JSON.parse(received.find((r) => r.path === '/report')!.body) as { env: Record<string, string>; uid: number; keys: string[]; event: unknown };
    expect(Object.keys(report.env).filter((k) => k.startsWith('SLIPWAY'))).toEqual([]);
    if (process.getuid?.() === 0) expect(report.uid).toBe(65534);
    expect(report.keys).toEqual(['config', 'deliveryId', 'event', 'kind', 'plugin', 'secrets', 'timeoutMs']);
    expect(JSON.stringify(report.event)).not.toContain(LEAKY);

    const t = await settled(thrown.id, 'notify-how');
    expect(t).toMatchObject({ status: 'failed', attempts: 6, lastError: "plugin notify-how@1.0.0: the 'notify-how' notifier threw: the chat service said no" });
    // The notifier put its secret (the URL in REPORT_URL) in its error: the delivery's lastError masks it.
    const l = await settled(leak.id, 'notify-how');
    expect(l).toMatchObject({ status: 'failed', lastError: "plugin notify-how@1.0.0: the 'notify-how' notifier threw: the chat service refused ***?x=1" });
    expect(JSON.stringify(await master.api.buildNotifications(leak.id))).not.toContain(`${base}/report`);
    const h = await settled(hang.id, 'notify-how');
    expect(h).toMatchObject({ status: 'failed', attempts: 6, lastError: "plugin notify-how@1.0.0: the 'notify-how' notifier did not finish within 1500 ms" });
  }, 120_000);
});
