/**
 * The on-disk spool of container log entries: every entry read from a container is written here with its seq
 * before it is sent, and stays until the master acknowledges it (storedThrough). So an agent restart, a
 * master away or a slow master lose nothing: the spool is the agent's checkpoint.
 *
 * Layout: <dir>/<source dir>/state.json (the source's container, app, environment, instance, acknowledged
 * seq, last seq and the container log position after it) and segment files <first seq>.seg of JSON lines
 * [seq, stream (0 stdout, 1 stderr), ts, text, position key, position n]. A segment is removed once every
 * entry in it is acknowledged.
 *
 * Bound: SpoolSet keeps all sources within maxBytes. Over it, the oldest segment (of any source) is dropped,
 * its unacknowledged entries counted in `dropped` (shown in the service status): loss is visible, never silent.
 * The master's store takes the next batch after the gap.
 *
 * Invariants: seqs of a source are contiguous from 1 in the order entries were read; a source's position is
 * the position after its last seq (resuming the container's log there reads exactly what follows it).
 *
 * Access: the entries are the containers' output as read, not yet masked (the master masks secrets before it
 * stores them), so the spool is readable by the agent's user only, like Docker's own json log files: the spool
 * directory and each source directory 0700 (also when the directory existed before), files 0600.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import type { JoinedEntry } from './multiline';
import type { LogPosition } from './position';

export interface SourceMeta {
  /** '<environment>/<container id>'. */
  source: string;
  containerId: string;
  app: string;
  environment: string;
  instance: string;
}

export interface SpoolRecord {
  seq: number;
  stream: 'stdout' | 'stderr';
  ts: number;
  text: string;
}

interface SourceState extends SourceMeta {
  acked: number;
  lastSeq: number;
  pos?: LogPosition;
  dropped: number;
  /** Container gone: the source is removed once everything is acknowledged. */
  finished?: boolean;
}

interface Segment {
  first: number;
  last: number;
  file: string;
  bytes: number;
  /** Order of creation across all sources (oldest is dropped first). */
  order: number;
  /** Parsed records, while cached. */
  records?: SpoolRecord[];
}

let segmentOrder = 0;

/** Spool files: the agent's user only (umask can only take bits away). */
const FILE_MODE = 0o600;

/**
 * Creates `dir` and makes it 0700, also when it existed (an older agent's spool, or a configured dir). Missing
 * parents get the default mode: a parent may also hold the agent's work dir, which build users must traverse.
 */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
}

export class SourceSpool {
  readonly segments: Segment[] = [];
  private fd: number | undefined;
  /** The one non-tail segment whose records are cached (the one being sent). */
  private cached: Segment | undefined;
  /** Set when the master refused this source's entries (why); they stay spooled. */
  refused: string | undefined;

  private constructor(
    readonly dir: string,
    private state: SourceState,
    private readonly segmentBytes: number,
  ) {}

  static create(dir: string, meta: SourceMeta, segmentBytes: number): SourceSpool {
    privateDir(dir);
    const s = new SourceSpool(dir, { ...meta, acked: 0, lastSeq: 0, dropped: 0 }, segmentBytes);
    s.saveState();
    return s;
  }

  /** Opens a source written before (agent restart); a torn last line (killed mid-write) is cut off. */
  static open(dir: string, segmentBytes: number): SourceSpool {
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SourceState;
    const s = new SourceSpool(dir, state, segmentBytes);
    const files = readdirSync(dir)
      .filter((f) => /^\d+\.seg$/.test(f))
      .map((f) => ({ f, first: Number(f.slice(0, -4)), mtime: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => a.first - b.first);
    let tailPos: LogPosition | undefined;
    for (const [i, x] of files.entries()) {
      const file = join(dir, x.f);
      const seg: Segment = { first: x.first, last: x.first - 1, file, bytes: statSync(file).size, order: 0 };
      if (i === files.length - 1) {
        const recs = s.load(seg, true);
        seg.last = recs.length ? recs[recs.length - 1].seq : x.first - 1;
        tailPos = (recs as unknown as { _pos?: LogPosition })._pos;
      } else seg.last = files[i + 1].first - 1;
      if (seg.last >= seg.first) s.segments.push(seg);
      else rmSync(file, { force: true });
    }
    // Entries spooled after the last state save: the spool's last line is the truth.
    const tail = s.segments[s.segments.length - 1];
    if (tail && tail.last > state.lastSeq) {
      state.lastSeq = tail.last;
      state.pos = tailPos ?? state.pos;
    }
    // Oldest first across sources, as they were written (mtime), for the bound.
    for (const seg of s.segments) seg.order = statSync(seg.file).mtimeMs;
    return s;
  }

  get meta(): SourceMeta {
    const { source, containerId, app, environment, instance } = this.state;
    return { source, containerId, app, environment, instance };
  }
  get acked(): number {
    return this.state.acked;
  }
  get lastSeq(): number {
    return this.state.lastSeq;
  }
  get position(): LogPosition | undefined {
    return this.state.pos;
  }
  get dropped(): number {
    return this.state.dropped;
  }
  get finished(): boolean {
    return !!this.state.finished;
  }
  /** Entries not acknowledged yet (dropped ones excluded). */
  get pending(): number {
    return this.segments.reduce((n, s) => n + Math.max(0, s.last - Math.max(s.first, this.state.acked + 1) + 1), 0);
  }
  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  /** Appends entries with the next seqs; the source's position becomes the last entry's. */
  append(entries: JoinedEntry[]): void {
    if (!entries.length) return;
    let cur = this.segments[this.segments.length - 1];
    if (!cur || this.fd === undefined || cur.bytes >= this.segmentBytes) cur = this.roll();
    const lines: string[] = [];
    for (const e of entries) {
      const seq = ++this.state.lastSeq;
      lines.push(JSON.stringify([seq, e.stream === 'stderr' ? 1 : 0, e.ts, e.text, e.pos.key, e.pos.n]));
      cur.records?.push({ seq, stream: e.stream, ts: e.ts, text: e.text });
      this.state.pos = e.pos;
    }
    const buf = Buffer.from(lines.join('\n') + '\n');
    writeSync(this.fd!, buf);
    cur.bytes += buf.length;
    cur.last = this.state.lastSeq;
  }

  /** Up to maxEntries / about maxChars of text of entries with seq >= from, in seq order (after a gap if dropped). */
  read(from: number, maxEntries: number, maxChars: number): SpoolRecord[] {
    const out: SpoolRecord[] = [];
    let chars = 0;
    for (const seg of this.segments) {
      if (seg.last < from) continue;
      let recs = seg.records;
      if (!recs) {
        if (this.cached && this.cached !== this.tail) this.cached.records = undefined;
        recs = seg.records = this.load(seg, false);
        this.cached = seg;
      }
      for (let i = Math.max(0, from - seg.first); i < recs.length; i++) {
        const r = recs[i];
        if (out.length && (out.length >= maxEntries || chars + r.text.length > maxChars)) return out;
        out.push(r);
        chars += r.text.length + 64;
      }
    }
    return out;
  }

  /** The master stored everything up to `through`: forget whole segments at or below it. */
  ack(through: number): void {
    if (through <= this.state.acked) return;
    this.state.acked = Math.min(through, this.state.lastSeq);
    while (this.segments.length && this.segments[0].last <= this.state.acked) this.dropSegment(this.segments[0]);
    this.saveState();
  }

  /**
   * The oldest segment that may be dropped: none holding an entry at or below `keepThrough` (sent and maybe
   * stored by now: dropping it could count a stored entry as lost, or lose an unstored one uncounted).
   */
  private get tail(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  private droppable(keepThrough: number): Segment | undefined {
    return this.segments.find((seg) => seg.first > keepThrough);
  }

  /** Creation order of the segment dropOldest(keepThrough) would drop (Infinity: none). */
  oldestOrder(keepThrough = 0): number {
    return this.droppable(keepThrough)?.order ?? Infinity;
  }

  /** Drops that segment; returns how many entries (never sent) went with it, counted in `dropped`. */
  dropOldest(keepThrough = 0): number {
    const seg = this.droppable(keepThrough);
    if (!seg) return 0;
    const lost = Math.max(0, seg.last - Math.max(seg.first, this.state.acked + 1) + 1);
    this.state.dropped += lost;
    this.dropSegment(seg);
    this.saveState();
    return lost;
  }

  finish(): void {
    this.state.finished = true;
    this.saveState();
  }

  saveState(): void {
    const tmp = join(this.dir, 'state.json.tmp');
    writeFileSync(tmp, JSON.stringify(this.state), { mode: FILE_MODE });
    renameSync(tmp, join(this.dir, 'state.json'));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.saveState();
  }

  /** Removes the source from disk (its container is gone and everything was acknowledged). */
  remove(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private roll(): Segment {
    if (this.fd !== undefined) closeSync(this.fd);
    const prev = this.tail;
    if (prev && prev !== this.cached) prev.records = undefined;
    const first = this.state.lastSeq + 1;
    const file = join(this.dir, `${String(first).padStart(12, '0')}.seg`);
    this.fd = openSync(file, 'a', FILE_MODE);
    const seg: Segment = { first, last: first - 1, file, bytes: 0, order: Date.now() + segmentOrder++ / 1e6, records: [] };
    this.segments.push(seg);
    return seg;
  }

  private dropSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    if (i === this.segments.length - 1 && this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.segments.splice(i, 1);
    if (this.cached === seg) this.cached = undefined;
    rmSync(seg.file, { force: true });
  }

  /** Parses a segment; `repair` cuts a torn last line. The last record's position is kept on the array. */
  private load(seg: Segment, repair: boolean): SpoolRecord[] {
    const text = readFileSync(seg.file, 'utf8');
    const out: SpoolRecord[] = [];
    let pos: LogPosition | undefined;
    let start = 0;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const a = JSON.parse(text.slice(start, nl)) as [number, number, number, string, string, number];
      out.push({ seq: a[0], stream: a[1] ? 'stderr' : 'stdout', ts: a[2], text: a[3] });
      pos = { key: a[4], n: a[5] };
      start = nl + 1;
    }
    if (repair && start < text.length) {
      const good = Buffer.byteLength(text.slice(0, start));
      const fd = openSync(seg.file, 'r+');
      ftruncateSync(fd, good);
      closeSync(fd);
      seg.bytes = good;
    }
    (out as unknown as { _pos?: LogPosition })._pos = pos;
    return out;
  }
}

/** All sources of one agent's container-logs service, kept together within maxBytes. */
export class SpoolSet {
  readonly sources = new Map<string, SourceSpool>();
  /** Entries dropped over the bound since the service started (each source keeps its own total too). */
  droppedNow = 0;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
  ) {
    privateDir(dir);
    for (const d of readdirSync(dir)) {
      const p = join(dir, d);
      try {
        const s = SourceSpool.open(p, segmentBytes);
        this.sources.set(s.meta.source, s);
      } catch {
        // A source directory without a readable state (killed while creating it) holds nothing acknowledged-worthy.
        rmSync(p, { recursive: true, force: true });
      }
    }
  }

  get(source: string): SourceSpool | undefined {
    return this.sources.get(source);
  }

  create(meta: SourceMeta): SourceSpool {
    const s = SourceSpool.create(join(this.dir, meta.source.replace(/[^A-Za-z0-9._-]/g, '_')), meta, this.segmentBytes);
    this.sources.set(meta.source, s);
    return s;
  }

  remove(source: string): void {
    this.sources.get(source)?.remove();
    this.sources.delete(source);
  }

  get bytes(): number {
    let n = 0;
    for (const s of this.sources.values()) n += s.bytes;
    return n;
  }

  get dropped(): number {
    let n = 0;
    for (const s of this.sources.values()) n += s.dropped;
    return n;
  }

  /**
   * Drops oldest segments until the spool fits its bound again, never one holding entries at or below
   * `sentThrough(source)` (in flight to the master); with only those left it stays over the bound until acks come.
   */
  enforceBound(sentThrough: (source: string) => number = () => 0): void {
    let total = this.bytes;
    while (total > this.maxBytes) {
      let oldest: SourceSpool | undefined;
      let oldestOrder = Infinity;
      for (const s of this.sources.values()) {
        const o = s.oldestOrder(sentThrough(s.meta.source));
        if (o < oldestOrder) [oldest, oldestOrder] = [s, o];
      }
      if (!oldest) return;
      const before = oldest.bytes;
      this.droppedNow += oldest.dropOldest(sentThrough(oldest.meta.source));
      total -= before - oldest.bytes;
    }
  }

  close(): void {
    for (const s of this.sources.values()) s.close();
  }
}
