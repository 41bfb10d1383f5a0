/**
 * Keeps multi-line entries (stack traces) together: a line that the rule calls a continuation is added to the
 * entry before it, if that entry is of the same stream and stays within maxLines and maxChars; anything else
 * starts a new entry. An entry is emitted when the next entry starts, when no line came for flushMs, or on
 * flush(). Lines longer than maxChars are cut into several entries (nothing is lost).
 *
 * Rule: with `start` set, every line that does not match it continues the entry; otherwise a line matching
 * `continuation` does (default: indented lines and Java's "Caused by:" / "... N more").
 */
import type { LogPosition } from './position';

export interface MultilineRule {
  continuation: RegExp;
  start?: RegExp;
  maxLines: number;
  maxChars: number;
  flushMs: number;
}

export const DEFAULT_CONTINUATION = String.raw`^\s|^Caused by: |^\.\.\. \d+ more`;

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** ms since epoch (Docker's time of the line). */
  ts: number;
  text: string;
  /** Where the container's log stands after this line. */
  pos: LogPosition;
}

export interface JoinedEntry {
  stream: 'stdout' | 'stderr';
  /** Time of the entry's first line. */
  ts: number;
  text: string;
  /** Position after the entry's last line: resuming there reads what follows the entry. */
  pos: LogPosition;
}

interface Pending extends JoinedEntry {
  lines: number;
  lastAt: number;
}

export class MultilineJoiner {
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rule: MultilineRule,
    private readonly emit: (e: JoinedEntry) => void,
  ) {}

  /** Whether a line is waiting for possible continuation lines. */
  get holding(): boolean {
    return this.pending !== undefined;
  }

  push(line: LogLine): void {
    const p = this.pending;
    if (p && p.stream === line.stream && this.continues(line.text) && p.lines < this.rule.maxLines && p.text.length + 1 + line.text.length <= this.rule.maxChars) {
      p.text += '\n' + line.text;
      p.lines++;
      p.pos = line.pos;
      p.lastAt = Date.now();
      return;
    }
    if (p) this.emitPending();
    let text = line.text;
    // A line longer than an entry may be: whole entries of maxChars first, the rest may gather continuations.
    while (text.length > this.rule.maxChars) {
      this.emit({ stream: line.stream, ts: line.ts, text: text.slice(0, this.rule.maxChars), pos: line.pos });
      text = text.slice(this.rule.maxChars);
    }
    this.pending = { stream: line.stream, ts: line.ts, text, pos: line.pos, lines: 1, lastAt: Date.now() };
    this.timer ??= setTimeout(() => this.tick(), this.rule.flushMs);
  }

  /** Emits the entry being gathered now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending) this.emitPending();
  }

  private continues(text: string): boolean {
    return this.rule.start ? !this.rule.start.test(text) : this.rule.continuation.test(text);
  }

  private tick(): void {
    this.timer = undefined;
    const p = this.pending;
    if (!p) return;
    const idle = Date.now() - p.lastAt;
    if (idle >= this.rule.flushMs) this.emitPending();
    else this.timer = setTimeout(() => this.tick(), this.rule.flushMs - idle);
  }

  private emitPending(): void {
    const p = this.pending!;
    this.pending = undefined;
    this.emit({ stream: p.stream, ts: p.ts, text: p.text, pos: p.pos });
  }
}
