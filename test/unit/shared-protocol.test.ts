import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../shared/duration';
import { AgentMessageSchema, decodeLogChunk, encodeLogChunk, MasterMessageSchema, MAX_CONTAINER_LOG_BATCH_ENTRIES, PROTOCOL_VERSION } from '../../shared/protocol';

describe('log frames', () => {
  it('round-trips a chunk', () => {
    const data = Buffer.from('hello\nworld\n');
    const out = decodeLogChunk(encodeLogChunk({ stageRunId: 7, epoch: 3, seq: 42, offset: 1_000_000_000_123, data }));
    expect(out).toEqual({ stageRunId: 7, epoch: 3, seq: 42, offset: 1_000_000_000_123, data });
  });

  it('refuses short, foreign and zero-id frames with a reason', () => {
    expect(decodeLogChunk(Buffer.alloc(5))).toMatch(/shorter/);
    const good = encodeLogChunk({ stageRunId: 1, epoch: 0, seq: 1, offset: 0, data: Buffer.from('x') });
    const foreign = Buffer.from(good);
    foreign[0] = 0x00;
    expect(decodeLogChunk(foreign)).toMatch(/unknown binary frame kind/);
    const version = Buffer.from(good);
    version[1] = (PROTOCOL_VERSION + 1) & 0xff;
    expect(decodeLogChunk(version)).toMatch(/version/);
    expect(decodeLogChunk(encodeLogChunk({ stageRunId: 0, epoch: 0, seq: 1, offset: 0, data: Buffer.alloc(0) }))).toMatch(/stageRunId 0/);
  });
});

describe('control messages', () => {
  it('validates hello and names a bad field', () => {
    const hello = {
      type: 'agent:hello', protocolVersion: PROTOCOL_VERSION, token: 't', name: 'a1', environment: 'ci',
      labels: [], capacity: 1, executors: [{ kind: 'shell', version: '1' }], running: [],
    };
    expect(AgentMessageSchema.safeParse(hello).success).toBe(true);
    const bad = AgentMessageSchema.safeParse({ ...hello, capacity: 0 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].path).toEqual(['capacity']);
    expect(AgentMessageSchema.safeParse({ type: 'agent:unknown' }).success).toBe(false);
  });
});

describe('container log messages', () => {
  const entry = { app: 'shop', environment: 'pre', instance: 'shop-pre-1', stream: 'stdout', ts: 1_700_000_000_000, text: 'line 1' };
  it('validates a batch and names the bad field of an entry', () => {
    const batch = { type: 'agent:container-logs', source: 'pre/abc123', firstSeq: 1, entries: [entry] };
    expect(AgentMessageSchema.safeParse(batch).success).toBe(true);
    const bad = AgentMessageSchema.safeParse({ ...batch, entries: [{ ...entry, stream: 'stdin' }] });
    expect(bad.error?.issues[0].path).toEqual(['entries', 0, 'stream']);
    expect(AgentMessageSchema.safeParse({ ...batch, firstSeq: 0 }).success).toBe(false);
    expect(AgentMessageSchema.safeParse({ ...batch, entries: [] }).success).toBe(false);
    expect(AgentMessageSchema.safeParse({ ...batch, entries: Array(MAX_CONTAINER_LOG_BATCH_ENTRIES + 1).fill(entry) }).success).toBe(false);
    expect(AgentMessageSchema.safeParse({ ...batch, source: 'pre/abc 123' }).success).toBe(false);
  });
  it('validates the ack, with an optional refusal', () => {
    expect(MasterMessageSchema.safeParse({ type: 'master:container-logs-ack', source: 'pre/abc', storedThrough: 7 }).success).toBe(true);
    expect(MasterMessageSchema.safeParse({ type: 'master:container-logs-ack', source: 'pre/abc', storedThrough: 0, refused: 'environment' }).success).toBe(true);
    expect(MasterMessageSchema.safeParse({ type: 'master:container-logs-ack', source: 'pre/abc', storedThrough: -1 }).success).toBe(false);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90', 90_000], [90, 90_000], ['30s', 30_000], ['10m', 600_000], ['1h30m', 5_400_000], ['500ms', 500],
  ] as const)('%s', (input, ms) => expect(parseDuration(input)).toBe(ms));
  it.each(['', 'soon', '10x', '-5', 'm'])('refuses %s', (input) => expect(parseDuration(input)).toBeNull());
});
