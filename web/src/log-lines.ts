/**
 * The lines of a build's log as the stream delivers them: chunks (any size, cut anywhere) are appended per
 * stage run in seq order, duplicates (a chunk seen again after a reconnect) are skipped, and a header line
 * marks where each stage run's output starts. Holds plain strings only; parsing colours happens when a line
 * is drawn (LogView draws the visible ones), so 200,000 lines cost little more than their text.
 */
import { stripAnsi } from './ansi';

export interface LogLine {
  text: string;
  /** A "stage x" header inserted by the UI, not output of the build. */
  header?: boolean;
}

export class LogLines {
  private readonly lines: LogLine[] = [];
  /** Text after the last newline of the current stage run: shown as the last line, completed by later chunks. */
  private partial: string | null = null;
  private currentRun: number | null = null;
  private readonly seen = new Map<number, number>();
  /** Bumped on every change, so views know when to redraw. */
  version = 0;

  get count(): number {
    return this.lines.length + (this.partial !== null ? 1 : 0);
  }

  line(i: number): LogLine {
    return i < this.lines.length ? this.lines[i] : { text: this.partial ?? '' };
  }

  /** Appends a chunk unless a chunk with this seq or a later one of the same stage run was appended. */
  append(stageRunId: number, stage: string, seq: number, data: string): boolean {
    if ((this.seen.get(stageRunId) ?? 0) >= seq) return false;
    this.seen.set(stageRunId, seq);
    if (this.currentRun !== stageRunId) {
      this.endPartial();
      this.lines.push({ text: `stage ${stage}`, header: true });
      this.currentRun = stageRunId;
    }
    const parts = data.split('\n');
    parts[0] = (this.partial ?? '') + parts[0];
    this.partial = null;
    const tail = parts.pop() as string;
    for (const p of parts) this.lines.push({ text: p });
    if (tail !== '') this.partial = tail;
    this.version++;
    return true;
  }

  private endPartial(): void {
    if (this.partial !== null) this.lines.push({ text: this.partial });
    this.partial = null;
  }

  /** Indexes of the output lines (not stage headers) whose text without escapes contains `query`, case-insensitive. */
  search(query: string): number[] {
    const q = query.toLowerCase();
    if (!q) return [];
    const hits: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const { text: t, header } = this.line(i);
      if (header) continue;
      // Most lines hold no escape or carriage return: skip stripping those.
      const plain = t.includes('\x1b') || t.includes('\r') ? stripAnsi(t) : t;
      if (plain.toLowerCase().includes(q)) hits.push(i);
    }
    return hits;
  }
}
