/**
 * The ordered records of one stage run, as the agent ships them: log chunks (binary frames) and step/stage
 * events (JSON) share one seq space (1, 2, 3...). Every record stays in memory until the master acknowledges
 * it (master:ack is cumulative), so after a reconnect the agent replays exactly what the master has not
 * stored (master:accepted.resume.storedSeq). No record is dropped: when too many log bytes are unacknowledged,
 * `backlogged` turns true and the log shipper pauses the step's output until acks bring it under half again.
 */
import { encodeLogChunk, type StageRecord } from '../shared/protocol';

/** The connection as a RecordLog sees it. */
export interface RecordTransport {
  /** True while the master has accepted this connection and records may be sent now. */
  readonly ready: boolean;
  sendBinary(frame: Buffer): void;
  sendText(json: string): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A step/stage event before the RecordLog numbers it. */
export type RecordEvent = DistributiveOmit<StageRecord, 'seq' | 'stageRunId' | 'epoch'>;

interface Pending {
  seq: number;
  frame: Buffer | string;
  logBytes: number;
}

export class RecordLog {
  private pending: Pending[] = [];
  private relievedListeners: (() => void)[] = [];
  private _lastSeq = 0;
  private _ackedSeq = 0;
  private _offset = 0;
  private _unackedLogBytes = 0;
  /** Set once agent:stage-finished was appended; the log is settled when that record is acked too. */
  finished = false;
  /** Set by drop(): the master aborted this stage run; further records are discarded. */
  dropped = false;

  constructor(
    readonly stageRunId: number,
    readonly epoch: number,
    private readonly transport: RecordTransport,
    /** Log bytes that may be unacknowledged before `backlogged` turns true. */
    public maxUnackedBytes: number,
  ) {}

  get lastSeq(): number {
    return this._lastSeq;
  }
  get ackedSeq(): number {
    return this._ackedSeq;
  }
  /** Bytes of log appended so far (the offset of the next chunk). */
  get offset(): number {
    return this._offset;
  }
  get unackedLogBytes(): number {
    return this._unackedLogBytes;
  }
  get unackedCount(): number {
    return this.pending.length;
  }
  get backlogged(): boolean {
    return this._unackedLogBytes > this.maxUnackedBytes;
  }
  /** Finished and every record acknowledged: nothing more to send or keep. */
  get settled(): boolean {
    return this.finished && this._ackedSeq >= this._lastSeq;
  }

  /** Append a log chunk (already masked, below the frame limit) and send it when connected. Returns its seq (0 once dropped). */
  appendLog(data: Buffer): number {
    if (this.dropped) return 0;
    if (this.finished) throw new Error(`stage run ${this.stageRunId}: log after stage-finished`);
    const seq = ++this._lastSeq;
    const frame = encodeLogChunk({ stageRunId: this.stageRunId, epoch: this.epoch, seq, offset: this._offset, data });
    this._offset += data.length;
    this._unackedLogBytes += data.length;
    this.pending.push({ seq, frame, logBytes: data.length });
    if (this.transport.ready) this.transport.sendBinary(frame);
    return seq;
  }

  /** Append a step/stage event; agent:stage-finished closes the log. */
  appendEvent(event: RecordEvent): number {
    if (this.dropped) return 0;
    if (this.finished) throw new Error(`stage run ${this.stageRunId}: ${event.type} after stage-finished`);
    const seq = ++this._lastSeq;
    const frame = JSON.stringify({ ...event, stageRunId: this.stageRunId, epoch: this.epoch, seq });
    this.pending.push({ seq, frame, logBytes: 0 });
    if (event.type === 'agent:stage-finished') this.finished = true;
    if (this.transport.ready) this.transport.sendText(frame);
    return seq;
  }

  /** master:ack: every record up to seq is committed. Stale or repeated acks are harmless. */
  ack(seq: number): void {
    if (seq <= this._ackedSeq) return;
    this._ackedSeq = Math.min(seq, this._lastSeq);
    let n = 0;
    while (n < this.pending.length && this.pending[n].seq <= this._ackedSeq) this._unackedLogBytes -= this.pending[n++].logBytes;
    this.pending.splice(0, n);
    // Hysteresis: resume only well below the limit, so the step is not paused and resumed per ack.
    if (this._unackedLogBytes <= this.maxUnackedBytes / 2) for (const l of this.relievedListeners) l();
  }

  /** After master:accepted with action 'continue': drop what the master stored, send the rest in order. */
  replay(storedSeq: number): void {
    this.ack(storedSeq);
    if (!this.transport.ready) return;
    for (const p of this.pending) {
      if (typeof p.frame === 'string') this.transport.sendText(p.frame);
      else this.transport.sendBinary(p.frame);
    }
  }

  /** Called whenever acks bring the unacknowledged log bytes to half the limit or below. */
  onRelieved(listener: () => void): void {
    this.relievedListeners.push(listener);
  }

  /** Forget every record (the master aborted this stage run). */
  drop(): void {
    this.pending = [];
    this._unackedLogBytes = 0;
    this._ackedSeq = this._lastSeq;
    this.finished = true;
    this.dropped = true;
    for (const l of this.relievedListeners) l();
  }
}
