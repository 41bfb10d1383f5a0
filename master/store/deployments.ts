/**
 * Deployment history (table deployments): one row per step whose kind describes a deployment, successful or
 * failed with a description (`failure`: then the current deployment is still the one before; see current())
 * (StepKindDef.deploymentOf: the deploy kind), written when the agent's step-finished record is stored, inside
 * that transaction. Read per app and environment for the API (team-scoped through the job) and for rollback.
 * All SQL on the table lives here.
 */
import type { DeploymentInfo } from '../../shared/api';
import type { DeploymentRecord } from '../../shared/job';
import type { Db } from './db';

/** Where a deployment came from: the step that made it. */
export interface DeploymentSource {
  buildId: number;
  stageIndex: number;
  stage: string;
  /** The stage's environment (authoritative; the step's own report of it is not trusted). */
  environment: string;
  stepIndex: number;
  /** Who approved the stage's gate, if it had one. */
  approvedBy: string | null;
}

export interface DeploymentFilter {
  app?: string;
  environment?: string;
  /** Only deployments made by jobs of these teams. */
  teamIds: number[];
  limit: number;
}

/** A deployment with the job's team, for access checks. */
export interface DeploymentRow extends DeploymentInfo {
  jobId: number;
  teamId: number;
}

export interface DeploymentsStore {
  /** Records a deployment from a successful step's outputs (inside the caller's transaction). */
  record(src: DeploymentSource, d: DeploymentRecord, now: number): void;
  /** Newest first, failed attempts included. */
  list(filter: DeploymentFilter): DeploymentRow[];
}

/** The deployment that runs now: the newest that did not fail (a failed one was rolled back). */
export function current(history: DeploymentRow[]): DeploymentRow | undefined {
  return history.find((d) => d.failure === null);
}

interface Row {
  id: number;
  app: string;
  environment: string;
  job_id: number;
  job: string;
  team: string;
  team_id: number;
  build_id: number | null;
  build_number: number;
  stage: string;
  image: string;
  digest: string | null;
  replicas: number;
  instances: string;
  compose: string;
  triggered_by: string;
  approved_by: string | null;
  failure: string | null;
  created_at: number;
}

/** The sha256 digest an image reference pins (`host/name@sha256:...`), else null. */
export function digestOf(image: string): string | null {
  const m = /@(sha256:[0-9a-f]{64})$/.exec(image);
  return m ? m[1] : null;
}

export function createDeploymentsStore(db: Db): DeploymentsStore {
  const buildOf = db.prepare<[number], { job_id: number; number: number; trigger: string }>('SELECT job_id, number, trigger FROM builds WHERE id = ?');
  const insert = db.prepare(
    `INSERT INTO deployments (app, environment, job_id, build_id, build_number, stage, step_index, image, digest, replicas, instances, compose,
       triggered_by, approved_by, failure, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return {
    record(src, d, now) {
      const b = buildOf.get(src.buildId);
      if (!b) return;
      const trigger = JSON.parse(b.trigger) as { kind?: string; user?: string };
      insert.run(d.app, src.environment, b.job_id, src.buildId, b.number, src.stage, src.stepIndex, d.image, digestOf(d.image), d.replicas,
        JSON.stringify(d.instances), d.compose, trigger.user ?? trigger.kind ?? 'unknown', src.approvedBy, d.failure ?? null, now);
    },
    list(f) {
      if (!f.teamIds.length) return [];
      const where = [`j.team_id IN (${f.teamIds.map(() => '?').join(',')})`];
      const args: (string | number)[] = [...f.teamIds];
      if (f.app !== undefined) {
        where.push('d.app = ?');
        args.push(f.app);
      }
      if (f.environment !== undefined) {
        where.push('d.environment = ?');
        args.push(f.environment);
      }
      args.push(f.limit);
      const rows = db
        .prepare(
          `SELECT d.*, j.name AS job, t.name AS team, j.team_id FROM deployments d JOIN jobs j ON j.id = d.job_id JOIN teams t ON t.id = j.team_id
           WHERE ${where.join(' AND ')} ORDER BY d.id DESC LIMIT ?`,
        )
        .all(...args) as Row[];
      return rows.map((r) => ({
        id: r.id,
        app: r.app,
        environment: r.environment,
        job: r.job,
        team: r.team,
        jobId: r.job_id,
        teamId: r.team_id,
        buildId: r.build_id,
        buildNumber: r.build_number,
        stage: r.stage,
        image: r.image,
        digest: r.digest,
        replicas: r.replicas,
        instances: JSON.parse(r.instances) as string[],
        compose: r.compose,
        triggeredBy: r.triggered_by,
        approvedBy: r.approved_by,
        failure: r.failure,
        createdAt: r.created_at,
      }));
    },
  };
}
