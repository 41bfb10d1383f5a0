/**
 * Sends spooled entries to the master and forgets them on its ack. Per source up to WINDOW batches are in
 * flight (the master answers them in order; an ack that stored less than its batch makes everything after
 * it go again from storedThrough + 1, the master skipping what it has); sources are sent side by side. Batches go out when a source has maxEntries waiting or flushMs after the
 * first entry waits. Nothing in flight survives a disconnect: after the master accepts the agent again every
 * source is sent from its last ack on (the master skips what it already stored). A batch not acknowledged
 * within ackTimeoutMs is sent again.
 */
import type { MasterChannel } from '../services/channel';
import type { MasterContainerLogsAck } from '../../shared/protocol';
import { MAX_CONTAINER_LOG_BATCH_ENTRIES } from '../../shared/protocol';
import type { SpoolSet } from './spool';

export interface ShipperOptions {
  maxEntries: number;
  /** Text per batch (bounded further by the master's frame limit). */
  maxChars: number;
  flushMs: number;
  ackTimeoutMs: number;
}

/** Leave room in a frame for the JSON around the texts. */
const FRAME_HEADROOM = 0.5;
/** Batches of one source in flight at once: the agent prepares the next while the master stores one. */
const WINDOW = 2;
/** Socket bytes queued before the shipper waits (the connection also carries stage records). */
const MAX_SOCKET_BUFFER = 4 * 1024 * 1024;

export class Shipper {
  /** Per source: the last seq of each batch in flight, oldest first, and when the oldest was sent. */
  private readonly inflight = new Map<string, { batches: number[]; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly watchdog: NodeJS.Timeout;
  private readonly unlisten: () => void;
  /** Entries acknowledged since the service started. */
  shipped = 0;
  lastAckAt = 0;

  constructor(
    private readonly spools: SpoolSet,
    private readonly channel: MasterChannel,
    private readonly opts: ShipperOptions,
    /** A source's container is gone and every entry is acknowledged. */
    private readonly onDrained: (source: string) => void,
  ) {
    this.unlisten = channel.listen({
      onReady: () => {
        this.inflight.clear();
        this.pump();
      },
      onLost: () => this.inflight.clear(),
      onContainerLogsAck: (m) => this.onAck(m),
    });
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const [src, f] of this.inflight) if (now - f.at > this.opts.ackTimeoutMs) this.inflight.delete(src);
      this.pump();
    }, Math.min(1000, this.opts.ackTimeoutMs)).unref();
  }

  /** Entries were spooled: send now when a batch is full, else within flushMs. */
  spooled(): void {
    for (const s of this.spools.sources.values()) {
      if ((this.inflight.get(s.meta.source)?.batches.length ?? 0) < WINDOW && s.lastSeq - this.sentThrough(s) >= this.opts.maxEntries) return this.pump();
    }
    this.timer ??= setTimeout(() => this.pump(), this.opts.flushMs);
  }

  /** Sends batches of every source with entries waiting, up to WINDOW in flight each. */
  pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.channel.ready) return;
    const maxChars = Math.max(1024, Math.min(this.opts.maxChars, Math.floor(this.channel.maxFrameBytes * FRAME_HEADROOM)));
    for (const s of this.spools.sources.values()) {
      if (s.refused) continue;
      const source = s.meta.source;
      for (;;) {
        const f = this.inflight.get(source);
        if ((f?.batches.length ?? 0) >= WINDOW) break;
        if (this.channel.bufferedAmount > MAX_SOCKET_BUFFER) {
          // The socket is backed up: look again shortly instead of queueing more in memory.
          this.timer = setTimeout(() => this.pump(), 20);
          return;
        }
        const from = this.sentThrough(s) + 1;
        if (s.lastSeq < from) break;
        const recs = s.read(from, Math.min(this.opts.maxEntries, MAX_CONTAINER_LOG_BATCH_ENTRIES), maxChars);
        if (!recs.length) break;
        const { app, environment, instance } = s.meta;
        let streams = '';
        for (const r of recs) streams += r.stream === 'stderr' ? 'e' : 'o';
        const sent = this.channel.send({
          type: 'agent:container-logs',
          source,
          firstSeq: recs[0].seq,
          app,
          environment,
          instance,
          streams,
          ts: recs.map((r) => r.ts),
          texts: recs.map((r) => r.text),
        });
        if (!sent) return;
        const through = recs[recs.length - 1].seq;
        if (f) f.batches.push(through);
        else this.inflight.set(source, { batches: [through], at: Date.now() });
      }
    }
  }

  /** The last seq sent (or acknowledged) of a source. */
  sentThrough(s: { meta: { source: string }; acked: number }): number {
    const b = this.inflight.get(s.meta.source)?.batches;
    return b?.length ? b[b.length - 1] : s.acked;
  }

  private onAck(m: MasterContainerLogsAck): void {
    const s = this.spools.get(m.source);
    const f = this.inflight.get(m.source);
    const expected = f?.batches.shift();
    // Stored less than that batch (or an ack we did not wait for): send everything after it again.
    if (!f || expected === undefined || m.storedThrough < expected || m.refused) this.inflight.delete(m.source);
    else if (!f.batches.length) this.inflight.delete(m.source);
    else f.at = Date.now();
    if (!s) return;
    if (m.refused) {
      s.refused = m.refused;
      return;
    }
    s.refused = undefined;
    const before = s.acked;
    s.ack(m.storedThrough);
    this.shipped += Math.max(0, s.acked - before);
    this.lastAckAt = Date.now();
    if (s.finished && s.acked >= s.lastSeq) this.onDrained(m.source);
    this.pump();
  }

  /** Sources the master refused, with why (shown in the service status). */
  refusals(): string[] {
    return [...this.spools.sources.values()].filter((s) => s.refused).map((s) => `${s.meta.instance}: ${s.refused}`);
  }

  /** Refused sources are tried again (e.g. every health check: the master's configuration may have changed). */
  retryRefused(): void {
    for (const s of this.spools.sources.values()) s.refused = undefined;
    this.pump();
  }

  stop(): void {
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.unlisten();
  }
}
