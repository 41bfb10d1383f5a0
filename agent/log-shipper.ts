/**
 * A stage run's output path: step output (stdout and stderr merged in arrival order) -> SecretMasker (byte-wise,
 * a secret split across two reads is still masked) -> LogChunker (~64 KiB, cut at a newline) -> RecordLog
 * (seq, offset, binary frame). Chunks are flushed at least every flushMs. While the RecordLog is backlogged
 * every attached stream is paused, and resumed when acks relieve it: output is slowed, never dropped.
 */
import type { Readable } from 'node:stream';
import { SecretMasker } from '../shared/mask';
import { LogChunker } from './log-chunker';
import type { RecordLog } from './record-log';
import type { StepOutput } from './executors/types';

export interface LogShipperOptions {
  maxChunkBytes: number;
  flushMs: number;
}

export class LogShipper implements StepOutput {
  private readonly chunker: LogChunker;
  private readonly streams = new Set<Readable>();
  private timer: NodeJS.Timeout | undefined;
  private _paused = false;

  constructor(
    private readonly log: RecordLog,
    private readonly masker: SecretMasker,
    private readonly opts: LogShipperOptions,
  ) {
    this.chunker = new LogChunker(opts.maxChunkBytes, (chunk) => this.ship(chunk));
    log.onRelieved(() => this.resumeAll());
  }

  get paused(): boolean {
    return this._paused;
  }

  write(data: Buffer | string): void {
    const masked = this.masker.push(typeof data === 'string' ? Buffer.from(data) : data);
    if (!masked.length) return;
    this.chunker.push(masked);
    if (this.chunker.pendingBytes && !this.timer) this.timer = setTimeout(() => this.tick(), this.opts.flushMs);
  }

  attach(stream: Readable): Promise<void> {
    this.streams.add(stream);
    stream.on('data', (d: Buffer) => this.write(d));
    if (this._paused) stream.pause();
    return new Promise((resolve) => {
      const done = () => {
        this.streams.delete(stream);
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', done);
    });
  }

  /**
   * End of a step: ship everything, including bytes the masker held back, so the step's log precedes its
   * agent:step-finished record.
   */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rest = this.masker.flush();
    if (rest.length) this.chunker.push(rest);
    this.chunker.flush();
  }

  /** Stop the flush timer; call after the last flush(). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.streams.clear();
  }

  private tick(): void {
    this.timer = undefined;
    this.chunker.flush();
  }

  private ship(chunk: Buffer): void {
    if (this.log.dropped) return;
    this.log.appendLog(chunk);
    if (this.log.backlogged && !this._paused) {
      this._paused = true;
      for (const s of this.streams) s.pause();
    }
  }

  private resumeAll(): void {
    if (!this._paused) return;
    this._paused = false;
    for (const s of this.streams) s.resume();
  }
}
