/**
 * A raw agent for protocol tests: a bare `ws` client speaking (or deliberately breaking) the agent
 * protocol against a real master, recording every message and the close code.
 */
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type MasterMessage } from '../../shared/protocol/messages';
import { waitFor } from '../helpers/wait';

export interface RawAgent {
  ws: WebSocket;
  received: MasterMessage[];
  closed: Promise<{ code: number; reason: string }>;
  sendJson(v: unknown): void;
  /** Waits for the first received message matching `pred`. */
  next<T extends MasterMessage>(what: string, pred: (m: MasterMessage) => m is T): Promise<T>;
}

export async function openRaw(masterUrl: string): Promise<RawAgent> {
  const ws = new WebSocket(`${masterUrl.replace(/^http/, 'ws')}/ws/agent`);
  const received: MasterMessage[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) received.push(JSON.parse(data.toString()) as MasterMessage);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    received,
    closed,
    sendJson: (v) => ws.send(JSON.stringify(v)),
    next: (what, pred) => waitFor(what, () => received.find(pred), { timeoutMs: 15_000 }),
  };
}

export function hello(token: string, name: string, environment: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'agent:hello',
    protocolVersion: PROTOCOL_VERSION,
    token,
    name,
    environment,
    labels: [],
    capacity: 1,
    executors: [{ kind: 'shell', version: '1.0.0' }],
    running: [],
    ...extra,
  };
}

/** Opens a raw agent and completes hello; resolves once master:accepted arrived. */
export async function helloRaw(masterUrl: string, token: string, name: string, environment: string): Promise<RawAgent> {
  const a = await openRaw(masterUrl);
  a.sendJson(hello(token, name, environment));
  await a.next('master:accepted', (m): m is Extract<MasterMessage, { type: 'master:accepted' }> => m.type === 'master:accepted');
  return a;
}
