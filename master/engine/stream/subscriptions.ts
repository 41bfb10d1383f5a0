/**
 * The registry of build subscriptions behind the client stream, and the replay-then-live hand-over.
 *
 * No chunk lost, none sent twice: a new subscription replays stored chunks page by page from the store,
 * remembering per stage run the highest seq sent (its cursor). While replaying it ignores live chunks: they
 * are committed before they are published (engine-core's contract), so the next page reads them from the
 * store. The page that finds nothing more switches the subscription to live in the same synchronous tick, so
 * every chunk committed afterwards arrives through publishLog. Live chunks at or below the cursor are dropped,
 * which also covers a publish that comes a tick after its commit.
 *
 * Backpressure: replay sends a page (about REPLAY_PAGE_BYTES) and waits until the socket's buffer drains
 * below REPLAY_LOW_WATER before the next one; a live subscriber whose buffer exceeds maxBufferedBytes is
 * closed with 1013 (try again later) rather than buffered without bound.
 */
import type { WebSocket } from 'ws';
import type { BuildStatus, StreamMessage } from '../../../shared/protocol';
import type { Db } from '../../store/db';
import { stageRunsOf } from '../logs/build-log';
import type { LogStore } from '../logs/log-store';

const REPLAY_PAGE_CHUNKS = 64;
const REPLAY_PAGE_BYTES = 1024 * 1024;
const REPLAY_LOW_WATER = 1024 * 1024;
/** WebSocket close code 1013: "try again later". */
export const CLOSE_TRY_AGAIN_LATER = 1013;

export interface StreamClient {
  ws: WebSocket;
  subs: Map<number, Subscription>;
}

export interface Subscription {
  client: StreamClient;
  buildId: number;
  /** false while replaying stored chunks. */
  live: boolean;
  /** Highest seq sent, per stage run id. */
  cursor: Map<number, number>;
  /** Set when the build ended before the replay caught up: stream:end follows the replay. */
  endStatus?: BuildStatus;
  closed: boolean;
}

export interface SubscriptionsOptions {
  maxBufferedBytes: number;
}

export class Subscriptions {
  private readonly byBuild = new Map<number, Set<Subscription>>();

  constructor(
    private readonly db: Db,
    private readonly logs: LogStore,
    private readonly options: SubscriptionsOptions,
  ) {}

  /**
   * Registers a subscription (the caller checked access) and starts its replay. `endedStatus` is the build's
   * status when it is already finished: stream:end then follows the replay.
   */
  add(client: StreamClient, buildId: number, endedStatus?: BuildStatus): void {
    const sub: Subscription = { client, buildId, live: false, cursor: new Map(), endStatus: endedStatus, closed: false };
    client.subs.set(buildId, sub);
    let set = this.byBuild.get(buildId);
    if (!set) this.byBuild.set(buildId, (set = new Set()));
    set.add(sub);
    send(client.ws, { type: 'stream:subscribed', buildId });
    this.pump(sub);
  }

  remove(sub: Subscription): void {
    sub.closed = true;
    sub.client.subs.delete(sub.buildId);
    const set = this.byBuild.get(sub.buildId);
    set?.delete(sub);
    if (set && set.size === 0) this.byBuild.delete(sub.buildId);
  }

  removeClient(client: StreamClient): void {
    for (const sub of [...client.subs.values()]) this.remove(sub);
  }

  publishLog(buildId: number, stageRunId: number, stage: string, seq: number, offset: number, data: Buffer): void {
    const set = this.byBuild.get(buildId);
    if (!set) return;
    let frame: string | undefined;
    for (const sub of set) {
      if (!sub.live || (sub.cursor.get(stageRunId) ?? 0) >= seq) continue;
      sub.cursor.set(stageRunId, seq);
      frame ??= JSON.stringify(logMessage(buildId, stageRunId, stage, seq, offset, data));
      this.sendLive(sub, frame);
    }
  }

  publishStatus(msg: Extract<StreamMessage, { type: 'stream:status' }>): void {
    const set = this.byBuild.get(msg.buildId);
    if (!set) return;
    const frame = JSON.stringify(msg);
    for (const sub of set) this.sendLive(sub, frame);
  }

  publishEnd(buildId: number, status: BuildStatus): void {
    const set = this.byBuild.get(buildId);
    if (!set) return;
    for (const sub of [...set]) {
      if (sub.live) this.finish(sub, status);
      else sub.endStatus = status;
    }
  }

  private finish(sub: Subscription, status: BuildStatus): void {
    send(sub.client.ws, { type: 'stream:end', buildId: sub.buildId, status });
    this.remove(sub);
  }

  private sendLive(sub: Subscription, frame: string): void {
    const ws = sub.client.ws;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.options.maxBufferedBytes) {
      ws.close(CLOSE_TRY_AGAIN_LATER, 'client too slow: stream buffer limit exceeded');
      return;
    }
    ws.send(frame);
  }

  /** Sends one page of stored chunks; schedules the next page, or goes live when nothing is left. */
  private pump(sub: Subscription): void {
    const ws = sub.client.ws;
    if (sub.closed || ws.readyState !== ws.OPEN) return;
    let bytes = 0;
    let more = false;
    for (const run of stageRunsOf(this.db, sub.buildId)) {
      const page = this.logs.read(run.id, sub.cursor.get(run.id) ?? 0, REPLAY_PAGE_CHUNKS);
      for (const c of page) {
        ws.send(JSON.stringify(logMessage(sub.buildId, run.id, run.name, c.seq, c.offset, c.data)));
        sub.cursor.set(run.id, c.seq);
        bytes += c.data.length;
      }
      if (page.length === REPLAY_PAGE_CHUNKS || bytes >= REPLAY_PAGE_BYTES) {
        more = true;
        break;
      }
    }
    if (more) {
      this.whenDrained(sub, () => this.pump(sub));
      return;
    }
    sub.live = true;
    if (sub.endStatus) this.finish(sub, sub.endStatus);
  }

  private whenDrained(sub: Subscription, next: () => void): void {
    const ws = sub.client.ws;
    if (sub.closed || ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount <= REPLAY_LOW_WATER) {
      setImmediate(next);
      return;
    }
    // ws has no 'drain' event of its own; the buffer empties as the socket writes, so look again shortly.
    setTimeout(() => this.whenDrained(sub, next), 5);
  }
}

function logMessage(buildId: number, stageRunId: number, stage: string, seq: number, offset: number, data: Buffer): StreamMessage {
  return { type: 'stream:log', buildId, stageRunId, stage, seq, offset, data: data.toString('utf8') };
}

export function send(ws: WebSocket, msg: StreamMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}
