/**
 * Follows one container's log through the Engine API (`GET /containers/{id}/logs?follow&stdout&stderr&
 * timestamps&since=`): demultiplexes stdout and stderr (8-byte frame headers; a TTY container sends one raw
 * stream), strips Docker's timestamp, skips what was read before (PositionTracker), joins multi-line entries
 * (MultilineJoiner) and appends them to the container's spool in one write per chunk read.
 *
 * The stream ends when the container stops; `onEnd` is then called after the entry being gathered was
 * spooled, so a restart of the same container resumes exactly after the last spooled entry.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { MultilineJoiner, type JoinedEntry, type MultilineRule } from './multiline';
import { parseDockerStamp, PositionTracker, sinceParam } from './position';
import type { SourceSpool } from './spool';

export class ContainerFollower {
  private stream: Readable | undefined;
  private readonly joiner: MultilineJoiner;
  private out: JoinedEntry[] = [];
  private stopped = false;
  /** Lines read from the engine since the service started. */
  lines = 0;

  constructor(
    private readonly docker: Docker,
    readonly spool: SourceSpool,
    rule: MultilineRule,
    /** Entries were appended to the spool. */
    private readonly onSpooled: () => void,
    /** The log stream ended (container stopped) or failed (error set). */
    private readonly onEnd: (error?: Error) => void,
  ) {
    this.joiner = new MultilineJoiner(rule, (e) => {
      this.out.push(e);
      // Emitted by the joiner's flush timer (outside a chunk): spool at once.
      if (!this.inChunk) this.spoolOut();
    });
  }

  private inChunk = false;

  /** From start() until the stream ended: a second start() meanwhile (restart event racing the end) does nothing. */
  private active = false;

  get following(): boolean {
    return this.active;
  }

  /** Follows from the spool's position; does nothing while already following (one stream per container, ever). */
  async start(): Promise<void> {
    if (this.active || this.stopped) return;
    this.active = true;
    try {
      await this.open();
    } catch (e) {
      this.active = false;
      throw e;
    }
  }

  private async open(): Promise<void> {
    const c = this.docker.getContainer(this.spool.meta.containerId);
    const info = await c.inspect();
    const tty = !!info.Config?.Tty;
    const since = sinceParam(this.spool.position);
    const stream = (await c.logs({ follow: true, stdout: true, stderr: true, timestamps: true, ...(since ? { since: since as unknown as number } : {}) })) as unknown as Readable;
    if (this.stopped) {
      stream.destroy();
      this.active = false;
      return;
    }
    this.stream = stream;
    const tracker = new PositionTracker(this.spool.position);
    const parser = tty ? rawParser() : muxParser();
    const partial: Record<'stdout' | 'stderr', { ts: number; text: string } | undefined> = { stdout: undefined, stderr: undefined };
    stream.on('data', (chunk: Buffer) => {
      this.inChunk = true;
      try {
        for (const m of parser(chunk)) {
          // "<RFC 3339 nano> <text>" per message; a message without its newline is a part of a long line.
          const sp = m.data.indexOf(' ');
          const stamp = sp > 0 ? parseDockerStamp(m.data.slice(0, sp)) : undefined;
          if (!stamp) continue;
          if (!tracker.admit(stamp.key)) continue;
          let text = m.data.slice(sp + 1);
          const complete = text.endsWith('\n');
          if (complete) text = text.slice(0, text.endsWith('\r\n') ? -2 : -1);
          const prev = partial[m.stream];
          if (prev) {
            text = prev.text + text;
            partial[m.stream] = undefined;
          }
          if (!complete) {
            partial[m.stream] = { ts: prev?.ts ?? stamp.ms, text };
            continue;
          }
          this.lines++;
          this.joiner.push({ stream: m.stream, ts: prev?.ts ?? stamp.ms, text, pos: tracker.current! });
        }
      } finally {
        this.inChunk = false;
      }
      this.spoolOut();
    });
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      this.stream = undefined;
      this.active = false;
      // The container's run is over: its last entry is complete.
      this.joiner.flush();
      this.spoolOut();
      if (!this.stopped) this.onEnd(err);
    };
    stream.once('end', () => end());
    stream.once('close', () => end());
    stream.once('error', (e) => end(e));
  }

  /** Stops following; the entry being gathered is spooled. */
  stop(): void {
    this.stopped = true;
    this.stream?.destroy();
    this.stream = undefined;
    this.joiner.flush();
    this.spoolOut();
  }

  private spoolOut(): void {
    if (!this.out.length) return;
    const batch = this.out;
    this.out = [];
    this.spool.append(batch);
    this.onSpooled();
  }
}

interface RawMessage {
  stream: 'stdout' | 'stderr';
  data: string;
}

/** Docker's multiplexed stream: [stream type, 0, 0, 0, size (uint32 BE)] + payload, one log message per frame. */
function muxParser(): (chunk: Buffer) => RawMessage[] {
  let buf: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const out: RawMessage[] = [];
    let off = 0;
    while (buf.length - off >= 8) {
      const size = buf.readUInt32BE(off + 4);
      if (buf.length - off - 8 < size) break;
      out.push({ stream: buf[off] === 2 ? 'stderr' : 'stdout', data: buf.toString('utf8', off + 8, off + 8 + size) });
      off += 8 + size;
    }
    buf = buf.subarray(off);
    return out;
  };
}

/** A TTY container's single stream: one message per line. */
function rawParser(): (chunk: Buffer) => RawMessage[] {
  let rest = '';
  return (chunk) => {
    const text = rest + chunk.toString('utf8');
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    return parts.map((p) => ({ stream: 'stdout' as const, data: p + '\n' }));
  };
}
