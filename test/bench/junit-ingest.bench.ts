/**
 * junit_ingest_tests_per_s: the master's report ingestion (reports/ingest.ts) of a 50,000-test JUnit file, as
 * after an upload: the file read from disk and parsed by fast-xml-parser (well-formedness check included) on
 * the parser worker thread, the results handed back to the main thread and
 * every case stored in the real SQLite store (WAL, migrations applied) in one transaction. 50 suites of 1,000
 * cases shaped like real runners' output (classname, time, about 1% failures with a message and a stack).
 * Median of ROUNDS rounds, each into a fresh report row, after one untimed warm-up parse. Also reported:
 * junit_parse_ms, the parser alone (the rest of junit_ingest_ms is reading the file and storing). Target:
 * junit_ingest_tests_per_s >= 50,000.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReportIngest } from '../../master/engine/reports/ingest';
import { parseJunit } from '../../master/reports/junit';
import { openDb } from '../../master/store/db';
import { createReportsStore } from '../../master/store/reports';
import { reportBench } from '../helpers/bench';

const SUITES = 50;
const PER_SUITE = 1000;
const ROUNDS = Number(process.env.JUNIT_BENCH_ROUNDS ?? 5);

const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function junitXml(): string {
  const parts = ['<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="bench">\n'];
  for (let s = 0; s < SUITES; s++) {
    parts.push(`  <testsuite name="suite ${s}" tests="${PER_SUITE}" time="1.234">\n`);
    for (let i = 0; i < PER_SUITE; i++) {
      const attrs = `classname="app.module${s}.Spec${i % 20}" name="case ${i} does what it should &amp; more" time="0.00${i % 9}${i % 7}"`;
      if (i % 97 === 0) {
        parts.push(
          `    <testcase ${attrs}>\n      <failure message="expected 3 to equal 4" type="AssertionError">AssertionError: expected 3 to equal 4\n    at Context.&lt;anonymous&gt; (test/module${s}.spec.js:${i}:11)\n    at process.processImmediate (node:internal/timers:478:21)</failure>\n    </testcase>\n`,
        );
      } else parts.push(`    <testcase ${attrs}/>\n`);
    }
    parts.push('  </testsuite>\n');
  }
  parts.push('</testsuites>\n');
  return parts.join('');
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-junit-bench-'));
try {
  const db = openDb(join(dir, 'data'));
  const now = Date.now();
  db.prepare("INSERT INTO teams (name, created_at) VALUES ('t', ?)").run(now);
  db.prepare("INSERT INTO jobs (name, team_id, yaml, source, created_at, updated_at) VALUES ('j', 1, '', 'api', ?, ?)").run(now, now);
  db.prepare("INSERT INTO builds (job_id, number, status, yaml, created_at) VALUES (1, 1, 'running', '', ?)").run(now);
  db.prepare("INSERT INTO stage_runs (build_id, stage_index, name, environment, status) VALUES (1, 0, 's', 'ci', 'running')").run();
  const ingest = createReportIngest(createReportsStore(db));
  const file = join(dir, 'junit.xml');
  writeFileSync(file, junitXml());
  const bytes = statSync(file).size;

  // The parser alone, for the split of the figure (parse vs store); not part of the headline number. One
  // untimed round first: a master parses reports all day, so both figures are of a warmed-up parser.
  const parseMs: number[] = [];
  const text = readFileSync(file, 'utf8');
  parseJunit(text);
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    parseJunit(text);
    parseMs.push(performance.now() - t0);
  }

  const runs: { ms: number; tests: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    const r = await ingest({ buildId: 1, stageRunId: 1, stepIndex: round, format: 'junit', path: 'reports/junit.xml', artifactId: null }, file);
    const ms = performance.now() - t0;
    if (r.status !== 'parsed' || r.tests !== SUITES * PER_SUITE) throw new Error(`ingest round ${round}: ${r.status} ${r.error ?? ''} (${r.tests} tests)`);
    runs.push({ ms, tests: r.tests });
  }
  const stored = db.prepare('SELECT COUNT(*) AS n FROM test_results').get() as { n: number };
  if (stored.n !== ROUNDS * SUITES * PER_SUITE) throw new Error(`stored ${stored.n} cases, expected ${ROUNDS * SUITES * PER_SUITE}`);
  db.close();
  const median = medianOf(runs.map((r) => r.ms));
  reportBench({
    junit_ingest_tests_per_s: Math.round((SUITES * PER_SUITE) / (median / 1000)),
    junit_ingest_ms: Math.round(median),
    junit_parse_ms: Math.round(medianOf(parseMs)),
    junit_ingest_tests: SUITES * PER_SUITE,
    junit_ingest_file_mb: Math.round((bytes / 1024 / 1024) * 10) / 10,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
