/**
 * The agent's WebSocket to the master: hello, reconnect with backoff (0.2 s doubling to 10 s, with jitter;
 * every 0.15-0.3 s for a minute after the master said it is going away, i.e. restarting),
 * heartbeats every heartbeatIntervalMs from master:accepted, and a ping watchdog that drops a half-open
 * connection. Every text frame is parsed with MasterMessageSchema here, at the edge; the agent never
 * sees an unchecked message. A refusal that retrying cannot fix (bad token, protocol version, environment,
 * replaced by another agent of the same name) ends the connection for good through onFatal.
 */
import WebSocket from 'ws';
import type { Logger } from 'pino';
import {
  assertNever,
  CloseCode,
  MasterMessageSchema,
  PROTOCOL_VERSION,
  RECONNECT_MAX_MS,
  type AgentHello,
  type MasterAccepted,
  type MasterContainerLogsAck,
  type MasterMessage,
  type PluginRef,
} from '../shared/protocol';
import type { AgentConfig } from './config';
import type { RecordTransport } from './record-log';

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = RECONNECT_MAX_MS;
const HELLO_TIMEOUT_MS = 15_000;

const FATAL_CODES = new Set<number>([CloseCode.BadToken, CloseCode.ProtocolVersion, CloseCode.EnvironmentMismatch, CloseCode.Replaced]);

/**
 * Fields of agent:hello that change between connections. May be a promise (the first connection's capability
 * probes run while the socket opens); the hello goes out when it resolves, if the socket is still the current one.
 */
export type HelloFields = Pick<AgentHello, 'executors' | 'running' | 'capabilities' | 'services' | 'plugins'>;

export type ControlMessage = Exclude<MasterMessage, { type: 'master:accepted' } | { type: 'master:refused' } | { type: 'master:plugins' } | { type: 'master:container-logs-ack' }>;

export interface ConnectionHandlers {
  /** Fields of agent:hello that change between connections (running work, executors, capabilities, services, plugins). */
  hello(): HelloFields | Promise<HelloFields>;
  onAccepted(msg: MasterAccepted): void;
  onMessage(msg: ControlMessage): void;
  /** The plugins the master names (master:accepted.plugins, master:plugins): the agent runs exactly these. */
  onPlugins(plugins: PluginRef[]): void;
  /** Acks of container log batches go to the agent's container-logs service (agent/services/channel.ts). */
  onContainerLogsAck?(msg: MasterContainerLogsAck): void;
  /** The connection to the master closed (it reconnects with backoff unless closed for good). */
  onDisconnected?(): void;
  /** Leases to extend with each heartbeat. */
  leases(): { stageRunId: number; epoch: number }[];
  /** Slots in use now (agent:heartbeat busy). */
  busy(): number;
  /** The master refused us for a reason retrying cannot fix (`code`, a CloseCode); the connection is closed for good. */
  onFatal(reason: string, code: number): void;
}

/** Backoff before reconnect attempt n (0-based): exponential, capped, half of it random. */
export function backoffMs(attempt: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/**
 * After the master closed with GoingAway (it is shutting down: nearly always a restart, e.g. an upgrade),
 * the agent retries every RESTART_RETRY_MS (half of it random) for RESTART_WINDOW_MS instead of backing off:
 * a master that restarts is back within seconds, and exponential backoff made its agents come back up to one
 * backoff step (seconds) after it was listening again, which dominated an upgrade of idle agents. A refused
 * connect costs the host nothing; the jitter still spreads the hellos. Past the window: backoffMs.
 */
const RESTART_RETRY_MS = 300;
const RESTART_WINDOW_MS = 60_000;

/** The delay before reconnect attempt n, `sinceGoingAwayMs` after the master said it goes away (undefined: it did not). */
export function reconnectDelayMs(attempt: number, sinceGoingAwayMs: number | undefined): number {
  if (sinceGoingAwayMs !== undefined && sinceGoingAwayMs < RESTART_WINDOW_MS) return Math.round(RESTART_RETRY_MS / 2 + (Math.random() * RESTART_RETRY_MS) / 2);
  return backoffMs(attempt);
}

export class Connection implements RecordTransport {
  private ws: WebSocket | undefined;
  /** Date.now() of the last frame from the master (deploy fencing: agent/executors/deploy.ts). */
  lastHeardAt = 0;
  private attempt = 0;
  /** Date.now() when the master last closed with GoingAway (restarting), until the next accept. */
  private goingAwayAt: number | undefined;
  private closed = false;
  private accepted = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  private refusal: string | undefined;
  /** Anything heard from the master since the last ping. */
  private alive = true;

  constructor(
    private readonly config: AgentConfig,
    private readonly handlers: ConnectionHandlers,
    private readonly log: Logger,
    private readonly version: string,
  ) {}

  get ready(): boolean {
    return this.accepted && this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.connect();
  }

  sendBinary(frame: Buffer): void {
    if (this.ready) this.ws!.send(frame, { binary: true });
  }

  sendText(json: string): void {
    if (this.ready) this.ws!.send(json);
  }

  /** Bytes queued on the socket but not yet written (the container-logs shipper keeps this bounded). */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** Close for good (no reconnect). */
  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stopTimers();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => ws.terminate(), 2000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'agent stopping');
    });
  }

  private connect(): void {
    if (this.closed) return;
    this.refusal = undefined;
    const ws = new WebSocket(this.config.wsUrl, {
      ca: this.config.ca,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      // Masking protects browsers' intermediaries from cache poisoning; an agent is no browser, and a zero
      // mask lets ws skip XOR-ing every log byte (the log path's largest per-byte cost after the copy).
      generateMask: (mask: Buffer) => void mask.fill(0),
    });
    this.ws = ws;
    this.alive = true;
    ws.on('open', async () => {
      const fields = await this.handlers.hello();
      if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
      const hello: AgentHello = {
        type: 'agent:hello',
        protocolVersion: PROTOCOL_VERSION,
        token: this.config.token,
        name: this.config.name,
        environment: this.config.environment,
        labels: this.config.labels,
        capacity: this.config.capacity,
        version: this.version,
        ...fields,
      };
      ws.send(JSON.stringify(hello));
      this.helloTimer = setTimeout(() => {
        this.log.warn('no answer to agent:hello; reconnecting');
        ws.terminate();
      }, HELLO_TIMEOUT_MS);
    });
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (data, isBinary) => {
      if (ws !== this.ws) return;
      this.alive = true;
      this.lastHeardAt = Date.now();
      if (isBinary) {
        this.log.warn('ignoring a binary frame from the master');
        return;
      }
      const msg = parse(data as Buffer);
      if (typeof msg === 'string') {
        this.log.error({ problem: msg }, 'ignoring an invalid frame from the master');
        return;
      }
      this.dispatch(msg);
    });
    ws.on('error', (e) => {
      if (ws === this.ws) this.log.debug({ err: e.message }, 'connection error');
    });
    ws.on('close', (code, reasonBuf) => {
      if (ws !== this.ws) return;
      const wasAccepted = this.accepted;
      this.accepted = false;
      this.stopTimers();
      if (wasAccepted) this.handlers.onDisconnected?.();
      const reason = this.refusal ?? reasonBuf.toString();
      if (FATAL_CODES.has(code)) {
        this.closed = true;
        this.handlers.onFatal(`master closed the connection (${code}): ${reason || 'no reason given'}`, code);
        return;
      }
      if (this.closed) return;
      if (wasAccepted) this.log.warn({ code, reason }, 'disconnected from the master; reconnecting');
      if (code === CloseCode.GoingAway) this.goingAwayAt = Date.now();
      const delay = reconnectDelayMs(this.attempt++, this.goingAwayAt === undefined ? undefined : Date.now() - this.goingAwayAt);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private startHeartbeat(ws: WebSocket, intervalMs: number): void {
    // Ping watchdog: a connection that answers neither pings nor anything else for a whole interval is dead.
    this.heartbeatTimer = setInterval(() => {
      if (!this.alive) {
        this.log.warn('master stopped answering; reconnecting');
        ws.terminate();
        return;
      }
      this.alive = false;
      ws.ping();
      this.heartbeat();
    }, intervalMs);
  }

  /** Sends agent:heartbeat now (on its timer, after master:accepted, and when a slot frees up). */
  heartbeat(): void {
    this.sendText(JSON.stringify({ type: 'agent:heartbeat', leases: this.handlers.leases(), busy: this.handlers.busy() }));
  }

  private dispatch(msg: MasterMessage): void {
    switch (msg.type) {
      case 'master:accepted':
        clearTimeout(this.helloTimer);
        this.accepted = true;
        this.attempt = 0;
        this.goingAwayAt = undefined;
        this.startHeartbeat(this.ws!, msg.heartbeatIntervalMs);
        console.log(`slipway agent ${this.config.name} connected to ${this.config.url} (environment ${this.config.environment})`);
        this.handlers.onAccepted(msg);
        this.handlers.onPlugins(msg.plugins ?? []);
        // The master learns at once which slots are in use (aborted runs still being killed included).
        this.heartbeat();
        return;
      case 'master:refused':
        this.refusal = msg.reason;
        this.log.error({ code: msg.code }, `master refused the agent: ${msg.reason}`);
        return;
      case 'master:plugins':
        this.handlers.onPlugins(msg.plugins);
        return;
      case 'master:assign':
      case 'master:ack':
      case 'master:cancel':
      case 'master:drain':
      case 'master:error':
        this.handlers.onMessage(msg);
        return;
      case 'master:container-logs-ack':
        this.handlers.onContainerLogsAck?.(msg);
        return;
      default:
        assertNever(msg);
    }
  }

  private stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.helloTimer);
    this.heartbeatTimer = undefined;
  }
}

function parse(data: Buffer): MasterMessage | string {
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const r = MasterMessageSchema.safeParse(json);
  if (!r.success) return r.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');
  return r.data;
}
