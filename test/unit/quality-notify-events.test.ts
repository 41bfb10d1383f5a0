/**
 * Which build status changes notify which events (master/notify/notifier.ts), on the real engine core and
 * store: failed -> failure, success after a failed build of the branch -> fixed, success of a build with a
 * deploy step -> deploy, waiting -> approval; each delivered once to a local webhook receiver.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BuildStatus } from '../../shared/api';
import { Effects } from '../../master/engine/core';
import { startNotifier } from '../../master/notify/notifier';
import { createNotificationsStore } from '../../master/store/notifications';
import { waitFor } from '../helpers/wait';
import { engineFixture, type EngineFixture } from './engine-fixtures';

let f: EngineFixture;
let server: http.Server;
const got: { event: string; number: number }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const e = JSON.parse(body);
      got.push({ event: e.event, number: e.build.number });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  f = engineFixture();
});
afterAll(async () => {
  f.cleanup();
  await new Promise<void>((r) => server.close(() => r()));
});

it('notifies failure, fixed, deploy and approval, each once', async () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const notifier = startNotifier(f.core, { baseUrl: () => 'http://ci.test' });
  try {
    const job = f.addJob(`name: evt
team: shop
notify:
  - webhook: ${url}
    on: [failure, fixed, deploy, approval]
stages:
  - name: deploy
    environment: pre
    steps:
      - deploy: { composeInline: "services: {}", image: app@sha256:0 }
`);
    const setStatus = (id: number, status: BuildStatus) => {
      f.db.prepare('UPDATE builds SET status = ? WHERE id = ?').run(status, id);
      const fx = new Effects();
      fx.status.push({ type: 'stream:status', buildId: id, status });
      f.core.apply(fx);
    };
    const b1 = f.trigger(job, {}, 'main');
    setStatus(b1, 'running');
    setStatus(b1, 'failed');
    const b2 = f.trigger(job, {}, 'main');
    setStatus(b2, 'success');
    setStatus(b2, 'success');
    const b3 = f.trigger(job, {}, 'main');
    setStatus(b3, 'waiting');
    await waitFor('deliveries', async () => (got.length >= 4 ? true : undefined), { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(got.sort((a, b) => a.number - b.number || a.event.localeCompare(b.event))).toEqual([
      { event: 'failure', number: 1 },
      { event: 'deploy', number: 2 },
      { event: 'fixed', number: 2 },
      { event: 'approval', number: 3 },
    ]);
    expect(createNotificationsStore(f.db).forBuild(b2).map((n) => [n.event, n.status, n.attempts])).toEqual([
      ['fixed', 'delivered', 1],
      ['deploy', 'delivered', 1],
    ]);
  } finally {
    notifier.stop();
  }
});
