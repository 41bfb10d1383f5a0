/**
 * Notifications end to end with a real master and agent: a failing then a fixed build of a job notify a
 * local webhook receiver (JSON, HMAC-SHA256 signature checked here; its first delivery answered 500 to see
 * the retry), Slack-, DingTalk- and Feishu-shaped chat receivers, and a real SMTP server (smtp-server on
 * loopback, with authentication) that receives the mail; a team channel set with `slipway notify set` is told
 * too. No secret value reaches any of them: the commit message holds one, and only *** arrives.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BuildDetail } from '../../shared/api';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { tempDir, TestRepo } from '../unit/agent-git-fixtures';

const suffix = Math.random().toString(36).slice(2, 8);
const team = `qn-${suffix}`;
const job = `notify-${suffix}`;
const HMAC_KEY = `hmac-key-${suffix}`;
const LEAKY = `s3cr3t-${suffix}-value`;
const DING_SECRET = `SEC-ding-${suffix}`;

interface Received {
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
const mails: { from: string; to: string[]; data: string }[] = [];
let hookCalls = 0;
let receiver: http.Server;
let smtp: SMTPServer;
let master: TestMaster;
let root: string;
let repo: TestRepo;

async function finished(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 90_000 });
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // The generic webhook's first delivery fails: the master must retry it.
      if (req.url === '/hook' && ++hookCalls === 1) {
        res.writeHead(500).end('try again');
        return;
      }
      const path = req.url!.split('?')[0];
      received.push({ path, query: new URL(req.url!, 'http://x').searchParams, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(path === '/dingtalk' ? '{"errcode":0}' : path === '/feishu' ? '{"code":0}' : 'ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      if (auth.username === 'ci' && auth.password === 'mail-pw') cb(null, { user: 'ci' });
      else cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString('utf8')));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  root = tempDir('quality-notify');
  repo = new TestRepo(join(root, 'app'));
  repo.commit(`release with key ${LEAKY}`, { 'README': 'x\n' });
  master = await startMaster({ env: { SLIPWAY_SMTP_URL: `smtp://ci:mail-pw@127.0.0.1:${smtpPort}`, SLIPWAY_SMTP_FROM: 'slipway@ci.test', SLIPWAY_NOTIFY_BACKOFF_MS: '200' } });
  await master.api.createTeam(team);
  await master.api.setSecret(team, 'NOTIFY_HMAC', HMAC_KEY);
  await master.api.setSecret(team, 'LEAKY', LEAKY);
  await master.api.setSecret(team, 'SLACK_URL', `${hookBase}/slack`);
  await master.api.setSecret(team, 'DINGTALK_URL', `${hookBase}/dingtalk?access_token=tok-${suffix}`);
  await master.api.setSecret(team, 'DINGTALK_SIGN', DING_SECRET);
  await master.api.setSecret(team, 'FEISHU_URL', `${hookBase}/feishu`);
  await startAgent(master, { environment: 'ci', name: `ci-${suffix}` });
  await master.api.applyJob(`name: ${job}
team: ${team}
repo: { url: '${repo.url}' }
secrets: [LEAKY]
notify:
  - webhook: ${hookBase}/hook
    secret: NOTIFY_HMAC
    on: [failure, fixed]
  - slack: SLACK_URL
  - dingtalk: DINGTALK_URL
    sign: DINGTALK_SIGN
    on: [failure]
  - feishu: FEISHU_URL
    on: [fixed]
  - email: [dev@example.com, lead@example.com]
stages:
  - name: build
    environment: ci
    steps:
      - name: must be build 2
        sh: test "$SLIPWAY_BUILD_NUMBER" -ge 2
`);
}, 60_000);

afterAll(async () => {
  await master?.stop();
  await new Promise<void>((r) => receiver?.close(() => r()));
  await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  rmSync(root, { recursive: true, force: true });
});

it('delivers failure and fixed to webhook, chat and email channels, retrying a failed delivery, with no secret', async () => {
  const b1 = await finished((await master.api.trigger(job)).id);
  expect(b1.status).toBe('failed');
  const n1 = await waitFor('failure notifications delivered', async () => {
    const list = await master.api.buildNotifications(b1.id);
    return list.length === 4 && list.every((n) => n.status === 'delivered') ? list : undefined;
  }, { timeoutMs: 30_000 });
  expect(n1.map((n) => [n.event, n.kind]).sort()).toEqual([['failure', 'dingtalk'], ['failure', 'email'], ['failure', 'slack'], ['failure', 'webhook']]);
  const hookDelivery = n1.find((n) => n.kind === 'webhook')!;
  expect(hookDelivery.attempts).toBe(2);
  expect(hookDelivery.target).toBe(`127.0.0.1:${(receiver.address() as AddressInfo).port}`);

  const hook = received.find((r) => r.path === '/hook')!;
  expect(hook.headers['x-slipway-event']).toBe('failure');
  expect(hook.headers['x-slipway-signature-256']).toBe(`sha256=${createHmac('sha256', HMAC_KEY).update(hook.body).digest('hex')}`);
  const event = JSON.parse(hook.body);
  expect(event).toMatchObject({ event: 'failure', job, build: { id: b1.id, number: 1, status: 'failed' }, failedSteps: ['build / must be build 2'] });
  expect(JSON.parse(received.find((r) => r.path === '/slack')!.body).text).toMatch(new RegExp(`^${job} #1 failed`));
  expect(JSON.parse(received.find((r) => r.path === '/dingtalk')!.body)).toMatchObject({ msgtype: 'text', text: { content: expect.stringContaining(`${job} #1 failed`) } });
  // DingTalk robot with signing on: timestamp and sign = base64(HMAC-SHA256(secret, "timestamp\nsecret")) in the URL.
  const ding = received.find((r) => r.path === '/dingtalk')!;
  const ts = ding.query.get('timestamp')!;
  expect(ding.query.get('access_token')).toBe(`tok-${suffix}`);
  expect(ding.query.get('sign')).toBe(createHmac('sha256', DING_SECRET).update(`${ts}\n${DING_SECRET}`).digest('base64'));
  expect(mails).toHaveLength(1);
  expect(mails[0]).toMatchObject({ from: 'slipway@ci.test', to: ['dev@example.com', 'lead@example.com'] });
  expect(mails[0].data).toContain(`Subject: ${job} #1 failed`);

  // A team channel (set with the CLI) is told about the team's jobs too.
  const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };
  const set = await runCli(['notify', 'set', team, 'team-hook', `{ webhook: "http://127.0.0.1:${(receiver.address() as AddressInfo).port}/team", on: [fixed] }`], { env });
  expect(set.code, set.stderr).toBe(0);
  expect((await runCli(['notify', 'list', team], { env })).stdout).toMatch(/team-hook\s+\{"webhook":"http:\/\/127\.0\.0\.1:\d+\/team","on":\["fixed"\]\}/);
  const bad = await runCli(['notify', 'set', team, 'bad', '{ slack: "not a secret name" }'], { env });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/channel/);

  const b2 = await finished((await master.api.trigger(job)).id);
  expect(b2.status).toBe('success');
  const n2 = await waitFor('fixed notifications delivered', async () => {
    const list = await master.api.buildNotifications(b2.id);
    return list.length === 5 && list.every((n) => n.status === 'delivered') ? list : undefined;
  }, { timeoutMs: 30_000 });
  expect(n2.map((n) => n.kind).sort()).toEqual(['email', 'feishu', 'slack', 'webhook', 'webhook']);
  expect(JSON.parse(received.find((r) => r.path === '/team')!.body)).toMatchObject({ event: 'fixed', job, build: { number: 2 } });
  expect(JSON.parse(received.find((r) => r.path === '/feishu')!.body)).toMatchObject({ msg_type: 'text', content: { text: expect.stringContaining(`${job} #2 is fixed`) } });

  // The commit message carried a secret value: every notification shows only the mask.
  const everything = [...received.map((r) => r.body), ...mails.map((m) => m.data)].join('\n');
  expect(everything).toContain('release with key ***');
  for (const secret of [LEAKY, HMAC_KEY, 'mail-pw', DING_SECRET]) expect(everything).not.toContain(secret);

  const cli = await runCli(['notifications', String(b1.id)], { env });
  expect(cli.code, cli.stderr).toBe(0);
  expect(cli.stdout).toMatch(/failure\s+webhook\s+127\.0\.0\.1:\d+\s+delivered\s+2/);
}, 240_000);
