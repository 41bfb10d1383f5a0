/**
 * Quality gates: limits on a SARIF report's findings, per severity and for those new since the baseline (the
 * last successful build of the branch, master/store/findings.ts; "no new high" is `newHigh: 0`). The agent checks a report's gate against the counts the
 * master answered the upload with and fails the step naming every limit exceeded (agent/step-run.ts).
 */
import { z } from 'zod';
import type { FindingsSummary } from '../api';

const limit = z.number().int().min(0);

export const qualityGateSchema = z.strictObject({
  /** Most findings of each severity (high: SARIF level error, medium: warning, low: note). */
  high: limit.optional(),
  medium: limit.optional(),
  low: limit.optional(),
  /** Most findings of each severity that the baseline build did not have. */
  newHigh: limit.optional(),
  newMedium: limit.optional(),
  newLow: limit.optional(),
});
export type QualityGate = z.output<typeof qualityGateSchema>;

/** Every limit of `gate` the findings exceed, as lines for the step log (empty: the gate passes). */
export function gateProblems(gate: QualityGate, s: Pick<FindingsSummary, 'total' | 'new'>): string[] {
  const out: string[] = [];
  for (const sev of ['high', 'medium', 'low'] as const) {
    const max = gate[sev];
    if (max !== undefined && s.total[sev] > max) out.push(`${s.total[sev]} ${sev} findings (at most ${max})`);
    const key = `new${sev[0].toUpperCase()}${sev.slice(1)}` as 'newHigh' | 'newMedium' | 'newLow';
    const maxNew = gate[key];
    if (maxNew !== undefined && s.new[sev] > maxNew) out.push(`${s.new[sev]} new ${sev} findings (at most ${maxNew})`);
  }
  return out;
}
