/**
 * How the CLI talks to people and scripts: aligned tables, `--json` output, one-line errors.
 * Errors never print a stack trace: a SlipwayError prints its message (a ValidationError one issue per
 * line); anything else prints its message only.
 */
import { InvalidArgumentError } from 'commander';
import { SlipwayError, ValidationError, formatIssue } from '../../shared/errors';

/** commander argument parser for a non-negative integer option. */
export function parseIntOption(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag} must be a non-negative integer, got '${value}'`);
    return Number(value);
  };
}

/** Prints rows as a table with a header line; columns are padded to their widest cell. */
export function printTable(headers: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(headers)}\n`);
  for (const r of cells) process.stdout.write(`${line(r)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** "2026-11-26 14:03:12" in local time, or '-'. */
export function formatTime(ms: number | null | undefined): string {
  if (!ms) return '-';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "1.2s", "3m04s", or '-' when either end is missing. */
export function formatDuration(from: number | null | undefined, to: number | null | undefined): string {
  if (!from || !to) return '-';
  const ms = to - from;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The text printed for a failed command: one line, or one line per validation issue. */
export function errorText(err: unknown): string {
  if (err instanceof ValidationError) return err.issues.map(formatIssue).join('\n');
  if (err instanceof SlipwayError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * What happens when the reader of our stdout or stderr has gone (`slipway builds J | head -1`): a command
 * whose output nobody reads any more has nothing left to do, so it exits with its exit code so far, quietly
 * (no EPIPE stack trace). Long-running commands (master, agent) keep running and drop their console output:
 * serve.ts calls keepRunningWhenOutputCloses().
 */
let onOutputClosed: () => void = () => process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);

export function keepRunningWhenOutputCloses(): void {
  onOutputClosed = () => undefined;
}

/** Installs the EPIPE handling on stdout and stderr; other stream errors still fail the command. */
export function guardOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') onOutputClosed();
      else if (stream === process.stdout) fail(err);
      else process.exit(1);
    });
  }
}

/** A value for a one-line display: long ones cut to `max` characters, with their size in bytes. */
export function shortValue(value: string, max = 100): string {
  return value.length <= max ? value : `${value.slice(0, max)}... (${Buffer.byteLength(value)} bytes)`;
}

export function fail(err: unknown): never {
  process.stderr.write(`error: ${errorText(err).split('\n').join('\nerror: ')}\n`);
  process.exit(1);
}
