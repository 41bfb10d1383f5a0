/**
 * The agent gateway at the socket edge, against a real master process with raw `ws` clients: every bad
 * connection is closed with its CloseCode while the master keeps serving a healthy agent, and a record
 * for a stage run leased to another agent is refused and never stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, PROTOCOL_VERSION, encodeLogChunk, type MasterMessage } from '../../shared/protocol';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { hello, helloRaw, openRaw, type RawAgent } from './engine-raw-agent';

type Of<T extends MasterMessage['type']> = Extract<MasterMessage, { type: T }>;
const is =
  <T extends MasterMessage['type']>(type: T) =>
  (m: MasterMessage): m is Of<T> =>
    m.type === type;

let master: TestMaster;
let ciToken: string;
let healthy: RawAgent;
const suffix = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  master = await startMaster({ env: { SLIPWAY_MAX_FRAME_BYTES: '65536' } });
  await master.api.createEnvironment('ci');
  await master.api.createEnvironment('pre');
  ciToken = (await master.api.createAgentToken('ci', 'raw')).token;
  await master.api.createTeam(`proto-${suffix}`);
  healthy = await helloRaw(master.url, ciToken, 'healthy', 'ci');
});

afterAll(async () => {
  healthy?.ws.close();
  await master?.stop();
});

/** The healthy agent still gets answers: a heartbeat with a lease it does not hold is answered by master:cancel. */
async function masterStillServes(): Promise<void> {
  const before = healthy.received.length;
  healthy.sendJson({ type: 'agent:heartbeat', leases: [{ stageRunId: 999_999, epoch: 1 }] });
  await waitFor('master answering the healthy agent', () => healthy.received.slice(before).some((m) => m.type === 'master:cancel'));
  const agents = await master.api.listAgents();
  expect(agents.find((a) => a.name === 'healthy')?.state).toBe('connected');
}

describe('agent gateway edge', () => {
  it('refuses a bad token with 4001', async () => {
    const a = await openRaw(master.url);
    a.sendJson(hello('not-a-token', 'bad-token', 'ci'));
    const c = await a.closed;
    expect(c.code).toBe(CloseCode.BadToken);
    expect(a.received.find(is('master:refused'))?.code).toBe(CloseCode.BadToken);
    await masterStillServes();
  });

  it('refuses another protocol version with master:refused and 4002', async () => {
    const a = await openRaw(master.url);
    a.sendJson(hello(ciToken, 'old-agent', 'ci', { protocolVersion: PROTOCOL_VERSION + 1 }));
    const c = await a.closed;
    expect(c.code).toBe(CloseCode.ProtocolVersion);
    expect(a.received.find(is('master:refused'))?.reason).toContain(`master speaks ${PROTOCOL_VERSION}`);
    await masterStillServes();
  });

  it('refuses an environment other than the token’s with 4003', async () => {
    const a = await openRaw(master.url);
    a.sendJson(hello(ciToken, 'wrong-env', 'pre'));
    expect((await a.closed).code).toBe(CloseCode.EnvironmentMismatch);
    await masterStillServes();
  });

  it('closes malformed JSON with 4004', async () => {
    const a = await openRaw(master.url);
    a.ws.send('{"type": "agent:hello", ');
    const c = await a.closed;
    expect(c.code).toBe(CloseCode.MalformedFrame);
    expect(c.reason).toContain('not valid JSON');
    await masterStillServes();
  });

  it('closes a schema-invalid frame with 4004 and a reason naming the field', async () => {
    const a = await helloRaw(master.url, ciToken, 'schema-breaker', 'ci');
    a.sendJson({ type: 'agent:heartbeat', leases: [{ stageRunId: 'seven', epoch: 1 }] });
    const c = await a.closed;
    expect(c.code).toBe(CloseCode.MalformedFrame);
    expect(c.reason).toContain('leases.0.stageRunId');
    await masterStillServes();
  });

  it('closes a binary frame with a bad header with 4004', async () => {
    const a = await helloRaw(master.url, ciToken, 'binary-breaker', 'ci');
    a.ws.send(Buffer.from('nonsense'));
    const c = await a.closed;
    expect(c.code).toBe(CloseCode.MalformedFrame);
    expect(c.reason).toContain('header');
    await masterStillServes();
  });

  it('closes an oversized frame with 1009', async () => {
    const a = await helloRaw(master.url, ciToken, 'big-talker', 'ci');
    a.ws.send(Buffer.alloc(70_000, 1));
    expect((await a.closed).code).toBe(CloseCode.FrameTooLarge);
    await masterStillServes();
  });

  it('requires agent:hello as the first frame (4006)', async () => {
    const a = await openRaw(master.url);
    a.sendJson({ type: 'agent:heartbeat', leases: [] });
    expect((await a.closed).code).toBe(CloseCode.HelloRequired);
    await masterStillServes();
  });

  it('closes a connection that sends no hello within 5 s (4006)', async () => {
    const a = await openRaw(master.url);
    expect((await a.closed).code).toBe(CloseCode.HelloRequired);
  });

  it('does not echo frame text (which may hold a token) in the close reason', async () => {
    const a = await openRaw(master.url);
    a.ws.send('{"type":"agent:hello","token":"sekrit-token-value" oops');
    const c = await a.closed;
    expect(c.code).toBe(CloseCode.MalformedFrame);
    expect(c.reason).not.toContain('sekrit');
  });

  it('disconnects an agent whose token is revoked (4001)', async () => {
    const t = await master.api.createAgentToken('ci', 'short-lived');
    const a = await helloRaw(master.url, t.token, 'short-lived', 'ci');
    await master.api.revokeAgentToken(t.id);
    expect((await a.closed).code).toBe(CloseCode.BadToken);
    const again = await openRaw(master.url);
    again.sendJson(hello(t.token, 'short-lived', 'ci'));
    expect((await again.closed).code).toBe(CloseCode.BadToken);
  });

  it('replaces an older connection of the same agent name (4005)', async () => {
    const first = await helloRaw(master.url, ciToken, 'twin', 'ci');
    const second = await helloRaw(master.url, ciToken, 'twin', 'ci');
    expect((await first.closed).code).toBe(CloseCode.Replaced);
    expect(second.ws.readyState).toBe(second.ws.OPEN);
    second.ws.close();
  });

  it('refuses records for a stage run leased to another agent and stores nothing of them', async () => {
    // The job runs in 'pre', so the healthy 'ci' agent can never take it: the first pre agent holds the lease.
    const preToken = (await master.api.createAgentToken('pre', 'raw-pre')).token;
    await master.api.applyJob(`name: lease-${suffix}
team: proto-${suffix}
stages:
  - name: only
    environment: pre
    steps:
      - sh: echo hi
`);
    const holder = await helloRaw(master.url, preToken, 'holder', 'pre');
    const build = await master.api.trigger(`lease-${suffix}`);
    const assign = await holder.next('master:assign', is('master:assign'));
    expect(assign.build.id).toBe(build.id);
    const intruder = await helloRaw(master.url, preToken, 'intruder', 'pre');

    intruder.sendJson({ type: 'agent:step-started', stageRunId: assign.stageRunId, epoch: assign.epoch, seq: 1, stepIndex: 0, at: Date.now() });
    const err = await intruder.next('lease_mismatch', is('master:error'));
    expect(err).toMatchObject({ code: 'lease_mismatch', stageRunId: assign.stageRunId });
    intruder.ws.send(encodeLogChunk({ stageRunId: assign.stageRunId, epoch: assign.epoch, seq: 1, offset: 0, data: Buffer.from('INTRUDER\n') }));
    await waitFor('lease_mismatch for the log chunk', () => intruder.received.filter(is('master:error')).length >= 2);

    // The holder's own seq 1 is still expected (nothing of the intruder was stored) and gets acked.
    holder.ws.send(encodeLogChunk({ stageRunId: assign.stageRunId, epoch: assign.epoch, seq: 1, offset: 0, data: Buffer.from('mine\n') }));
    const ack = await holder.next('master:ack', is('master:ack'));
    expect(ack.seq).toBe(1);
    // A stale epoch of the holder itself is refused as well.
    holder.sendJson({ type: 'agent:step-started', stageRunId: assign.stageRunId, epoch: assign.epoch + 1, seq: 2, stepIndex: 0, at: Date.now() });
    expect((await holder.next('stale epoch refused', is('master:error'))).code).toBe('lease_mismatch');
    // A gap is reported, not stored.
    holder.ws.send(encodeLogChunk({ stageRunId: assign.stageRunId, epoch: assign.epoch, seq: 5, offset: 5, data: Buffer.from('gap\n') }));
    await waitFor('sequence_gap', () => holder.received.some((m) => m.type === 'master:error' && m.code === 'sequence_gap'));

    holder.sendJson({ type: 'agent:stage-finished', stageRunId: assign.stageRunId, epoch: assign.epoch, seq: 2, status: 'success', artifacts: [], at: Date.now() });
    await waitFor('build success', async () => (await master.api.getBuild(build.id)).status === 'success');
    expect(await master.api.buildLog(build.id)).toBe('mine\n');
    holder.ws.close();
    intruder.ws.close();
  });
});
