/**
 * Engine-core unit test setup: a real SQLite store in a temp dir, the real log store and stream hub, the
 * engine core and its dispatcher, plus in-memory agent sessions that record what the master sends them
 * (the unit under test is the scheduler and the records path, not the socket).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseJobYaml } from '../../shared/job';
import type { MasterMessage } from '../../shared/protocol/messages';
import type { MasterConfig, MasterContext } from '../../master/context';
import { createCore, Effects, type AgentSession, type EngineCore } from '../../master/engine/core';
import { createBuild } from '../../master/engine/builds/create-build';
import { createLogStoreOnDb } from '../../master/engine/logs/log-store';
import { createDispatcher } from '../../master/engine/scheduler/dispatcher';
import { createStreamHub } from '../../master/engine/stream/hub';
import { SecretStore } from '../../master/secrets/store';
import { openDb, type Db } from '../../master/store/db';

export interface TestSession extends AgentSession {
  sent: MasterMessage[];
}

export interface EngineFixture {
  db: Db;
  core: EngineCore;
  dispatch(): number;
  secrets: SecretStore;
  teamId: number;
  addJob(yaml: string): { id: number; yaml: string };
  trigger(job: { id: number; yaml: string }, params?: Record<string, string>, branch?: string | null): number;
  connect(name: string, environment: string, opts?: { labels?: string[]; capacity?: number; capabilities?: string[]; kinds?: string[] }): TestSession;
  cleanup(): void;
}

export function engineFixture(): EngineFixture {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-engine-'));
  const db = openDb(join(dir, 'data'));
  const log = pino({ level: 'silent' });
  const config: MasterConfig = {
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    jwtSecret: 'x'.repeat(32),
    masterKey: randomBytes(32),
    heartbeatIntervalMs: 5000,
    agentLostAfterMs: 30_000,
    leaseTtlMs: 30_000,
    cancelGraceMs: 5000,
    maxFrameBytes: 1 << 20,
    maxArtifactBytes: 1 << 20,
    retention: { builds: 100, logsDays: 30 },
    secretHistoryDays: 30,
    loginRateLimit: { max: 10, windowMs: 60_000 },
    allowLocalRepos: [tmpdir()],
  };
  const secrets = new SecretStore(db, config.masterKey);
  const unused = () => {
    throw new Error('not used by engine-core unit tests');
  };
  const ctx: MasterContext = {
    config,
    db,
    log,
    secrets,
    registries: { grantedTo: () => [], pushGrants: () => [] },
    access: { roleIn: unused, visibleTeamIds: unused, check: unused },
    jobs: { byId: unused, all: () => [], onChange: () => {} },
    authenticate: () => null,
    authenticateAgent: () => null,
    onAgentTokenRevoked: () => {},
    accessChanged: () => {},
    onAccessChanged: () => {},
  };
  const logs = createLogStoreOnDb(db, log);
  const hub = createStreamHub(ctx, logs);
  let dispatcher: { dispatch(): number } | undefined;
  // Passes run explicitly through fixture.dispatch() so tests decide when the scheduler looks.
  const core = createCore(ctx, logs, hub, () => {});
  dispatcher = createDispatcher(core);
  const now = Date.now();
  const teamId = Number(db.prepare('INSERT INTO teams (name, created_at) VALUES (?, ?)').run('shop', now).lastInsertRowid);
  const envIds = new Map<string, number>();
  let nextAgent = 0;

  return {
    db,
    core,
    secrets,
    teamId,
    dispatch: () => dispatcher!.dispatch(),
    addJob(yaml) {
      const cfg = parseJobYaml(yaml);
      const id = Number(
        db
          .prepare("INSERT INTO jobs (name, team_id, yaml, source, created_at, updated_at) VALUES (?, ?, ?, 'api', ?, ?)")
          .run(cfg.name, teamId, yaml, now, now).lastInsertRowid,
      );
      return { id, yaml };
    },
    trigger(job, params = {}, branch = null) {
      const fx = new Effects();
      return createBuild(core, fx, { jobId: job.id, yaml: job.yaml, config: parseJobYaml(job.yaml), params, branch, trigger: { kind: 'manual' } });
    },
    connect(name, environment, opts = {}) {
      let envId = envIds.get(environment);
      if (envId === undefined) {
        envId = Number(db.prepare('INSERT INTO environments (name, created_at) VALUES (?, ?)').run(environment, now).lastInsertRowid);
        envIds.set(environment, envId);
      }
      const agentId = Number(
        db
          .prepare("INSERT INTO agents (name, environment_id, state, created_at) VALUES (?, ?, 'connected', ?)")
          .run(name, envId, now).lastInsertRowid,
      );
      const sent: MasterMessage[] = [];
      const session: TestSession = {
        agentId,
        name,
        environment,
        environmentId: envId,
        tokenId: ++nextAgent,
        labels: opts.labels ?? [],
        capabilities: opts.capabilities ?? [],
        services: [],
        capacity: opts.capacity ?? 1,
        executors: (opts.kinds ?? ['shell', 'checkout']).map((kind) => ({ kind, version: '1' })),
        draining: false,
        lastFrameAt: Date.now(),
        busy: 0,
        refused: new Set(),
        lost: false,
        sent,
        send: (m) => sent.push(m),
        close: () => core.sessions.delete(agentId),
      };
      core.sessions.set(agentId, session);
      return session;
    },
    cleanup() {
      hub.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A job YAML with the given stages as [name, environment, labels?]. */
export function jobYaml(name: string, stages: [string, string, string[]?][], extra = ''): string {
  const st = stages
    .map(([s, env, labels]) => `  - name: ${s}\n    environment: ${env}\n${labels ? `    labels: [${labels.join(', ')}]\n` : ''}    steps:\n      - sh: echo ${s}\n`)
    .join('');
  return `name: ${name}\nteam: shop\n${extra}stages:\n${st}`;
}
