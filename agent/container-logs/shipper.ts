/**
 * Sends spooled entries to the master and forgets them on its ack. Per source one batch is in flight at a
 * time (the next starts at the ack's storedThrough + 1, so an ack that stored less makes the rest go again);
 * sources are sent side by side. Batches go out when a source has maxEntries waiting or flushMs after the
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
/** Socket bytes queued before the shipper waits (the connection also carries stage records). */
const MAX_SOCKET_BUFFER = 4 * 1024 * 1024;

export class Shipper {
  private readonly inflight = new Map<string, { through: number; at: number }>();
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
        this.pump(true);
      },
      onLost: () => this.inflight.clear(),
      onContainerLogsAck: (m) => this.onAck(m),
    });
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const [src, f] of this.inflight) if (now - f.at > this.opts.ackTimeoutMs) this.inflight.delete(src);
      this.pump(true);
    }, Math.min(1000, this.opts.ackTimeoutMs)).unref();
  }

  /** Entries were spooled: send now when a batch is full, else within flushMs. */
  spooled(): void {
    for (const s of this.spools.sources.values()) {
      if (!this.inflight.has(s.meta.source) && s.lastSeq - s.acked >= this.opts.maxEntries) return this.pump(true);
    }
    this.timer ??= setTimeout(() => this.pump(true), this.opts.flushMs);
  }

  /** Sends one batch for each source that has entries waiting and none in flight. */
  pump(_now: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.channel.ready) return;
    const maxChars = Math.max(1024, Math.min(this.opts.maxChars, Math.floor(this.channel.maxFrameBytes * FRAME_HEADROOM)));
    for (const s of this.spools.sources.values()) {
      if (this.inflight.has(s.meta.source) || s.refused) continue;
      if (this.channel.bufferedAmount > MAX_SOCKET_BUFFER) {
        // The socket is backed up: look again shortly instead of queueing more in memory.
        this.timer = setTimeout(() => this.pump(true), 20);
        return;
      }
      if (s.lastSeq <= s.acked) continue;
      const recs = s.read(s.acked + 1, Math.min(this.opts.maxEntries, MAX_CONTAINER_LOG_BATCH_ENTRIES), maxChars);
      if (!recs.length) continue;
      const { app, environment, instance, source } = s.meta;
      const sent = this.channel.send({
        type: 'agent:container-logs',
        source,
        firstSeq: recs[0].seq,
        entries: recs.map((r) => ({ app, environment, instance, stream: r.stream, ts: r.ts, text: r.text })),
      });
      if (!sent) return;
      this.inflight.set(source, { through: recs[recs.length - 1].seq, at: Date.now() });
    }
  }

  private onAck(m: MasterContainerLogsAck): void {
    const s = this.spools.get(m.source);
    this.inflight.delete(m.source);
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
    this.pump(true);
  }

  /** Sources the master refused, with why (shown in the service status). */
  refusals(): string[] {
    return [...this.spools.sources.values()].filter((s) => s.refused).map((s) => `${s.meta.instance}: ${s.refused}`);
  }

  /** Refused sources are tried again (e.g. every health check: the master's configuration may have changed). */
  retryRefused(): void {
    for (const s of this.spools.sources.values()) s.refused = undefined;
    this.pump(true);
  }

  stop(): void {
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.unlisten();
  }
}
