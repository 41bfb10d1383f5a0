/**
 * Runs the fault matrix (cases.ts) for a profile, `concurrency` cases at once, and summarises it: the table
 * printed by `npm run faults` and the short form in `npm test`, and the figures bench-results.json keeps.
 */
import { casesFor, type FaultCase, type Profile } from './cases';
import { runCase, type FaultResult } from './run-case';

export async function runMatrix(p: Profile, cases: FaultCase[] = casesFor(p), onResult?: (r: FaultResult) => void): Promise<FaultResult[]> {
  const results: FaultResult[] = new Array(cases.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      results[i] = await runCase(p, cases[i]);
      onResult?.(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(p.concurrency, cases.length) }, lane));
  return results;
}

/** The fault_* figures of bench-results.json. */
export function figures(results: FaultResult[]): Record<string, number> {
  return {
    fault_cases: results.length,
    fault_cases_passed: results.filter((r) => r.passed).length,
    fault_lines_lost: results.reduce((n, r) => n + r.linesLost, 0),
    fault_lines_duplicated: results.reduce((n, r) => n + r.linesDuplicated, 0),
    fault_builds_stuck: results.reduce((n, r) => n + r.stuck, 0),
  };
}

/** One line per case: final state, attempts, lines lost / duplicated / cut, time to final state. */
export function table(results: FaultResult[]): string {
  const head = ['case', 'result', 'final (expected)', 'attempts', 'lost', 'dup', 'cut', 'stuck', 'time to final'];
  const rows = results.map((r) => [
    r.case,
    r.passed ? 'PASS' : 'FAIL',
    `${r.finalState} (${r.expectedState})`,
    String(r.attempts),
    String(r.linesLost),
    String(r.linesDuplicated),
    String(r.linesCut),
    String(r.stuck),
    `${(r.timeToFinalMs / 1000).toFixed(1)} s`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((v, i) => v.padEnd(w[i])).join('  ');
  const out = [fmt(head), ...rows.map(fmt)];
  for (const r of results) if (!r.passed) out.push(`  ${r.case}: ${r.problems.join('; ')}`);
  return out.join('\n');
}
