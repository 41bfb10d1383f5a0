/**
 * SARIF findings (table findings, one row per result of a parsed SARIF report; reports.ts owns the report
 * rows and calls insert() inside its own transaction). "New" is decided once, when a report is stored, against
 * a baseline kept with the report: the latest earlier *successful* build of the same job and branch that has
 * a parsed SARIF report. A finding is new when the baseline has no finding with its fingerprint; without a
 * baseline every finding is new. Successful, not merely previous: otherwise re-running a build that a gate
 * failed (or pushing any other commit) would turn its new findings into old ones and pass the gate.
 * All SQL on findings lives here.
 */
import type { FindingInfo, FindingsPage, FindingsSummary, Severity, SeverityCounts } from '../../shared/api';
import type { Finding } from '../reports/types';
import type { Db } from './db';

/** Findings listed in an upload's summary (the step log). */
const TOP_LISTED = 10;
const SEVERITIES: Severity[] = ['high', 'medium', 'low'];
const zero = (): SeverityCounts => ({ high: 0, medium: 0, low: 0 });

export interface FindingsStore {
  /** Must run inside the caller's transaction: stores `findings` of report `reportId`, returns their summary. */
  insert(reportId: number, buildId: number, findings: Finding[]): FindingsSummary & { count: number; newCount: number };
  /** Findings of a build with totals, high first. */
  page(buildId: number, opts?: { severity?: Severity; onlyNew?: boolean; limit?: number }): FindingsPage;
}

export function createFindingsStore(db: Db): FindingsStore {
  // Builds of one job and branch are indexed (builds_job_branch); `IS` matches builds without a branch too.
  const baselineOf = db.prepare<[number], { id: number }>(
    `SELECT p.id FROM builds b JOIN builds p ON p.job_id = b.job_id AND p.branch IS b.branch AND p.id < b.id AND p.status = 'success'
      WHERE b.id = ? AND EXISTS (SELECT 1 FROM reports r WHERE r.build_id = p.id AND r.format = 'sarif' AND r.status = 'parsed')
      ORDER BY p.id DESC LIMIT 1`,
  );
  const setBaseline = db.prepare('UPDATE reports SET baseline_build_id = ? WHERE id = ?');
  // The baseline of the build's latest SARIF report (one per build in practice; several reports of a build share it).
  const storedBaseline = db.prepare<[number], { baseline: number | null }>(
    "SELECT baseline_build_id AS baseline FROM reports WHERE build_id = ? AND format = 'sarif' AND status = 'parsed' ORDER BY id DESC LIMIT 1",
  );
  const fingerprintsOf = db.prepare<[number], string>(
    'SELECT DISTINCT f.fingerprint FROM findings f JOIN reports r ON r.id = f.report_id WHERE r.build_id = ?',
  );
  const insertOne = db.prepare(
    'INSERT INTO findings (report_id, tool, rule_id, level, severity, message, file, line, fingerprint, is_new) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const rows = db.prepare<[number, string | null, string | null, number, number]>(
    `SELECT f.report_id AS reportId, r.stage_run_id AS stageRunId, r.step_index AS stepIndex, f.tool, f.rule_id AS ruleId, f.level,
            f.severity, f.message, f.file, f.line, f.fingerprint, f.is_new AS isNew
       FROM findings f JOIN reports r ON r.id = f.report_id
      WHERE r.build_id = ? AND (? IS NULL OR f.severity = ?) AND (? = 0 OR f.is_new = 1)
      ORDER BY CASE f.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, f.file, f.line, f.id LIMIT ?`,
  );
  const counts = db.prepare<[number], { severity: Severity; total: number; fresh: number }>(
    `SELECT f.severity, COUNT(*) AS total, SUM(f.is_new) AS fresh FROM findings f JOIN reports r ON r.id = f.report_id
      WHERE r.build_id = ? GROUP BY f.severity`,
  );
  return {
    insert(reportId, buildId, findings) {
      const prev = baselineOf.get(buildId)?.id ?? null;
      setBaseline.run(prev, reportId);
      const known = new Set(prev === null ? [] : fingerprintsOf.pluck().all(prev));
      const total = zero();
      const fresh = zero();
      const top: FindingsSummary['top'] = [];
      for (const f of findings) {
        const isNew = !known.has(f.fingerprint);
        insertOne.run(reportId, f.tool, f.ruleId, f.level, f.severity, f.message, f.file, f.line, f.fingerprint, isNew ? 1 : 0);
        total[f.severity]++;
        if (isNew) fresh[f.severity]++;
      }
      // Worst first for the step log: high before medium before low, new before old.
      for (const sev of SEVERITIES) {
        for (const f of findings) {
          if (top.length >= TOP_LISTED) break;
          if (f.severity === sev) top.push({ ruleId: f.ruleId, severity: f.severity, message: f.message.slice(0, 300), file: f.file, line: f.line, isNew: !known.has(f.fingerprint) });
        }
      }
      const newCount = fresh.high + fresh.medium + fresh.low;
      return { total, new: fresh, previousBuildId: prev, top, count: findings.length, newCount };
    },
    page(buildId, opts = {}) {
      const total = zero();
      const fresh = zero();
      for (const c of counts.all(buildId)) {
        total[c.severity] = c.total;
        fresh[c.severity] = c.fresh ?? 0;
      }
      const list = rows.all(buildId, opts.severity ?? null, opts.severity ?? null, opts.onlyNew ? 1 : 0, opts.limit ?? 1000) as (Omit<FindingInfo, 'isNew'> & { isNew: number })[];
      return {
        buildId,
        previousBuildId: storedBaseline.get(buildId)?.baseline ?? null,
        total,
        new: fresh,
        findings: list.map((f) => ({ ...f, isNew: f.isNew === 1 })),
      };
    },
  };
}
