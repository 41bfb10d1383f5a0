/**
 * Where the agent is in a container's log. Docker stamps every log message with an RFC 3339 time in
 * nanoseconds and can resume a log stream at a time (`since`), not at a byte offset; two messages may carry
 * the same time. So a position is the time of the last message read plus how many messages with exactly that
 * time were read: resuming asks for `since` = that time and skips that many messages stamped with it.
 */

export interface LogPosition {
  /** Docker's time as a sortable key: 12 digits of seconds, '.', 9 digits of nanoseconds. */
  key: string;
  /** Messages stamped exactly `key` already read. */
  n: number;
}

export interface DockerStamp {
  key: string;
  ms: number;
}

const STAMP_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Parses Docker's timestamp ('2026-12-03T12:00:00.123456789Z'); undefined when it is not one. */
export function parseDockerStamp(s: string): DockerStamp | undefined {
  const m = STAMP_RE.exec(s);
  if (!m) return undefined;
  const ms0 = Date.parse(m[1] + m[3]);
  if (Number.isNaN(ms0)) return undefined;
  const sec = Math.floor(ms0 / 1000);
  const nanos = (m[2] ?? '').padEnd(9, '0');
  return { key: `${String(sec).padStart(12, '0')}.${nanos}`, ms: sec * 1000 + Math.floor(Number(nanos) / 1e6) };
}

/** The Engine API's `since` for a position: seconds with nanoseconds ('1764763200.123456789'). */
export function sinceParam(p: LogPosition | undefined): string | undefined {
  if (!p) return undefined;
  const [sec, nanos] = p.key.split('.');
  return `${Number(sec)}.${nanos}`;
}

/**
 * Decides, message by message in stream order, which messages of a resumed stream were read before: those
 * stamped before the position's time, and the first `n` stamped exactly with it. Tracks the position of the
 * last message let through.
 */
export class PositionTracker {
  private skipKey: string | undefined;
  private skipLeft: number;
  private lastKey: string | undefined;
  private countAtLast = 0;

  constructor(resumeFrom: LogPosition | undefined) {
    this.skipKey = resumeFrom?.key;
    this.skipLeft = resumeFrom?.n ?? 0;
    if (resumeFrom) {
      this.lastKey = resumeFrom.key;
      this.countAtLast = resumeFrom.n;
    }
  }

  /** True when the message stamped `key` is new; its position is then `current`. */
  admit(key: string): boolean {
    if (this.skipKey !== undefined) {
      if (key < this.skipKey) return false;
      if (key === this.skipKey && this.skipLeft > 0) {
        this.skipLeft--;
        return false;
      }
      this.skipKey = undefined;
    }
    if (key === this.lastKey) this.countAtLast++;
    else {
      this.lastKey = key;
      this.countAtLast = 1;
    }
    return true;
  }

  get current(): LogPosition | undefined {
    return this.lastKey === undefined ? undefined : { key: this.lastKey, n: this.countAtLast };
  }
}
