/**
 * Schema migrations, applied in order at start inside one transaction each; `user_version` records the
 * last one applied. Never edit a released migration: add a new one.
 * Times are INTEGER milliseconds since the epoch.
 */
export const migrations: string[] = [
  /* 1: identity, teams, environments, agents, jobs, builds, logs, artifacts, secrets */ `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  -- role: 'maintainer' | 'developer' | 'viewer'
  CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('maintainer','developer','viewer')),
    PRIMARY KEY (user_id, team_id)
  );
  -- Personal API tokens: only the sha256 of the token is stored. scopes: JSON array of 'read'|'write'|'admin'.
  CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  );
  CREATE TABLE environments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    protected INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  -- Agent tokens are bound to one environment; only the sha256 is stored.
  CREATE TABLE agent_tokens (
    id INTEGER PRIMARY KEY,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  -- state: 'connected' | 'busy' | 'draining' | 'lost' | 'offline'
  CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    token_id INTEGER REFERENCES agent_tokens(id) ON DELETE SET NULL,
    labels TEXT NOT NULL DEFAULT '[]',
    capacity INTEGER NOT NULL DEFAULT 1,
    executors TEXT NOT NULL DEFAULT '[]',
    version TEXT,
    state TEXT NOT NULL DEFAULT 'offline',
    last_seen_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (environment_id, name)
  );
  -- source: 'file' (managed by jobs/*.yml, read-only through the API) | 'api'
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    team_id INTEGER NOT NULL REFERENCES teams(id),
    yaml TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('file','api')),
    file_path TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    next_number INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  -- status: 'queued' | 'running' | 'success' | 'failed' | 'cancelled' | 'timeout'
  -- trigger: JSON {kind: 'manual'|'cron'|'rerun'|'push'..., user?, ...}; params: JSON map
  CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    yaml TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    trigger TEXT NOT NULL DEFAULT '{}',
    branch TEXT,
    commit_sha TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    deadline_at INTEGER,
    UNIQUE (job_id, number)
  );
  CREATE INDEX builds_status ON builds(status);
  -- One row per attempt of a stage. status: 'pending' (earlier stages not done) | 'queued' | 'running'
  -- | 'success' | 'failed' | 'cancelled' | 'timeout' | 'lost' | 'skipped' | 'error'
  -- last_seq: highest record seq committed (log chunks and step events share it).
  CREATE TABLE stage_runs (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    name TEXT NOT NULL,
    environment TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '[]',
    attempt INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    lease_epoch INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    last_seq INTEGER NOT NULL DEFAULT 0,
    log_bytes INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    queued_at INTEGER,
    started_at INTEGER,
    finished_at INTEGER
  );
  CREATE INDEX stage_runs_build ON stage_runs(build_id, stage_index, attempt);
  CREATE INDEX stage_runs_status ON stage_runs(status);
  CREATE TABLE step_runs (
    id INTEGER PRIMARY KEY,
    stage_run_id INTEGER NOT NULL REFERENCES stage_runs(id) ON DELETE CASCADE,
    step_index INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    exit_code INTEGER,
    error TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    duration_ms INTEGER,
    UNIQUE (stage_run_id, step_index)
  );
  -- Log chunks as the agent sent them (secrets already masked). Indexed for search by the indexer, off the
  -- hot path: log_index_state.last_rowid is the highest chunk rowid in log_fts.
  CREATE TABLE log_chunks (
    id INTEGER PRIMARY KEY,
    stage_run_id INTEGER NOT NULL REFERENCES stage_runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (stage_run_id, seq)
  );
  -- rowid = log_chunks.id; content = the chunk's text.
  CREATE VIRTUAL TABLE log_fts USING fts5(content, tokenize = 'unicode61');
  CREATE TABLE log_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), last_rowid INTEGER NOT NULL);
  INSERT INTO log_index_state VALUES (1, 0);
  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
    stage_run_id INTEGER NOT NULL REFERENCES stage_runs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    storage_path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (stage_run_id, path)
  );
  -- Team secrets, AES-256-GCM with the master key; value never leaves the master except in master:assign.
  CREATE TABLE secrets (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    iv BLOB NOT NULL,
    tag BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (team_id, name)
  );
  `,
  /* 2: Git: commit metadata of builds, merge/pull request builds, trigger history, poll state */ `
  -- ref: full ref built (refs/heads/main...); commit_info: JSON {author, message, url, changedFiles?};
  -- request: JSON {provider, number, sourceRepo, sourceBranch, targetBranch, fork} for merge/pull request builds.
  ALTER TABLE builds ADD COLUMN ref TEXT;
  ALTER TABLE builds ADD COLUMN commit_info TEXT;
  ALTER TABLE builds ADD COLUMN request TEXT;
  -- A build from a fork waits in status 'waiting' until a team member approves it.
  ALTER TABLE builds ADD COLUMN approved_by TEXT;
  CREATE INDEX builds_job_branch ON builds(job_id, branch, id);
  -- Every webhook delivery and poll result, per job it concerned (job_id NULL: matched no job).
  -- outcome: 'queued' | 'ignored' | 'rejected' | 'duplicate' (migration 3 adds 'pending')
  CREATE TABLE trigger_events (
    id INTEGER PRIMARY KEY,
    job_id INTEGER REFERENCES jobs(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    event TEXT NOT NULL,
    delivery_id TEXT,
    repo TEXT,
    ref TEXT,
    sha TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    build_id INTEGER REFERENCES builds(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX trigger_events_job ON trigger_events(job_id, id);
  -- Deduplication of deliveries: by delivery id, else by (repository, ref, sha). Kept for a day.
  CREATE TABLE webhook_deliveries (
    key TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  );
  -- Last head seen by the poller per job and ref.
  CREATE TABLE poll_heads (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    ref TEXT NOT NULL,
    sha TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, ref)
  );
  `,
  /* 3: path filters decided after the webhook answer (master/webhooks/path-checks.ts) */ `
  -- trigger_events.outcome gains 'pending': the delivery did not list its changed files and the job has
  -- triggers.push.paths; the row is updated in place to 'queued' (build_id set) or 'ignored' once git decided.
  -- One row per pending decision, deleted in the transaction that decides it; read again at master start.
  -- push: JSON {provider, event, deliveryId, repoUrls, ref, sha, before, headMessage, author, url}.
  CREATE TABLE pending_path_checks (
    event_id INTEGER PRIMARY KEY REFERENCES trigger_events(id) ON DELETE CASCADE,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    repo TEXT NOT NULL,
    push TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  /* 4: log retention finds old chunks through an index: created_at sits after the blob, so a scan would read
     every chunk's overflow pages, i.e. the whole log store, once an hour. */ `
  CREATE INDEX log_chunks_created ON log_chunks(created_at);
  `,
  /* 5: memberships for user names that do not exist (yet), so team maintainers cannot probe user names;
     disabled users */ `
  -- A non-admin maintainer adding an unknown name gets the same answer as for an existing user; the
  -- membership waits here (listed like any other) and becomes a row of memberships when the user is created.
  CREATE TABLE pending_memberships (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('maintainer','developer','viewer')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, username)
  );
  -- A disabled user keeps their rows but cannot log in; their sessions and tokens stop working at once.
  ALTER TABLE users ADD COLUMN disabled_at INTEGER;
  `,
  /* 6: trigger history per job holds only deliveries its own secret verified (master/webhooks/accept.ts) */ `
  -- Deliveries no job's secret verified (wrong or missing secret, no job watching, unhandled events):
  -- counted per normalised repository for admins, never per job. Bounded by master/webhooks/unverified.ts.
  CREATE TABLE unverified_deliveries (
    repo TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    last_provider TEXT NOT NULL,
    last_reason TEXT NOT NULL
  );
  CREATE INDEX unverified_deliveries_last ON unverified_deliveries(last_at);
  -- Such deliveries were rows of trigger_events: with job_id NULL, or 'rejected' in the history of every
  -- job watching the repository (another team's pushes in a job's history). They go; dedup keys are now
  -- per job, so the old global ones are of no use.
  DELETE FROM trigger_events WHERE job_id IS NULL OR outcome = 'rejected';
  DELETE FROM webhook_deliveries;
  `,
  /* 7: step outputs, reports and test results, agents' capabilities and services (issue 7) */ `
  -- One row per output a step published (master/store/outputs.ts). value: JSON (string, number, boolean or
  -- list of strings); step_id: the job file's step id (NULL for steps without one, not referenceable).
  CREATE TABLE step_outputs (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
    stage_run_id INTEGER NOT NULL REFERENCES stage_runs(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    step_index INTEGER NOT NULL,
    step_id TEXT,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (stage_run_id, step_index, key)
  );
  CREATE INDEX step_outputs_build ON step_outputs(build_id, stage_index);
  -- A report a step attached (master/store/reports.ts). status: 'parsed' | 'missing' | 'malformed';
  -- artifact_id: the uploaded file, kept as an artifact of the stage run.
  CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
    stage_run_id INTEGER NOT NULL REFERENCES stage_runs(id) ON DELETE CASCADE,
    step_index INTEGER NOT NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    artifact_id INTEGER REFERENCES artifacts(id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('parsed','missing','malformed')),
    error TEXT,
    tests INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    duration_ms REAL NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (stage_run_id, step_index, path)
  );
  CREATE INDEX reports_build ON reports(build_id);
  -- One row per test case of a parsed report. status: 'passed' | 'failed' | 'error' | 'skipped'.
  -- Reached through reports (per build): one index only, so storing 50,000 cases stays fast.
  CREATE TABLE test_results (
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
  CREATE INDEX test_results_report ON test_results(report_id);
  -- capabilities: JSON CapabilityInfo[] from the last hello; services: JSON ServiceStatus[], latest report.
  ALTER TABLE agents ADD COLUMN capabilities TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE agents ADD COLUMN services TEXT NOT NULL DEFAULT '[]';
  `,
  /* 8: image registries and the teams they are granted to (master/store/registries.ts) */ `
  -- The password is sealed like a team secret (AES-256-GCM, bound to the registry's name); NULL without one.
  CREATE TABLE registries (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    username TEXT,
    iv BLOB,
    tag BLOB,
    ciphertext BLOB,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE registry_grants (
    registry_id INTEGER NOT NULL REFERENCES registries(id) ON DELETE CASCADE,
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (registry_id, team_id)
  );
  `,
  /* 9: approval gates, protected environments' approver teams, deployment history (issue 8 item 5) */ `
  -- Teams whose members may approve stages running in a protected environment (master/store/environments.ts).
  CREATE TABLE environment_teams (
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (environment_id, team_id)
  );
  -- One row per approval gate a stage run waited at (master/store/approvals.ts). The stage run is in status
  -- 'waiting' while the gate is. status: 'waiting' | 'approved' | 'rejected' | 'expired' | 'cancelled'
  -- (the build ended otherwise). decided_by: the user who approved or rejected.
  CREATE TABLE approvals (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
    stage_run_id INTEGER NOT NULL REFERENCES stage_runs(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    stage TEXT NOT NULL,
    environment TEXT NOT NULL,
    required TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting','approved','rejected','expired','cancelled')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    comment TEXT
  );
  CREATE INDEX approvals_build ON approvals(build_id, stage_index);
  CREATE INDEX approvals_waiting ON approvals(status, expires_at);
  -- One row per successful deploy step (master/store/deployments.ts), from the step's outputs. Kept when
  -- retention removes the build (build_id set NULL; job, build number and the rest stay).
  CREATE TABLE deployments (
    id INTEGER PRIMARY KEY,
    app TEXT NOT NULL,
    environment TEXT NOT NULL,
    job_id INTEGER NOT NULL REFERENCES jobs(id),
    build_id INTEGER REFERENCES builds(id) ON DELETE SET NULL,
    build_number INTEGER NOT NULL,
    stage TEXT NOT NULL,
    step_index INTEGER NOT NULL,
    image TEXT NOT NULL,
    digest TEXT,
    replicas INTEGER NOT NULL,
    instances TEXT NOT NULL,
    compose TEXT NOT NULL,
    triggered_by TEXT NOT NULL,
    approved_by TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX deployments_app_env ON deployments(app, environment, id);
  `,
  /* 10: what compose files deployed to an environment may do beyond the default (shared/compose/schema.ts) */ `
  -- JSON {allowBindMounts, allowPrivileged, allowDockerSocket}; all false: refused.
  ALTER TABLE environments ADD COLUMN deploy_policy TEXT NOT NULL DEFAULT '{}';
  `,
  /* 11: SARIF findings of reports (issue 11, master/store/findings.ts) */ `
  ALTER TABLE reports ADD COLUMN findings INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE reports ADD COLUMN new_findings INTEGER NOT NULL DEFAULT 0;
  -- The build a SARIF report's findings were compared with (the latest earlier successful build of the job and
  -- branch with a parsed SARIF report, as it was at ingestion); NULL: none, every finding is new.
  ALTER TABLE reports ADD COLUMN baseline_build_id INTEGER;
  -- One row per result of a parsed SARIF report. level: 'error' | 'warning' | 'note' | 'none';
  -- severity: 'high' | 'medium' | 'low'; fingerprint: sha1 of tool, rule, file and message (master/reports/sarif.ts);
  -- is_new: 1 when the baseline build (reports.baseline_build_id) had no finding with this fingerprint.
  CREATE TABLE findings (
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
  CREATE INDEX findings_report ON findings(report_id);
  `,
  /* 12: notification deliveries (issue 11, master/store/notifications.ts) */ `
  -- One row per (build event, channel). channel: JSON of the job file's channel (secret NAMES, never values);
  -- payload: the masked JSON event sent; status: 'pending' | 'delivered' | 'failed' (gave up after the last attempt);
  -- next_at: when a pending delivery is tried next.
  CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY,
    build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (build_id, event, channel)
  );
  CREATE INDEX notification_deliveries_due ON notification_deliveries(status, next_at);
  CREATE INDEX notification_deliveries_build ON notification_deliveries(build_id);
  -- A team's own channels (told about every job of the team besides the jobs' notify:); channel: JSON as in a
  -- job file's notify entry (secret names only).
  CREATE TABLE team_notifiers (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, name)
  );
  `,
  /* 13: a deploy that failed and was rolled back is kept in the history with why (master/store/deployments.ts) */ `
  ALTER TABLE deployments ADD COLUMN failure TEXT;
  `,
  /* 14: why a build or stage run ended, as columns instead of builds.error prefixes (master/store/builds.ts) */ `
  -- end_reason (builds and stage_runs): NULL while open, then 'succeeded' | 'failed' | 'cancelled' | 'timeout'
  -- | 'lost' (agent lost, no retry left) | 'gate_rejected' | 'gate_expired' | 'skipped' (stage runs only);
  -- error stays the human message. stop_requested: 'cancelled' | 'timeout' while a stop of a running build
  -- waits for its agent (formerly told apart by error starting with 'build timed out').
  ALTER TABLE builds ADD COLUMN end_reason TEXT;
  ALTER TABLE builds ADD COLUMN stop_requested TEXT CHECK (stop_requested IN ('cancelled','timeout'));
  ALTER TABLE stage_runs ADD COLUMN end_reason TEXT;
  UPDATE builds SET stop_requested = CASE WHEN error LIKE 'build timed out%' THEN 'timeout' ELSE 'cancelled' END
    WHERE status = 'running' AND error IS NOT NULL;
  UPDATE builds SET end_reason = CASE
      WHEN status = 'success' THEN 'succeeded'
      WHEN status IN ('cancelled', 'timeout') THEN status
      WHEN error GLOB 'stage ''*'' rejected by *' THEN 'gate_rejected'
      WHEN error GLOB 'stage ''*'': approval expired after *' THEN 'gate_expired'
      WHEN error GLOB '*; no retries left (retry.lost: *)' OR error GLOB '*; no retries (retry.lost is 0)' THEN 'lost'
      ELSE 'failed' END
    WHERE status IN ('success', 'failed', 'cancelled', 'timeout');
  UPDATE stage_runs SET end_reason = CASE
      WHEN status = 'success' THEN 'succeeded'
      WHEN status IN ('cancelled', 'timeout', 'lost', 'skipped') THEN status
      WHEN status = 'failed' AND error GLOB 'stage ''*'' rejected by *' THEN 'gate_rejected'
      WHEN status = 'failed' AND error GLOB 'stage ''*'': approval expired after *' THEN 'gate_expired'
      ELSE 'failed' END
    WHERE status IN ('success', 'failed', 'cancelled', 'timeout', 'lost', 'skipped', 'error');
  `,
  /* 15: logs and reports move to their own file, logs.db (master/store/logs-migrations.ts). openDb attaches it
     as 'logs' with its schema before this runs. In WAL mode a transaction over two files is atomic per file
     only, so this starts by emptying what an interrupted earlier run may have copied: nothing else writes
     logs.db before main reaches version 15. */ `
  DELETE FROM logs.findings;
  DELETE FROM logs.test_results;
  DELETE FROM logs.reports;
  DELETE FROM logs.log_fts;
  DELETE FROM logs.log_chunks;
  INSERT INTO logs.log_chunks (id, stage_run_id, seq, offset, data, created_at)
    SELECT id, stage_run_id, seq, offset, data, created_at FROM main.log_chunks;
  INSERT INTO logs.log_fts (rowid, content) SELECT rowid, content FROM main.log_fts;
  UPDATE logs.log_index_state SET last_rowid = (SELECT last_rowid FROM main.log_index_state WHERE id = 1) WHERE id = 1;
  INSERT INTO logs.reports (id, build_id, stage_run_id, step_index, format, path, artifact_id, status, error, tests, failures,
      errors, skipped, duration_ms, created_at, findings, new_findings, baseline_build_id)
    SELECT id, build_id, stage_run_id, step_index, format, path, artifact_id, status, error, tests, failures,
      errors, skipped, duration_ms, created_at, findings, new_findings, baseline_build_id FROM main.reports;
  INSERT INTO logs.test_results (id, report_id, suite, classname, name, status, duration_ms, message, details)
    SELECT id, report_id, suite, classname, name, status, duration_ms, message, details FROM main.test_results;
  INSERT INTO logs.findings (id, report_id, tool, rule_id, level, severity, message, file, line, fingerprint, is_new)
    SELECT id, report_id, tool, rule_id, level, severity, message, file, line, fingerprint, is_new FROM main.findings;
  DROP TABLE main.findings;
  DROP TABLE main.test_results;
  DROP TABLE main.reports;
  DROP TABLE main.log_fts;
  DROP TABLE main.log_index_state;
  DROP TABLE main.log_chunks;
  `,
  /* 16: plugins (master/store/plugins.ts) */ `
  -- One row per installed plugin: the version agents run. manifest: the validated manifest JSON; sha256/bytes: of
  -- the package file kept at <data dir>/plugins/<name>/<version>.tgz (older versions' files stay there);
  -- previous_version: the version an update replaced.
  CREATE TABLE plugins (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    manifest TEXT NOT NULL,
    previous_version TEXT,
    installed_by TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  /* 17: job names are unique per team, not across teams (another team's job name must not be "taken" for a team that
     cannot see it). SQLite cannot drop a UNIQUE constraint: the table is rebuilt, ids and every column kept (the
     migration runs with foreign keys off, so tables referencing jobs keep their rows, and is checked with
     foreign_key_check before it commits: store/db.ts migrate). */ `
  -- foreign_keys=OFF
  CREATE TABLE jobs_by_team (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    team_id INTEGER NOT NULL REFERENCES teams(id),
    yaml TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('file','api')),
    file_path TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    next_number INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (team_id, name)
  );
  INSERT INTO jobs_by_team (id, name, team_id, yaml, source, file_path, enabled, next_number, created_at, updated_at)
    SELECT id, name, team_id, yaml, source, file_path, enabled, next_number, created_at, updated_at FROM jobs;
  DROP TABLE jobs;
  ALTER TABLE jobs_by_team RENAME TO jobs;
  CREATE INDEX jobs_name ON jobs (name);
  `,
  /* 18: values team secrets held before they were replaced or deleted, so a container still running with an old
     value has it masked in the log center after a master restart (master/store/secrets.ts, app-logs/secret-mask.ts) */ `
  -- The replaced secrets row moved here as it was sealed (iv, tag, ciphertext under the same team/name aad: never
  -- re-encrypted, never plain). Read only by the log center's masker, never by the API; kept for
  -- SLIPWAY_SECRET_HISTORY_DAYS and at most a few per secret (master/secrets/store.ts).
  CREATE TABLE secret_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    iv BLOB NOT NULL,
    tag BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    replaced_at INTEGER NOT NULL
  );
  CREATE INDEX secret_history_secret ON secret_history (team_id, name, replaced_at);
  `,
  /* 19: repository prefixes per registry grant: what a team may push to a registry it shares with other teams
     (shared/registry-prefixes.ts, master/store/registries.ts). Existing grants get the default: the team's name as
     the first path segment when the registry is granted to several teams, any repository ('*') otherwise. */ `
  -- prefixes: JSON array of prefixes ('*', 'shop/', 'shop/web'), never empty.
  ALTER TABLE registry_grants ADD COLUMN prefixes TEXT NOT NULL DEFAULT '["*"]';
  UPDATE registry_grants SET prefixes = json_array((SELECT name FROM teams WHERE teams.id = registry_grants.team_id) || '/')
    WHERE (SELECT COUNT(*) FROM registry_grants g WHERE g.registry_id = registry_grants.registry_id) > 1;
  `,
];
