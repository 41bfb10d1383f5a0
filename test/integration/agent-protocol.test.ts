/**
 * The agent against a protocol peer: a real WebSocket server in the test speaks the master's side of
 * shared/protocol (hello/accepted, assign, ack, cancel, resume), so the agent's connection, runner, replay and
 * resume are exercised over a real socket with real step processes. It stores records the way the master
 * must: record N only after N-1, duplicates ignored.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { pino } from 'pino';
import {
  AgentMessageSchema,
  CloseCode,
  decodeLogChunk,
  PROTOCOL_VERSION,
  type AgentHello,
  type AgentMessage,
  type AgentRefused,
  type MasterAssign,
  type MasterMessage,
} from '../../shared/protocol';
import { startAgent, type RunningAgent } from '../../agent/index';

interface Stored {
  lastSeq: number;
  log: Buffer[];
  events: AgentMessage[];
}

class Peer {
  readonly wss: WebSocketServer;
  readonly hellos: AgentHello[] = [];
  readonly states: boolean[] = [];
  readonly refusals: AgentRefused[] = [];
  readonly heartbeats: Extract<AgentMessage, { type: 'agent:heartbeat' }>[] = [];
  readonly stored = new Map<number, Stored>();
  socket: WebSocket | undefined;
  autoAck = true;
  /** Answer to a hello; default: accept and continue every running stage from what is stored. */
  onHello: (h: AgentHello, ws: WebSocket) => void = (h, ws) => this.accept(ws, h, 'continue');
  private waiters: (() => void)[] = [];

  constructor(private readonly server?: https.Server) {
    this.wss = server ? new WebSocketServer({ server, path: '/ws/agent' }) : new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/agent' });
    this.wss.on('connection', (ws) => {
      this.socket = ws;
      ws.on('message', (data, isBinary) => this.receive(ws, data as Buffer, isBinary));
    });
  }

  get url(): string {
    const a = (this.server ?? this.wss).address() as { port: number };
    return `${this.server ? 'https' : 'http'}://127.0.0.1:${a.port}`;
  }

  send(msg: MasterMessage, ws = this.socket!): void {
    ws.send(JSON.stringify(msg));
  }

  accept(ws: WebSocket, h: AgentHello, action: 'continue' | 'abort'): void {
    this.send(
      {
        type: 'master:accepted',
        agentId: 1,
        heartbeatIntervalMs: 200,
        leaseTtlMs: 5000,
        maxFrameBytes: 1 << 20,
        maxUnackedBytes: 1 << 20,
        resume: h.running.map((r) => ({ stageRunId: r.stageRunId, epoch: r.epoch, storedSeq: this.stored.get(r.stageRunId)?.lastSeq ?? 0, action })),
      },
      ws,
    );
  }

  log(stageRunId: number): string {
    return Buffer.concat(this.stored.get(stageRunId)?.log ?? []).toString();
  }

  events(stageRunId: number): AgentMessage[] {
    return this.stored.get(stageRunId)?.events ?? [];
  }

  finished(stageRunId: number): Extract<AgentMessage, { type: 'agent:stage-finished' }> | undefined {
    return this.events(stageRunId).find((e) => e.type === 'agent:stage-finished') as never;
  }

  async until(cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise<void>((r) => this.waiters.push(r) && setTimeout(r, 50));
    if (!cond()) throw new Error(`timed out waiting for ${what}`);
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => (this.server ? this.server.close(() => r()) : r())));
  }

  private store(stageRunId: number, seq: number, add: (s: Stored) => void): void {
    const s = this.stored.get(stageRunId) ?? { lastSeq: 0, log: [], events: [] };
    this.stored.set(stageRunId, s);
    if (seq !== s.lastSeq + 1) return;
    add(s);
    s.lastSeq = seq;
  }

  private receive(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    let id: number;
    let epoch: number;
    if (isBinary) {
      const c = decodeLogChunk(data);
      if (typeof c === 'string') throw new Error(c);
      this.store(c.stageRunId, c.seq, (s) => s.log.push(Buffer.from(c.data)));
      ({ stageRunId: id, epoch } = c);
    } else {
      const msg = AgentMessageSchema.parse(JSON.parse(data.toString()));
      if (msg.type === 'agent:hello') {
        this.hellos.push(msg);
        this.onHello(msg, ws);
        return;
      }
      if (msg.type === 'agent:state') this.states.push(msg.draining);
      if (msg.type === 'agent:heartbeat') this.heartbeats.push(msg);
      if (msg.type === 'agent:refused') this.refusals.push(msg);
      if (msg.type === 'agent:heartbeat' || msg.type === 'agent:state' || msg.type === 'agent:refused' || msg.type === 'agent:services' || msg.type === 'agent:plugins' || msg.type === 'agent:container-logs') {
        for (const w of this.waiters.splice(0)) w();
        return;
      }
      this.store(msg.stageRunId, msg.seq, (s) => s.events.push(msg));
      ({ stageRunId: id, epoch } = msg);
    }
    if (this.autoAck) this.send({ type: 'master:ack', stageRunId: id, epoch, seq: this.stored.get(id)!.lastSeq }, ws);
    for (const w of this.waiters.splice(0)) w();
  }
}

function assign(stageRunId: number, run: string, extra: Partial<MasterAssign> = {}): MasterAssign {
  return {
    type: 'master:assign',
    stageRunId,
    epoch: 1,
    build: { id: 10, number: 1, job: 'demo', jobId: 3, team: 'shop' },
    stage: { index: 0, name: 'build', attempt: 1, steps: [{ name: 'sh', kind: 'shell', config: { run }, env: {}, continueOnError: false }], artifacts: [] },
    env: {},
    secrets: {},
    inputArtifacts: [],
    leaseTtlMs: 5000,
    ...extra,
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(name = 'a1'): Promise<{ peer: Peer; agent: RunningAgent; workDir: string }> {
  const peer = new Peer();
  await new Promise((r) => peer.wss.once('listening', r));
  const workDir = mkdtempSync(join(tmpdir(), 'slipway-agent-'));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  cleanups.push(() => peer.close());
  const agent = await startAgent(
    { url: peer.url, token: 'tok', name, environment: 'ci', labels: 'linux,x64', capacity: 2, workDir, ownProcess: false },
    { log: pino({ level: 'silent' }) },
  );
  cleanups.push(() => Promise.race([agent.stop(), new Promise<void>((r) => setTimeout(r, 3000))]));
  return { peer, agent, workDir };
}

/** A process that exited (zombie or reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const expectedLines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('');

describe('agent protocol', () => {
  it('says hello, runs an assigned stage and reports ordered records with masked secrets', async () => {
    const { peer } = await setup();
    const h = peer.hellos[0];
    expect(h).toMatchObject({ protocolVersion: PROTOCOL_VERSION, token: 'tok', name: 'a1', environment: 'ci', labels: ['linux', 'x64'], capacity: 2, running: [] });
    expect(h.executors.map((e) => e.kind)).toContain('shell');

    peer.send(assign(5, 'echo "user=$DEPLOY_USER pw=$DEPLOY_PW"; echo done', { env: { DEPLOY_USER: 'bob' }, secrets: { DEPLOY_PW: 's3cr3t-value' } }));
    await peer.until(() => !!peer.finished(5), 'stage-finished');
    expect(peer.log(5)).toBe('user=bob pw=***\ndone\n');
    expect(peer.events(5).map((e) => e.type)).toEqual(['agent:step-started', 'agent:step-finished', 'agent:stage-finished']);
    expect(peer.finished(5)).toMatchObject({ status: 'success' });
  });

  it('replays unacknowledged records after a reconnect: the stored log equals the output line for line', async () => {
    const { peer } = await setup();
    peer.autoAck = false;
    peer.send(assign(6, 'for i in $(seq 1 200); do echo "line $i"; sleep 0.005; done'));
    await peer.until(() => peer.log(6).split('\n').length > 20, 'some output');
    // The connection dies; the peer "stored" everything so far but acknowledged nothing.
    peer.socket!.terminate();
    peer.autoAck = true;
    await peer.until(() => peer.hellos.length === 2, 'the agent to reconnect');
    const resumed = peer.hellos[1].running.find((r) => r.stageRunId === 6);
    expect(resumed).toBeDefined();
    expect(resumed!.ackedSeq).toBe(0);
    await peer.until(() => !!peer.finished(6), 'stage-finished');
    expect(peer.log(6)).toBe(expectedLines(200));
    expect(peer.finished(6)).toMatchObject({ status: 'success' });
  });

  it('resume with action abort kills the running step and drops its records', async () => {
    const { peer, workDir } = await setup();
    peer.send(assign(7, 'sleep 30 & echo $! > "$SLIPWAY_WORKSPACE/pid"; wait'));
    const pidFile = join(workDir, 'builds', '10-7', 'pid');
    await peer.until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the step to start');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    peer.onHello = (h, ws) => peer.accept(ws, h, 'abort');
    peer.socket!.terminate();
    await peer.until(() => peer.hellos.length === 2, 'reconnect');
    await peer.until(() => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
      } catch {
        return true;
      }
    }, 'the step process to be killed');
    peer.onHello = (h, ws) => peer.accept(ws, h, 'continue');
    peer.socket!.terminate();
    await peer.until(() => peer.hellos.length === 3, 'second reconnect');
    expect(peer.hellos[2].running).toEqual([]);
  });

  it('master:cancel stops the stage with status cancelled', async () => {
    const { peer } = await setup();
    peer.send(assign(8, 'echo started; sleep 30'));
    await peer.until(() => peer.log(8).includes('started'), 'the step to start');
    peer.send({ type: 'master:cancel', stageRunId: 8, epoch: 1, reason: 'user cancelled', graceMs: 500 });
    await peer.until(() => !!peer.finished(8), 'stage-finished');
    expect(peer.finished(8)).toMatchObject({ status: 'cancelled' });
    const stepFinished = peer.events(8).find((e) => e.type === 'agent:step-finished');
    expect(stepFinished).toMatchObject({ status: 'cancelled' });
  });

  it('stage timeout and continueOnError decide the stage status', async () => {
    const { peer } = await setup();
    const a = assign(9, 'exit 3');
    a.stage.steps = [
      { name: 'may fail', kind: 'shell', config: { run: 'exit 3' }, env: {}, continueOnError: true },
      { name: 'slow', kind: 'shell', config: { run: 'echo slow; sleep 30' }, env: {}, continueOnError: false },
      { name: 'never', kind: 'shell', config: { run: 'echo never' }, env: {}, continueOnError: false },
    ];
    a.stage.timeoutMs = 1000;
    peer.send(a);
    await peer.until(() => !!peer.finished(9), 'stage-finished');
    expect(peer.finished(9)).toMatchObject({ status: 'timeout' });
    const steps = peer.events(9).filter((e) => e.type === 'agent:step-finished');
    expect(steps).toMatchObject([
      { stepIndex: 0, status: 'failed', exitCode: 3 },
      { stepIndex: 1, status: 'timeout' },
    ]);
    expect(peer.log(9)).toBe('slow\n');
  });

  it('refuses an assignment beyond its capacity with agent:refused, not a stage error record', async () => {
    const { peer } = await setup();
    peer.send(assign(20, 'echo a; sleep 30'));
    peer.send(assign(21, 'echo b; sleep 30'));
    await peer.until(() => peer.log(20).includes('a') && peer.log(21).includes('b'), 'both slots busy');
    peer.send(assign(22, 'echo never'));
    await peer.until(() => peer.refusals.length > 0 || !!peer.finished(22), 'an answer to the third assignment');
    expect(peer.refusals).toEqual([expect.objectContaining({ type: 'agent:refused', stageRunId: 22, epoch: 1, reason: 'capacity', busy: 2 })]);
    expect(peer.events(22)).toEqual([]);
    expect(peer.log(22)).toBe('');
    // Refused, not kept: the master re-queues it, so the agent must not report it as running or held.
    peer.heartbeats.length = 0;
    await peer.until(() => peer.heartbeats.length > 0, 'a heartbeat');
    expect(peer.heartbeats[0].leases.map((l) => l.stageRunId).sort()).toEqual([20, 21]);
    const unknown = assign(23, 'x');
    unknown.stage.steps = [{ name: 'odd', kind: 'no-such-kind', config: {}, env: {}, continueOnError: false }];
    peer.send({ type: 'master:cancel', stageRunId: 20, epoch: 1, reason: 'test', graceMs: 200 });
    await peer.until(() => !!peer.finished(20), 'stage 20 cancelled');
    peer.send(unknown);
    await peer.until(() => peer.refusals.length > 1, 'the unknown kind refused');
    expect(peer.refusals[1]).toMatchObject({ stageRunId: 23, reason: 'unknown-kind' });
    expect(peer.refusals[1].message).toContain('no-such-kind');
    expect(peer.events(23)).toEqual([]);
  });

  it('an aborted stage run holds its slot until its process group is gone, and the agent says so at once', async () => {
    const { peer, workDir } = await setup();
    // The step ignores SIGTERM, so the kill takes the whole grace (killGraceMs) before SIGKILL.
    peer.send(assign(24, `trap '' TERM; echo $$ > "$SLIPWAY_WORKSPACE/pid"; while :; do sleep 0.1; done`));
    peer.send(assign(25, 'echo other; sleep 30'));
    const pidFile = join(workDir, 'builds', '10-24', 'pid');
    // The step ignores SIGTERM: if this test fails before the agent kills it, do it here.
    cleanups.push(() => {
      try {
        process.kill(-Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // Gone already (or never started).
      }
    });
    await peer.until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the step to start');
    await peer.until(() => peer.log(25).includes('other'), 'the other stage to start');
    peer.onHello = (h, ws) => {
      peer.send(
        {
          type: 'master:accepted',
          agentId: 1,
          heartbeatIntervalMs: 200,
          leaseTtlMs: 5000,
          maxFrameBytes: 1 << 20,
          maxUnackedBytes: 1 << 20,
          resume: h.running.map((r) => ({ stageRunId: r.stageRunId, epoch: r.epoch, storedSeq: peer.stored.get(r.stageRunId)?.lastSeq ?? 0, action: r.stageRunId === 24 ? 'abort' : 'continue' })),
        },
        ws,
      );
    };
    peer.socket!.terminate();
    await peer.until(() => peer.hellos.length === 2, 'reconnect');
    const after = peer.heartbeats.length;
    await peer.until(() => peer.heartbeats.length > after, 'a heartbeat after the abort');
    // Still killing 24: both slots in use, though only 25 is leased.
    expect(peer.heartbeats.at(-1)).toMatchObject({ busy: 2, leases: [{ stageRunId: 25, epoch: 1 }] });
    peer.send(assign(26, 'echo third'));
    await peer.until(() => peer.refusals.length > 0, 'the refusal');
    expect(peer.refusals[0]).toMatchObject({ stageRunId: 26, reason: 'capacity', busy: 2 });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await peer.until(() => peer.heartbeats.some((h) => h.busy === 1), 'busy 1 once the aborted group is gone');
    expect(alive(pid)).toBe(false);
  });

  it('stop() drains: tells the master, finishes the running stage, waits for its acks', async () => {
    const { peer, agent } = await setup();
    peer.autoAck = false;
    peer.send(assign(11, 'echo working; sleep 0.5; echo done'));
    await peer.until(() => peer.log(11).includes('working'), 'the step to start');
    let stopped = false;
    const stopping = agent.stop().then(() => (stopped = true));
    await peer.until(() => peer.states.includes(true), 'agent:state draining');
    await peer.until(() => !!peer.finished(11), 'stage-finished');
    expect(stopped).toBe(false);
    peer.send({ type: 'master:ack', stageRunId: 11, epoch: 1, seq: peer.stored.get(11)!.lastSeq });
    await stopping;
    expect(peer.log(11)).toBe('working\ndone\n');
    expect(peer.finished(11)).toMatchObject({ status: 'success' });
  });

  it('connects over wss to a master with a self-signed certificate, trusting --ca-file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const peer = new Peer(server);
    cleanups.push(() => peer.close());
    const agent = await startAgent(
      { url: peer.url, token: 'tok', name: 'tls', environment: 'ci', workDir: dir, caFile: cert, ownProcess: false },
      { log: pino({ level: 'silent' }) },
    );
    cleanups.push(() => agent.stop());
    expect(agent.config.wsUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws\/agent$/);
    peer.send(assign(12, 'echo over tls'));
    await peer.until(() => !!peer.finished(12), 'stage-finished');
    expect(peer.log(12)).toBe('over tls\n');
  });

  it('startAgent rejects with the master reason on a refusal retrying cannot fix', async () => {
    const peer = new Peer();
    await new Promise((r) => peer.wss.once('listening', r));
    cleanups.push(() => peer.close());
    peer.onHello = (_h, ws) => {
      peer.send({ type: 'master:refused', code: CloseCode.BadToken, reason: 'agent token unknown or revoked' }, ws);
      ws.close(CloseCode.BadToken, 'bad token');
    };
    const workDir = mkdtempSync(join(tmpdir(), 'slipway-agent-'));
    cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
    await expect(
      startAgent({ url: peer.url, token: 'nope', name: 'x', environment: 'ci', workDir, ownProcess: false }, { log: pino({ level: 'silent' }) }),
    ).rejects.toThrow(/4001.*agent token unknown or revoked/);
  });
});
