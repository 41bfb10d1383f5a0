/**
 * Schema of the logs database (`<dataDir>/logs.db`, ATTACHed to the store's connection as `logs`): build log
 * chunks with their FTS5 index, and reports with their structured results. Applied in order at start, one
 * transaction each; `logs.user_version` records the last one applied. Never edit a released migration.
 * Statements name the schema (`logs.`): unqualified CREATE statements would go to the main file.
 *
 * These tables cannot hold foreign keys to the control tables (another file): the cascades they had
 * (stage_runs -> log_chunks, reports; artifacts -> reports.artifact_id) are TEMP triggers installed by
 * openDb (db.ts). Unqualified table names in queries still resolve here, so queries may join control tables
 * (builds, jobs, teams) with these for team scoping.
 */
export const logsMigrations: string[] = [
  /* 1: log chunks, their search index, reports, test results, SARIF findings (moved here by main migration 15) */ `
  -- Log chunks as the agent sent them (secrets already masked); stage_run_id: main.stage_runs.id.
  CREATE TABLE logs.log_chunks (
    id INTEGER PRIMARY KEY,
    stage_run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (stage_run_id, seq)
  );
  CREATE INDEX logs.log_chunks_created ON log_chunks(created_at);
  -- rowid = log_chunks.id; content = the chunk's text. log_index_state.last_rowid: highest chunk id indexed.
  CREATE VIRTUAL TABLE logs.log_fts USING fts5(content, tokenize = 'unicode61');
  CREATE TABLE logs.log_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), last_rowid INTEGER NOT NULL);
  INSERT INTO logs.log_index_state VALUES (1, 0);
  -- A report a step attached (master/store/reports.ts). status: 'parsed' | 'missing' | 'malformed';
  -- build_id, stage_run_id: main.builds / main.stage_runs; artifact_id: main.artifacts (NULL once deleted).
  CREATE TABLE logs.reports (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL,
    stage_run_id INTEGER NOT NULL,
    step_index INTEGER NOT NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    artifact_id INTEGER,
    status TEXT NOT NULL CHECK (status IN ('parsed','missing','malformed')),
    error TEXT,
    tests INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    duration_ms REAL NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    findings INTEGER NOT NULL DEFAULT 0,
    new_findings INTEGER NOT NULL DEFAULT 0,
    baseline_build_id INTEGER,
    UNIQUE (stage_run_id, step_index, path)
  );
  CREATE INDEX logs.reports_build ON reports(build_id);
  CREATE INDEX logs.reports_artifact ON reports(artifact_id) WHERE artifact_id IS NOT NULL;
  -- One row per test case of a parsed report. status: 'passed' | 'failed' | 'error' | 'skipped'.
  CREATE TABLE logs.test_results (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    suite TEXT NOT NULL,
    classname TEXT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    duration_ms REAL,
    message TEXT,
    details TEXT
  );
  CREATE INDEX logs.test_results_report ON test_results(report_id);
  -- One row per result of a parsed SARIF report (see main migration 11 for the columns' meaning).
  CREATE TABLE logs.findings (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    tool TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    level TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    file TEXT,
    line INTEGER,
    fingerprint TEXT NOT NULL,
    is_new INTEGER NOT NULL
  );
  CREATE INDEX logs.findings_report ON findings(report_id);
  `,
];
