/**
 * The stream hub in-process, over a real SQLite file, a real HTTP server and real WebSockets, with the
 * platform's real Access: the replay-to-live hand-over under concurrent commits (no chunk lost, none twice,
 * including late and repeated publishes), and the slow-consumer cut-off (close 1013).
 * The only stand-in is authenticate(): a fixed token per user instead of a JWT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamMessage } from '../../shared/protocol';
import { createAccess } from '../../master/access';
import type { MasterContext, Principal } from '../../master/context';
import { createLogStoreOnDb, type LogStore } from '../../master/engine/logs/log-store';
import { createStreamHub, type StreamHub } from '../../master/engine/stream/hub';
import { openDb, type Db } from '../../master/store/db';
import { waitFor } from '../helpers/wait';

let dir: string;
let db: Db;
let logs: LogStore;
let hub: StreamHub;
let server: http.Server;
let url: string;
const alice: Principal = { userId: 1, username: 'alice', isAdmin: false, scopes: ['read', 'write'], via: 'jwt' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-hub-'));
  db = openDb(dir);
  db.exec(`INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'alice', 'x', 0);
    INSERT INTO teams (id, name, created_at) VALUES (1, 'shop', 0);
    INSERT INTO memberships VALUES (1, 1, 'viewer');
    INSERT INTO jobs (id, name, team_id, yaml, source, created_at, updated_at) VALUES (1, 'web', 1, '', 'api', 0, 0);`);
  const ctx = {
    db,
    log: pino({ level: 'silent' }),
    access: createAccess(db),
    authenticate: (bearer: string) => (bearer === 'alice-token' ? alice : null),
    // No access changes in this file; the hub registers for them.
    onAccessChanged: () => {},
    jobs: { onChange: () => {} },
  } as unknown as MasterContext;
  logs = createLogStoreOnDb(db, ctx.log);
  hub = createStreamHub(ctx, logs, { maxBufferedBytes: 256 * 1024 });
  server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/stream`;
});

afterAll(async () => {
  hub.close();
  await new Promise((r) => server.close(r));
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

let nextBuild = 1;
function newBuild(stages: string[]): { buildId: number; runs: { id: number; name: string }[] } {
  const buildId = Number(db.prepare(`INSERT INTO builds (job_id, number, status, yaml, created_at) VALUES (1, ?, 'running', '', 0)`).run(nextBuild++).lastInsertRowid);
  const runs = stages.map((name, i) => ({
    id: Number(db.prepare(`INSERT INTO stage_runs (build_id, stage_index, name, environment, status) VALUES (?, ?, ?, 'ci', 'running')`).run(buildId, i, name).lastInsertRowid),
    name,
  }));
  return { buildId, runs };
}

/** Commits one chunk the way engine-core does: stored in its own transaction, published after the commit. */
function commit(buildId: number, run: { id: number; name: string }, seq: number, text: string, publish = true): Buffer {
  const data = Buffer.from(text);
  logs.storeChunks([{ stageRunId: run.id, seq, offset: 0, data }], Date.now());
  if (publish) hub.publishLog(buildId, run.id, run.name, seq, 0, data);
  return data;
}

async function connect(): Promise<{ ws: WebSocket; messages: StreamMessage[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, { headers: { authorization: 'Bearer alice-token' } });
  const messages: StreamMessage[] = [];
  ws.on('message', (raw) => messages.push(JSON.parse(raw.toString())));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages, closed };
}

describe('stream hub hand-over', () => {
  it('replays a big stored log while chunks keep committing: every chunk exactly once, in order', async () => {
    const { buildId, runs } = newBuild(['build', 'test']);
    const [build, test] = runs;
    let seq = 0;
    // More than four replay pages stored before the subscription.
    for (; seq < 300; ) commit(buildId, build, ++seq, `b${seq}\n`);
    const { ws, messages } = await connect();
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId }));
    // Keep committing while the replay pages go out: some published at once, some a tick late, some twice.
    for (let round = 0; round < 60; round++) {
      await new Promise((r) => setImmediate(r));
      const s = ++seq;
      const data = commit(buildId, build, s, `b${s}\n`, round % 3 !== 0);
      if (round % 3 === 0) setImmediate(() => hub.publishLog(buildId, build.id, build.name, s, 0, data));
      if (round % 5 === 0) hub.publishLog(buildId, build.id, build.name, s, 0, data);
    }
    for (let t = 1; t <= 20; t++) {
      commit(buildId, test, t, `t${t}\n`);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    db.prepare(`UPDATE builds SET status = 'success' WHERE id = ?`).run(buildId);
    hub.publishEnd(buildId, 'success');
    await waitFor('stream:end', () => messages.some((m) => m.type === 'stream:end'));
    ws.close();

    const got = messages.filter((m) => m.type === 'stream:log').map((m) => (m as { data: string }).data);
    const want = [...Array.from({ length: seq }, (_, i) => `b${i + 1}\n`), ...Array.from({ length: 20 }, (_, i) => `t${i + 1}\n`)];
    expect(got).toEqual(want);
    expect(messages[0]).toEqual({ type: 'stream:subscribed', buildId });
    expect(messages[messages.length - 1]).toEqual({ type: 'stream:end', buildId, status: 'success' });
  });

  it('closes a live subscriber that stops reading with 1013 instead of buffering without bound', async () => {
    const { buildId, runs } = newBuild(['build']);
    const { ws, messages, closed } = await connect();
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId }));
    await waitFor('subscribed', () => messages.length > 0);
    // Stop reading: the master's socket buffer fills once the kernel's is full.
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const chunk = 'x'.repeat(64 * 1024 - 1) + '\n';
    const total = 400; // 25 MiB, far beyond kernel buffers plus the 256 KiB limit
    for (let s = 1; s <= total; s++) commit(buildId, runs[0], s, chunk);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1013);
    expect(messages.filter((m) => m.type === 'stream:log').length).toBeLessThan(total);
  });
});
