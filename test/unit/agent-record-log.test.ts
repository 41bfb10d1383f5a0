import { describe, expect, it } from 'vitest';
import { decodeLogChunk } from '../../shared/protocol';
import { RecordLog } from '../../agent/record-log';
import { CaptureTransport } from '../helpers/capture-transport';

describe('RecordLog', () => {
  it('numbers log chunks and events in one sequence with byte offsets', () => {
    const t = new CaptureTransport();
    const log = new RecordLog(7, 3, t, 1000);
    log.appendEvent({ type: 'agent:step-started', stepIndex: 0, at: 1 });
    log.appendLog(Buffer.from('hello\n'));
    log.appendLog(Buffer.from('world\n'));
    log.appendEvent({ type: 'agent:step-finished', stepIndex: 0, exitCode: 0, status: 'success', durationMs: 1, at: 2 });
    expect(t.seqs()).toEqual([1, 2, 3, 4]);
    const second = decodeLogChunk(t.sent[2] as Buffer);
    expect(second).toMatchObject({ stageRunId: 7, epoch: 3, seq: 3, offset: 6 });
    expect(JSON.parse(t.sent[0] as string)).toMatchObject({ type: 'agent:step-started', stageRunId: 7, epoch: 3, seq: 1 });
    expect(log.unackedCount).toBe(4);
  });

  it('keeps records until acked and replays only those after storedSeq', () => {
    const t = new CaptureTransport();
    const log = new RecordLog(1, 0, t, 1000);
    for (let i = 0; i < 5; i++) log.appendLog(Buffer.from(`line ${i}\n`));
    log.ack(2);
    expect(log.unackedCount).toBe(3);
    t.ready = false;
    log.appendLog(Buffer.from('while away\n'));
    expect(t.sent.length).toBe(5);
    t.ready = true;
    t.sent = [];
    log.replay(4);
    expect(t.seqs()).toEqual([5, 6]);
    expect(log.ackedSeq).toBe(4);
    log.ack(3);
    expect(log.ackedSeq).toBe(4);
  });

  it('is settled only when stage-finished is acked, and refuses records after it', () => {
    const log = new RecordLog(1, 0, new CaptureTransport(), 1000);
    log.appendLog(Buffer.from('x'));
    log.appendEvent({ type: 'agent:stage-finished', status: 'success', artifacts: [], at: 1 });
    expect(log.settled).toBe(false);
    expect(() => log.appendLog(Buffer.from('late'))).toThrow(/after stage-finished/);
    log.ack(2);
    expect(log.settled).toBe(true);
  });

  it('signals backpressure above maxUnackedBytes and relief at half of it', () => {
    const log = new RecordLog(1, 0, new CaptureTransport(), 100);
    let relieved = 0;
    log.onRelieved(() => relieved++);
    for (let i = 0; i < 4; i++) log.appendLog(Buffer.alloc(30, 0x61));
    expect(log.backlogged).toBe(true);
    log.ack(1);
    expect(log.backlogged).toBe(false);
    expect(relieved).toBe(0);
    log.ack(3);
    expect(log.unackedLogBytes).toBe(30);
    expect(relieved).toBe(1);
  });

  it('drops everything when aborted and ignores later records', () => {
    const t = new CaptureTransport();
    const log = new RecordLog(1, 0, t, 100);
    log.appendLog(Buffer.from('a'));
    log.drop();
    expect(log.appendLog(Buffer.from('b'))).toBe(0);
    expect(log.settled).toBe(true);
    expect(t.sent.length).toBe(1);
  });
});
