/**
 * The agent gateway: the WebSocket at /ws/agent. Every frame is checked at this edge, once:
 * text frames are JSON parsed with AgentMessageSchema, binary frames are log chunks with a fixed header
 * (decodeLogChunk). Anything malformed closes that one connection with a code from CloseCode and a reason
 * naming the problem; the master logs it and keeps serving every other agent.
 *
 * Connection lifecycle: agent:hello within HELLO_TIMEOUT_MS as the first frame (else 4006); version
 * (4002 + master:refused), token (4001), environment (4003) checked; the same agent name connecting again
 * replaces the older socket (4005). A clean close (1000/1001) leaves the agent 'offline', any other
 * end leaves it 'lost'; its leases live on until they expire, so a reconnecting agent can resume.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { ZodError } from 'zod';
import { decodeLogChunk } from '../../../shared/protocol/log-frame';
import {
  AgentHelloSchema,
  AgentMessageSchema,
  CloseCode,
  acceptsProtocolVersion,
  assertNever,
  type AgentHello,
  type AgentMessage,
  type MasterMessage,
  type PluginRef,
} from '../../../shared/protocol/messages';
import type { AgentSession, EngineCore } from '../core';
import { handleHeartbeat } from '../leases/heartbeat';
import { livenessOf } from '../leases/liveness';
import { handleRefusal } from '../leases/refusal';
import type { RecordBatcher } from '../records/record-batcher';
import { admitAgent, protocolRefusal, resumeAgent } from './hello';
import { agentsStore } from '../../store/agents';
import { agentReportFormats, effectiveExecutors } from '../../plugins/agent-plugins';
import type { ContainerLogsPort } from '../../app-logs/ingest-port';

export const HELLO_TIMEOUT_MS = 5000;

export interface AgentGateway {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Sends master:drain; false when the agent is not connected. */
  drain(agentId: number): boolean;
  close(): void;
}

/** "running[0].epoch: Invalid input..." for the first issue of a zod error. */
export function describeZodError(err: ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.map(String).join('.') || '(frame)'}: ${i.message}` : 'invalid frame';
}

/** WebSocket close reasons are limited to 123 bytes. */
function clip(reason: string): string {
  const b = Buffer.from(reason);
  return b.length <= 123 ? reason : b.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...';
}

export function createAgentGateway(core: EngineCore, records: RecordBatcher, containerLogs?: ContainerLogsPort): AgentGateway {
  const { ctx, db } = core;
  const agents = agentsStore(db);
  const wss = new WebSocketServer({ noServer: true, maxPayload: ctx.config.maxFrameBytes });
  /** Set by close(): the store is about to close, so late socket events must not touch it. */
  let closing = false;

  // The plugin set changed: every agent hears the new list, and counts only the versions now named.
  const wanted = () => ctx.plugins?.wanted() ?? [];
  /** What the scheduler counts of an agent's plugins: its executors and report formats at the named versions. */
  const count = (s: AgentSession, list: PluginRef[]) => {
    s.executors = effectiveExecutors(s.reportedExecutors ?? s.executors, list);
    s.reportFormats = agentReportFormats(s.plugins, list, (p) => ctx.plugins?.reportFormatsOf(p) ?? [], s.protocolVersion);
  };
  ctx.plugins?.onChange(() => {
    const list = wanted();
    for (const s of core.sessions.values()) {
      count(s, list);
      if ((s.protocolVersion ?? 0) >= 11) s.send({ type: 'master:plugins', plugins: list });
    }
    core.requestDispatch();
  });

  ctx.onAgentTokenRevoked((tokenId) => {
    for (const s of core.sessions.values()) if (s.tokenId === tokenId) s.close(CloseCode.BadToken, 'agent token revoked');
  });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const remote = req.socket.remoteAddress;
    let session: AgentSession | undefined;
    const fail = (code: number, reason: string) => {
      ctx.log.warn({ agent: session?.name, remote, code }, `closing agent connection: ${reason}`);
      ws.close(code, clip(reason));
    };
    const helloTimer = setTimeout(() => fail(CloseCode.HelloRequired, `agent:hello required within ${HELLO_TIMEOUT_MS} ms`), HELLO_TIMEOUT_MS);

    ws.on('error', (err) => ctx.log.warn({ agent: session?.name, remote, err: err.message }, 'agent socket error'));
    ws.on('close', (code) => {
      clearTimeout(helloTimer);
      if (closing || !session || core.sessions.get(session.agentId) !== session) return;
      core.sessions.delete(session.agentId);
      const state = session.lost || (code !== 1000 && code !== 1001) ? 'lost' : 'offline';
      try {
        agents.setStateSeen(session.agentId, state, session.lastFrameAt);
      } catch (err) {
        ctx.log.error({ err, agent: session.name }, 'could not record agent state');
      }
      ctx.log.info({ agent: session.name, code }, `agent disconnected (${state})`);
    });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (closing || ws.readyState !== WebSocket.OPEN) return;
      try {
        onFrame(data, isBinary);
      } catch (err) {
        // A failure while handling one agent's frame (e.g. the store is busy) must not take the master down.
        ctx.log.error({ err, agent: session?.name }, 'handling an agent frame failed');
        ws.close(1011, 'master error handling the frame');
      }
    });

    function onFrame(data: RawData, isBinary: boolean): void {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (!session) {
        clearTimeout(helloTimer);
        if (isBinary) return fail(CloseCode.HelloRequired, 'first frame must be agent:hello, got a binary frame');
        const json = parseJson(buf);
        if (!json.ok) return fail(CloseCode.MalformedFrame, json.error);
        const v = json.value as { type?: unknown; protocolVersion?: unknown } | null;
        if (v?.type !== 'agent:hello') return fail(CloseCode.HelloRequired, `first frame must be agent:hello, got ${String(v?.type ?? 'no type')}`);
        // Version first: a hello of another protocol version may not match this version's schema.
        if (typeof v.protocolVersion === 'number' && !acceptsProtocolVersion(v.protocolVersion)) {
          const reason = protocolRefusal(v.protocolVersion);
          sendRaw(ws, { type: 'master:refused', code: CloseCode.ProtocolVersion, reason });
          return fail(CloseCode.ProtocolVersion, reason);
        }
        const hello = AgentHelloSchema.safeParse(v);
        if (!hello.success) return fail(CloseCode.MalformedFrame, `agent:hello ${describeZodError(hello.error)}`);
        session = accept(ws, hello.data);
        return;
      }
      const now = Date.now();
      // An agent in doubt was passed over by the dispatcher; now that it is heard from, look again.
      const wasInDoubt = livenessOf(session, now, ctx.config) === 'in-doubt';
      session.lastFrameAt = now;
      if (wasInDoubt) core.requestDispatch();
      if (isBinary) {
        const chunk = decodeLogChunk(buf);
        if (typeof chunk === 'string') return fail(CloseCode.MalformedFrame, chunk);
        return records.addLog(session, chunk);
      }
      const json = parseJson(buf);
      if (!json.ok) return fail(CloseCode.MalformedFrame, json.error);
      const msg = AgentMessageSchema.safeParse(json.value);
      if (!msg.success) return fail(CloseCode.MalformedFrame, describeZodError(msg.error));
      handle(session, msg.data, fail);
    }
  });

  function accept(ws: WebSocket, hello: AgentHello): AgentSession | undefined {
    const admitted = admitAgent(core, hello);
    if (!admitted.ok) {
      sendRaw(ws, { type: 'master:refused', code: admitted.code, reason: admitted.reason });
      ctx.log.warn({ agent: hello.name, environment: hello.environment, code: admitted.code }, `agent refused: ${admitted.reason}`);
      ws.close(admitted.code, clip(admitted.reason));
      return undefined;
    }
    const session: AgentSession = {
      agentId: admitted.agentId,
      name: hello.name,
      environment: hello.environment,
      environmentId: admitted.environmentId,
      tokenId: admitted.tokenId,
      labels: hello.labels,
      capacity: hello.capacity,
      executors: hello.executors,
      reportedExecutors: hello.executors,
      plugins: hello.plugins ?? [],
      capabilities: (hello.capabilities ?? []).filter((c) => c.ok).map((c) => c.name),
      services: hello.services ?? [],
      draining: false,
      protocolVersion: hello.protocolVersion,
      lastFrameAt: Date.now(),
      busy: 0,
      refused: new Set(),
      lost: false,
      send: (msg) => sendRaw(ws, msg),
      close: (code, reason) => ws.close(code, clip(reason)),
    };
    count(session, wanted());
    core.agentFacts.setCapabilities(session.agentId, hello.capabilities ?? []);
    core.agentFacts.setServices(session.agentId, session.services);
    // Resume first: if it throws, no half-registered session stays behind.
    const { resume, fx } = resumeAgent(core, session.agentId, hello.running);
    const old = core.sessions.get(session.agentId);
    core.sessions.set(session.agentId, session);
    old?.close(CloseCode.Replaced, 'replaced by a new connection of the same agent');
    session.send({
      type: 'master:accepted',
      agentId: session.agentId,
      heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
      leaseTtlMs: ctx.config.leaseTtlMs,
      maxFrameBytes: ctx.config.maxFrameBytes,
      maxUnackedBytes: 8 * ctx.config.maxFrameBytes,
      resume,
      plugins: wanted(),
    });
    ctx.log.info({ agent: hello.name, environment: hello.environment, capacity: hello.capacity, version: hello.version, protocolVersion: hello.protocolVersion, resumed: resume.length }, 'agent connected');
    core.apply(fx);
    core.requestDispatch();
    return session;
  }

  function handle(session: AgentSession, msg: AgentMessage, fail: (code: number, reason: string) => void): void {
    switch (msg.type) {
      case 'agent:hello':
        return fail(CloseCode.MalformedFrame, 'agent:hello sent twice on one connection');
      case 'agent:heartbeat':
        if (session.lost) return;
        return handleHeartbeat(core, session, msg.leases, msg.busy);
      case 'agent:refused':
        // Even from an agent declared lost: the stage run never started there, so it is queued again
        // now instead of waiting for its lease to expire and counting as a lost attempt.
        return handleRefusal(core, session, msg);
      case 'agent:state':
        session.draining = msg.draining;
        session.upgradingTo = msg.upgradingTo;
        agents.setState(session.agentId, msg.draining ? 'draining' : 'connected');
        if (!msg.draining) core.requestDispatch();
        return;
      case 'agent:step-started':
      case 'agent:step-finished':
      case 'agent:stage-finished':
        return records.addEvent(session, msg);
      case 'agent:plugins':
        session.reportedExecutors = msg.executors;
        session.plugins = msg.plugins;
        count(session, wanted());
        agents.setExecutors(session.agentId, msg.executors);
        core.requestDispatch();
        return;
      case 'agent:services':
        session.services = msg.services;
        core.agentFacts.setServices(session.agentId, msg.services);
        return;
      case 'agent:container-logs':
        // The log center's own seq space per source: no lease involved, so also from an agent declared lost.
        return session.send(
          containerLogs?.ingest(session, msg) ?? { type: 'master:container-logs-ack', source: msg.source, storedThrough: 0, refused: 'this master does not store container logs' },
        );
      default:
        assertNever(msg);
    }
  }

  return {
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    drain(agentId) {
      const s = core.sessions.get(agentId);
      if (!s) return false;
      s.draining = true;
      agents.setState(agentId, 'draining');
      s.send({ type: 'master:drain' });
      return true;
    },
    close() {
      closing = true;
      agents.allOffline();
      core.sessions.clear();
      for (const ws of wss.clients) ws.close(CloseCode.GoingAway, 'master shutting down');
      wss.close();
    },
  };
}

function parseJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(buf.toString('utf8')) };
  } catch (err) {
    // V8's message quotes the frame's text, which may hold a token: keep only the position.
    const at = /position (\d+)/.exec((err as Error).message);
    return { ok: false, error: `frame is not valid JSON${at ? ` (error at byte ${at[1]})` : ''}` };
  }
}

function sendRaw(ws: WebSocket, msg: MasterMessage): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}
