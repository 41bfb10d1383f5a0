/**
 * sarif_ingest_findings_per_s: the master's report ingestion (reports/ingest.ts) of a 100,000-finding SARIF
 * 2.1.0 file, as after an upload: read from disk and parsed (JSON, every result to a finding with its
 * fingerprint) on the parser worker thread, handed back, and every finding stored in the real SQLite store
 * with its "new since the previous build of the branch" mark, in one transaction. 5 runs of 20,000 results
 * (50 rules, 2,000 files, mixed levels), shaped like a linter's output. Median of ROUNDS rounds, each into a
 * fresh build of the same branch (so from the second on every finding is compared with the baseline build's).
 * Also: secret_scan_mb_per_s, the scan step's secrets scanner over a generated checkout (SCAN_MB, default
 * 200 MB of source-like text with a planted token per file), files read as the agent reads them.
 * Targets: sarif_ingest_findings_per_s >= 50,000; secret_scan_mb_per_s >= 100.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretsScanner } from '../../agent/scanners/secrets';
import { createReportIngest } from '../../master/engine/reports/ingest';
import { openDb } from '../../master/store/db';
import { createReportsStore } from '../../master/store/reports';
import { reportBench } from '../helpers/bench';

const RUNS = 5;
const PER_RUN = 20_000;
const ROUNDS = Number(process.env.SARIF_BENCH_ROUNDS ?? 3);
const SCAN_MB = Number(process.env.SCAN_MB ?? 200);
const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function sarifText(): string {
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const results = [];
    for (let i = 0; i < PER_RUN; i++) {
      results.push({
        ruleId: `rule-${i % 50}`,
        level: i % 10 === 0 ? 'error' : i % 3 === 0 ? 'note' : 'warning',
        message: { text: `Problem ${i} of tool ${r}: something in this expression should be written another way` },
        locations: [{ physicalLocation: { artifactLocation: { uri: `src/module${i % 2000}/file${i % 37}.ts` }, region: { startLine: (i % 900) + 1, startColumn: 5 } } }],
      });
    }
    runs.push({ tool: { driver: { name: `tool-${r}`, rules: Array.from({ length: 50 }, (_, k) => ({ id: `rule-${k}` })) } }, results });
  }
  return JSON.stringify({ version: '2.1.0', $schema: 'https://json.schemastore.org/sarif-2.1.0.json', runs });
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-sarif-bench-'));
try {
  const db = openDb(join(dir, 'data'));
  const now = Date.now();
  db.prepare("INSERT INTO teams (name, created_at) VALUES ('t', ?)").run(now);
  db.prepare("INSERT INTO jobs (name, team_id, yaml, source, created_at, updated_at) VALUES ('j', 1, '', 'api', ?, ?)").run(now, now);
  const ingest = createReportIngest(createReportsStore(db));
  const file = join(dir, 'scan.sarif');
  writeFileSync(file, sarifText());
  const bytes = statSync(file).size;
  const total = RUNS * PER_RUN;
  const times: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const buildId = Number(db.prepare("INSERT INTO builds (job_id, number, status, yaml, created_at, branch) VALUES (1, ?, 'running', '', ?, 'main')").run(round + 1, now).lastInsertRowid);
    const stageRunId = Number(db.prepare("INSERT INTO stage_runs (build_id, stage_index, name, environment, status) VALUES (?, 0, 's', 'ci', 'running')").run(buildId).lastInsertRowid);
    const t0 = performance.now();
    const r = await ingest({ buildId, stageRunId, stepIndex: 1, format: 'sarif', path: 'scan.sarif', artifactId: null }, file);
    const ms = performance.now() - t0;
    if (r.status !== 'parsed' || r.findings !== total) throw new Error(`round ${round}: ${r.status} ${r.error ?? ''} (${r.findings} findings)`);
    // Finished well: the baseline of the next round.
    db.prepare("UPDATE builds SET status = 'success' WHERE id = ?").run(buildId);
    // Round 0 warms up (and is the first build of the branch: all new); the timed ones compare with it.
    if (round > 0) {
      if (r.newFindings !== 0) throw new Error(`round ${round}: ${r.newFindings} findings new, expected 0`);
      times.push(ms);
    }
  }
  await ingest.close();
  const stored = db.prepare('SELECT COUNT(*) AS n FROM findings').get() as { n: number };
  if (stored.n !== (ROUNDS + 1) * total) throw new Error(`stored ${stored.n} findings, expected ${(ROUNDS + 1) * total}`);
  db.close();
  const median = medianOf(times);

  // The secret scanner over a generated checkout.
  const tree = join(dir, 'checkout');
  const line = 'export function handler(request, response) { return response.send(request.body.value + 42); } // padding\n';
  const perFile = 256 * 1024;
  const files = Math.ceil((SCAN_MB * 1024 * 1024) / perFile);
  const body = line.repeat(Math.floor(perFile / line.length));
  for (let i = 0; i < files; i++) {
    const d = join(tree, `pkg${i % 40}`, `dir${i % 7}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `file${i}.ts`), `${body}const key = "AKIAQ7EXAMPLEZZZ${String(i % 10000).padStart(4, '0')}";\n`);
  }
  const scanBytes = files * (body.length + 40);
  const t0 = performance.now();
  const run = await secretsScanner.run({ workspace: tree, root: tree, exclude: [], allowList: join(tree, '.none'), config: {}, env: {}, signal: new AbortController().signal, log: () => undefined });
  const scanMs = performance.now() - t0;
  if (run.results.length !== files) throw new Error(`secret scan found ${run.results.length}, expected ${files}`);

  reportBench({
    sarif_ingest_findings_per_s: Math.round(total / (median / 1000)),
    sarif_ingest_ms: Math.round(median),
    sarif_ingest_findings: total,
    sarif_ingest_file_mb: Math.round((bytes / 1024 / 1024) * 10) / 10,
    secret_scan_mb_per_s: Math.round((scanBytes / 1024 / 1024 / (scanMs / 1000)) * 10) / 10,
    secret_scan_mb: Math.round(scanBytes / 1024 / 1024),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
