/**
 * The client stream: the WebSocket at /api/v1/stream that the web UI and `slipway logs -f` use
 * (protocol in shared/protocol/client.ts).
 *
 *  - Authentication on upgrade, like the HTTP API: `Authorization: Bearer <jwt or API token>` or
 *    `?access_token=` (browsers cannot set headers on WebSockets). No valid credential: HTTP 401, no upgrade.
 *  - Every client frame is validated with ClientMessageSchema; a bad one is answered by stream:error and the
 *    connection stays open.
 *  - client:subscribe is checked against the caller's teams: a build outside them gets stream:error
 *    'not_found', exactly like a build that does not exist. Then stream:subscribed, the stored log, live
 *    chunks, stream:end (see subscriptions.ts for the no-loss, no-duplicate hand-over and backpressure).
 *  - Access changes end what the caller lost at once, through events, not the ping timer: on
 *    ctx.onAccessChanged (membership or role change, token revoked, user disabled) and ctx.jobs.onChange
 *    (a job moved to another team or was disabled) every affected connection re-authenticates its credential
 *    (closed with 4001 when it no longer works) and re-checks each of its subscriptions; one the caller may no
 *    longer read ends with stream:error 'not_found' (the answer a new subscription would get) and receives
 *    nothing more.
 *
 * Contract with engine-core: publishLog only after the transaction holding the chunk committed;
 * publishEnd after the build's final status committed.
 */
import { buildsStore } from '../../store/builds';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { SlipwayError } from '../../../shared/errors';
import { ClientMessageSchema, type BuildStatus, type ClientMessage, type StreamMessage } from '../../../shared/protocol';
import type { RouteAccess } from '../../route-access';
import type { MasterContext, Principal } from '../../context';
import { visibleBuild } from '../logs/http';
import type { LogStore } from '../logs/log-store';
import { send, Subscriptions, type StreamClient } from './subscriptions';

export interface StreamHub {
  /** Called by engine-core AFTER the transaction holding the chunk committed. */
  publishLog(buildId: number, stageRunId: number, stage: string, seq: number, offset: number, data: Buffer): void;
  publishStatus(msg: Extract<StreamMessage, { type: 'stream:status' }>): void;
  publishEnd(buildId: number, status: BuildStatus): void;
  /** Handles an upgrade request for /api/v1/stream (authenticates with ctx.authenticate). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export interface StreamHubOptions {
  /** A live subscriber with more than this many bytes unsent is closed with 1013. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Ping interval; a client that did not answer the previous ping is dropped. Default 30 s. */
  pingIntervalMs?: number;
}

/**
 * The access rule of each client message type, declared like the HTTP routes' (master/route-access.ts) and
 * checked by the security matrix: subscribing is reading the build (visibleBuild, 'read' in its team);
 * unsubscribing only touches the connection's own subscriptions. The connection itself needs a credential.
 */
export const STREAM_ACCESS: { readonly [K in ClientMessage['type']]: RouteAccess } = {
  'client:subscribe': { kind: 'team', action: 'read' },
  'client:unsubscribe': { kind: 'user', scope: 'read' },
};

/** Client frames are small JSON messages. */
const MAX_CLIENT_FRAME_BYTES = 16 * 1024;
const MAX_SUBSCRIPTIONS_PER_CONNECTION = 64;
const FINISHED: ReadonlySet<string> = new Set(['success', 'failed', 'cancelled', 'timeout']);

export function createStreamHub(ctx: MasterContext, logs: LogStore, options: StreamHubOptions = {}): StreamHub {
  const subs = new Subscriptions(ctx.db, logs, { maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024 });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES, perMessageDeflate: false });
  const alive = new WeakMap<WebSocket, boolean>();
  /** The bearer credential each connection authenticated with: checked again on every subscribe and ping. */
  const credentials = new WeakMap<WebSocket, string>();
  /** The caller as of now, or null (and the connection closed) once the credential was revoked or expired. */
  const currentPrincipal = (ws: WebSocket): Principal | null => {
    const token = credentials.get(ws);
    const p = token ? ctx.authenticate(token) : null;
    if (!p) ws.close(4001, 'credentials revoked or expired');
    return p;
  };

  const ping = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      if (!currentPrincipal(ws)) continue;
      alive.set(ws, false);
      ws.ping();
    }
  }, options.pingIntervalMs ?? 30_000);
  ping.unref();

  const subscribe = (client: StreamClient, buildId: number): void => {
    // Fresh on every subscription: a revoked token or a changed membership counts from now on.
    const p = currentPrincipal(client.ws);
    if (!p) return;
    if (client.subs.has(buildId)) {
      // Already subscribed: replaying again would duplicate every chunk.
      send(client.ws, { type: 'stream:subscribed', buildId });
      return;
    }
    if (client.subs.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      send(client.ws, { type: 'stream:error', buildId, code: 'too_many_subscriptions', message: `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} builds per connection` });
      return;
    }
    let status: string;
    try {
      status = visibleBuild(ctx, p, buildId).status;
    } catch (err) {
      if (!(err instanceof SlipwayError)) throw err;
      send(client.ws, { type: 'stream:error', buildId, code: err.code, message: err.message });
      return;
    }
    subs.add(client, buildId, FINISHED.has(status) ? (status as BuildStatus) : undefined);
  };

  /** Connections by the user they authenticated as (a connection never changes user). */
  const clients = new Map<StreamClient, number>();

  /** Re-authenticates the connection and ends each subscription its caller may no longer read. */
  const recheck = (client: StreamClient, onlyBuilds?: (buildId: number) => boolean): void => {
    if (client.ws.readyState !== client.ws.OPEN) return;
    const p = currentPrincipal(client.ws);
    if (!p) return;
    for (const sub of [...client.subs.values()]) {
      if (onlyBuilds && !onlyBuilds(sub.buildId)) continue;
      try {
        visibleBuild(ctx, p, sub.buildId);
      } catch (err) {
        if (!(err instanceof SlipwayError)) throw err;
        subs.remove(sub);
        // The answer a fresh subscribe would get now (not_found outside the build's team).
        send(client.ws, { type: 'stream:error', buildId: sub.buildId, code: err.code, message: err.message });
      }
    }
  };
  const recheckAll = (which: (client: StreamClient, userId: number) => boolean, onlyBuilds?: (buildId: number) => boolean): void => {
    for (const [client, userId] of clients) {
      if (!which(client, userId)) continue;
      try {
        recheck(client, onlyBuilds);
      } catch (err) {
        ctx.log.error({ err }, 'stream access re-check failed; closing the connection');
        client.ws.close(1011, 'internal error');
      }
    }
  };
  const builds = buildsStore(ctx.db);
  ctx.onAccessChanged((change) => {
    switch (change.kind) {
      case 'membership':
        // Any subscriber may be that team's member (or have been): re-check every connection.
        recheckAll(() => true);
        break;
      case 'token-revoked':
      case 'user':
        recheckAll((_c, userId) => userId === change.userId);
        break;
      default: {
        const never: never = change;
        throw new Error(`unhandled access change ${JSON.stringify(never)}`);
      }
    }
  });
  ctx.jobs.onChange((job) => {
    if (job) recheckAll(() => true, (buildId) => builds.buildOfJob(buildId, job.id));
  });

  const onMessage = (client: StreamClient, raw: RawData, isBinary: boolean): void => {
    let parsed: unknown;
    try {
      if (isBinary) throw new Error('binary frames are not part of the stream protocol');
      parsed = JSON.parse(raw.toString());
    } catch (err) {
      send(client.ws, { type: 'stream:error', code: 'bad_request', message: `frame is not a JSON message: ${(err as Error).message}` });
      return;
    }
    const msg = ClientMessageSchema.safeParse(parsed);
    if (!msg.success) {
      const issue = msg.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'type';
      send(client.ws, { type: 'stream:error', code: 'bad_request', message: `${where}: ${issue?.message ?? 'invalid message'}` });
      return;
    }
    switch (msg.data.type) {
      case 'client:subscribe':
        subscribe(client, msg.data.buildId);
        break;
      case 'client:unsubscribe': {
        const sub = client.subs.get(msg.data.buildId);
        if (sub) subs.remove(sub);
        break;
      }
      default: {
        const never: never = msg.data;
        throw new Error(`unhandled client message ${JSON.stringify(never)}`);
      }
    }
  };

  const onConnection = (ws: WebSocket, p: Principal, token: string): void => {
    const client: StreamClient = { ws, subs: new Map() };
    clients.set(client, p.userId);
    credentials.set(ws, token);
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (raw, isBinary) => {
      try {
        onMessage(client, raw, isBinary);
      } catch (err) {
        ctx.log.error({ err, user: p.username }, 'stream message failed');
        send(ws, { type: 'stream:error', code: 'internal', message: 'internal error' });
      }
    });
    ws.on('close', () => {
      clients.delete(client);
      subs.removeClient(client);
    });
    ws.on('error', (err) => ctx.log.warn({ err: err.message, user: p.username }, 'stream socket error'));
  };

  return {
    publishLog: (buildId, stageRunId, stage, seq, offset, data) => subs.publishLog(buildId, stageRunId, stage, seq, offset, data),
    publishStatus: (msg) => subs.publishStatus(msg),
    publishEnd: (buildId, status) => subs.publishEnd(buildId, status),
    handleUpgrade(req, socket, head) {
      const token = bearerOf(req);
      const principal = token ? ctx.authenticate(token) : null;
      if (!token || !principal) {
        refuseUpgrade(socket, 401, 'unauthenticated', 'login required: Authorization: Bearer <token> or ?access_token=');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, principal, token));
    },
    close() {
      clearInterval(ping);
      for (const ws of wss.clients) ws.close(1001, 'master shutting down');
      wss.close();
    },
  };
}

/** The bearer credential of an upgrade request: Authorization header, else ?access_token= (browsers). */
function bearerOf(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  let token: string | null = null;
  if (typeof header === 'string' && /^Bearer\s+/i.test(header)) token = header.replace(/^Bearer\s+/i, '').trim();
  return token || new URL(req.url ?? '/', 'http://localhost').searchParams.get('access_token');
}

function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
