/**
 * Test results over time, read from the stored JUnit results (reports, test_results; written by reports.ts):
 * a job's trend, and per build the tests newly failing versus the previous build of the branch, the fixed
 * ones, the flaky ones (passed in one and failed in another build of the same job and commit) and the
 * slowest. A test is identified by suite, class name and name. All SQL of these reads lives here.
 */
import type { TestRef, TestReport, TestTrendPoint } from '../../shared/api';
import type { Db } from './db';

export interface TestHistoryStore {
  report(buildId: number, opts?: { slowest?: number; listed?: number }): TestReport;
  trend(jobId: number, limit: number): TestTrendPoint[];
}

interface Row {
  buildId: number;
  suite: string;
  classname: string | null;
  name: string;
  status: TestRef['status'];
  durationMs: number | null;
  message: string | null;
}

const keyOf = (r: { suite: string; classname: string | null; name: string }) => `${r.suite}\0${r.classname ?? ''}\0${r.name}`;
const failing = (s: string) => s === 'failed' || s === 'error';
const ref = (r: Row): TestRef => ({ suite: r.suite, classname: r.classname, name: r.name, status: r.status, durationMs: r.durationMs, message: r.message });

export function createTestHistoryStore(db: Db): TestHistoryStore {
  const previousBuild = db.prepare<[number], { id: number }>(
    `SELECT p.id FROM builds b JOIN builds p ON p.job_id = b.job_id AND p.branch IS b.branch AND p.id < b.id
      WHERE b.id = ? AND EXISTS (SELECT 1 FROM reports r WHERE r.build_id = p.id AND r.format = 'junit' AND r.status = 'parsed')
      ORDER BY p.id DESC LIMIT 1`,
  );
  const sameCommit = db.prepare<[number], { id: number }>(
    `SELECT o.id FROM builds b JOIN builds o ON o.job_id = b.job_id AND o.commit_sha = b.commit_sha AND o.id <> b.id WHERE b.id = ?`,
  );
  const resultsOf = db.prepare<[number], Row>(
    `SELECT r.build_id AS buildId, t.suite, t.classname, t.name, t.status, t.duration_ms AS durationMs, t.message
       FROM test_results t JOIN reports r ON r.id = t.report_id WHERE r.build_id = ? AND r.format = 'junit'`,
  );
  const trend = db.prepare<[number, number], TestTrendPoint>(
    `SELECT b.id AS buildId, b.number, b.branch, b.status, b.created_at AS createdAt, SUM(r.tests) AS tests, SUM(r.failures) AS failures,
            SUM(r.errors) AS errors, SUM(r.skipped) AS skipped, SUM(r.duration_ms) AS durationMs
       FROM builds b JOIN reports r ON r.build_id = b.id AND r.format = 'junit' AND r.status = 'parsed'
      WHERE b.job_id = ? GROUP BY b.id ORDER BY b.id DESC LIMIT ?`,
  );

  return {
    report(buildId, opts = {}) {
      const listed = opts.listed ?? 200;
      const rows = resultsOf.all(buildId);
      const prevId = previousBuild.get(buildId)?.id ?? null;
      const before = new Map((prevId === null ? [] : resultsOf.all(prevId)).map((r) => [keyOf(r), r]));
      const totals = { tests: rows.length, passed: 0, failed: 0, errors: 0, skipped: 0, durationMs: 0 };
      const newlyFailing: TestReport['newlyFailing'] = [];
      const fixed: TestRef[] = [];
      for (const r of rows) {
        totals[r.status === 'error' ? 'errors' : r.status]++;
        totals.durationMs += r.durationMs ?? 0;
        if (prevId === null) continue;
        const b = before.get(keyOf(r));
        if (failing(r.status) && (!b || !failing(b.status)) && newlyFailing.length < listed) newlyFailing.push({ ...ref(r), before: b ? (b.status === 'skipped' ? 'skipped' : 'passed') : 'absent' });
        if (r.status === 'passed' && b && failing(b.status) && fixed.length < listed) fixed.push(ref(r));
      }
      // Flaky: across this build and the other builds of the same commit, a test both passed and failed.
      const outcomes = new Map<string, { row: Row; passedIn: Set<number>; failedIn: Set<number> }>();
      const others = sameCommit.all(buildId).map((b) => b.id);
      if (others.length) {
        for (const r of [...rows, ...others.flatMap((id) => resultsOf.all(id))]) {
          if (r.status === 'skipped') continue;
          const k = keyOf(r);
          const o = outcomes.get(k) ?? { row: r, passedIn: new Set<number>(), failedIn: new Set<number>() };
          (failing(r.status) ? o.failedIn : o.passedIn).add(r.buildId);
          if (r.buildId === buildId) o.row = r;
          outcomes.set(k, o);
        }
      }
      const flaky = [...outcomes.values()]
        .filter((o) => o.passedIn.size && o.failedIn.size && (o.passedIn.has(buildId) || o.failedIn.has(buildId)))
        .slice(0, listed)
        .map((o) => ({ ...ref(o.row), passedIn: [...o.passedIn].sort((a, b) => a - b), failedIn: [...o.failedIn].sort((a, b) => a - b) }));
      const slowest = rows
        .filter((r) => r.durationMs !== null)
        .sort((a, b) => b.durationMs! - a.durationMs!)
        .slice(0, opts.slowest ?? 10)
        .map(ref);
      return { buildId, previousBuildId: prevId, totals, newlyFailing, fixed, flaky, slowest };
    },
    trend: (jobId, limit) => trend.all(jobId, limit),
  };
}
