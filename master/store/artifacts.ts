/**
 * Artifacts (table artifacts; the files live under <dataDir>/artifacts, engine/artifacts/paths.ts): every
 * statement on the table lives here, with the lease checks the agent upload and download routes need.
 */
import type { ArtifactInfo } from '../../shared/api';
import type { Db } from './db';

export interface ArtifactRow extends ArtifactInfo {
  storagePath: string;
}

/** A stage run's lease as the artifact routes check it: status, epoch and the agent token holding it. */
export interface ArtifactLeaseRow {
  buildId: number;
  status: string;
  epoch: number;
  tokenId: number | null;
}

export interface ArtifactsStore {
  lease(stageRunId: number): ArtifactLeaseRow | undefined;
  /** Running leases of this agent token on builds of the same job as `buildId`. */
  leasesOnJob(tokenId: number, buildId: number): { id: number; epoch: number }[];
  byId(id: number): ArtifactRow | undefined;
  ofBuild(buildId: number): ArtifactRow[];
  /** Stores (or replaces, same stage run and path) an artifact row; its id. */
  put(a: { buildId: number; stageRunId: number; path: string; size: number; sha256: string; storagePath: string }, now: number): number;
  /**
   * Artifacts of a build's stages before `beforeIndex` (report files, under .slipway/reports/, excluded),
   * later stages first, newest first within a stage.
   */
  inputsOf(buildId: number, beforeIndex: number): { id: number; path: string; size: number; sha256: string }[];
}

const cache = new WeakMap<Db, ArtifactsStore>();

/** One store per connection. */
export function artifactsStore(db: Db): ArtifactsStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): ArtifactsStore {
  const COLS = 'id, build_id AS buildId, stage_run_id AS stageRunId, path, size, sha256, storage_path AS storagePath';
  const lease = db.prepare<[number], ArtifactLeaseRow>(
    `SELECT sr.build_id AS buildId, sr.status, sr.lease_epoch AS epoch, a.token_id AS tokenId
       FROM stage_runs sr LEFT JOIN agents a ON a.id = sr.agent_id WHERE sr.id = ?`,
  );
  const leasesOnJob = db.prepare<[number, number], { id: number; epoch: number }>(
    `SELECT sr.id, sr.lease_epoch AS epoch FROM stage_runs sr
       JOIN agents a ON a.id = sr.agent_id
       JOIN builds b ON b.id = sr.build_id
      WHERE a.token_id = ? AND sr.status = 'running'
        AND b.job_id = (SELECT job_id FROM builds WHERE id = ?)`,
  );
  const byId = db.prepare<[number], ArtifactRow>(`SELECT ${COLS} FROM artifacts WHERE id = ?`);
  const ofBuild = db.prepare<[number], ArtifactRow>(`SELECT ${COLS} FROM artifacts WHERE build_id = ? ORDER BY stage_run_id, path`);
  const put = db.prepare<unknown[], number>(
    `INSERT INTO artifacts (build_id, stage_run_id, path, size, sha256, storage_path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (stage_run_id, path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
       storage_path = excluded.storage_path, created_at = excluded.created_at
     RETURNING id`,
  ).pluck();
  const inputs = db.prepare<[number, number], { id: number; path: string; size: number; sha256: string }>(
    `SELECT a.id, a.path, a.size, a.sha256 FROM artifacts a JOIN stage_runs sr ON sr.id = a.stage_run_id
     WHERE a.build_id = ? AND sr.stage_index < ? AND a.path NOT LIKE '.slipway/reports/%' ORDER BY sr.stage_index DESC, a.id DESC`,
  );
  return {
    lease: (id) => lease.get(id),
    leasesOnJob: (tokenId, buildId) => leasesOnJob.all(tokenId, buildId),
    byId: (id) => byId.get(id),
    ofBuild: (buildId) => ofBuild.all(buildId),
    put: (a, now) => Number(put.get(a.buildId, a.stageRunId, a.path, a.size, a.sha256, a.storagePath, now)),
    inputsOf: (buildId, beforeIndex) => inputs.all(buildId, beforeIndex),
  };
}
