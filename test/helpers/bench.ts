/**
 * How a benchmark reports its figures to `npm run bench` (scripts/bench.sh): each `test/bench/*.bench.ts`
 * runs as its own process and calls reportBench once with flat numeric figures (e.g. dispatch_p50_ms).
 * bench.sh merges every file's figures into bench-results.json at the repository root.
 */
import { writeFileSync } from 'node:fs';

export type BenchFigures = Record<string, number | string | boolean>;

/**
 * Writes the figures to $BENCH_RESULTS_FILE (set by bench.sh) and prints them; run by hand, it only prints.
 * Throws when a figure is not a finite number (a NaN in bench-results.json would hide a broken benchmark).
 */
export function reportBench(figures: BenchFigures): void {
  for (const [k, v] of Object.entries(figures)) {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`benchmark figure ${k} is ${v}`);
  }
  const file = process.env.BENCH_RESULTS_FILE;
  if (file) writeFileSync(file, JSON.stringify(figures));
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k}: ${v}\n`);
}
