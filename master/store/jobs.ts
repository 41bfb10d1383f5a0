/**
 * Jobs (table jobs): every statement on it lives here. master/jobs/service.ts keeps the parsed cache, the
 * validation and the policy (file-managed jobs are read-only through the API) and calls these.
 */
import type { Db } from './db';

export interface JobRow {
  id: number;
  name: string;
  team_id: number;
  /** The team's name (joined). */
  team: string;
  yaml: string;
  source: 'file' | 'api';
  file_path: string | null;
  enabled: number;
}

/** What resolving a job reference needs (master/jobs/resolve.ts): names are unique per team only. */
export interface JobKey {
  id: number;
  teamId: number;
  /** The team's name. */
  team: string;
}

export interface JobsTable {
  /** Every job with its team's name. */
  all(): JobRow[];
  byId(id: number): JobRow | undefined;
  /** A new enabled job; its id. */
  insert(job: { name: string; teamId: number; yaml: string; source: 'file' | 'api'; filePath: string | null }, now: number): number;
  /** Replaces a job's definition and enables it. */
  update(id: number, job: { teamId: number; yaml: string; source: 'file' | 'api'; filePath: string | null }, now: number): void;
  setEnabled(id: number, enabled: boolean, now: number): void;
  /** Gives the job to another team with its rewritten YAML; it is an API job from then on, enabled or not as before. */
  move(id: number, job: { teamId: number; yaml: string }, now: number): void;
  /** The id of the job's newest build, if any. */
  lastBuildId(jobId: number): number | undefined;
  /** Id and team of every job of that name (one per team), enabled or not (disabled jobs keep their history). */
  idsAndTeamsByName(name: string): JobKey[];
  /** Names of every environment (a stage naming another one can never run). */
  environmentNames(): string[];
}

const cache = new WeakMap<Db, JobsTable>();

/** The table of this connection (statements prepared once, shared by the jobs service and the routes). */
export function createJobsTable(db: Db): JobsTable {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): JobsTable {
  const all = db.prepare<[], JobRow>('SELECT j.*, t.name AS team FROM jobs j JOIN teams t ON t.id = j.team_id');
  const byId = db.prepare<[number], JobRow>('SELECT j.*, t.name AS team FROM jobs j JOIN teams t ON t.id = j.team_id WHERE j.id = ?');
  const insert = db.prepare('INSERT INTO jobs (name, team_id, yaml, source, file_path, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)');
  const update = db.prepare('UPDATE jobs SET team_id = ?, yaml = ?, source = ?, file_path = ?, enabled = 1, updated_at = ? WHERE id = ?');
  const setEnabled = db.prepare('UPDATE jobs SET enabled = ?, updated_at = ? WHERE id = ?');
  const move = db.prepare("UPDATE jobs SET team_id = ?, yaml = ?, source = 'api', file_path = NULL, updated_at = ? WHERE id = ?");
  const lastBuild = db.prepare<[number], number>('SELECT id FROM builds WHERE job_id = ? ORDER BY number DESC LIMIT 1').pluck();
  const idsAndTeams = db.prepare<[string], JobKey>(
    'SELECT j.id, j.team_id AS teamId, t.name AS team FROM jobs j JOIN teams t ON t.id = j.team_id WHERE j.name = ? ORDER BY t.name',
  );
  const envNames = db.prepare<[], string>('SELECT name FROM environments').pluck();
  return {
    all: () => all.all(),
    byId: (id) => byId.get(id),
    insert: (j, now) => Number(insert.run(j.name, j.teamId, j.yaml, j.source, j.filePath, now, now).lastInsertRowid),
    update: (id, j, now) => void update.run(j.teamId, j.yaml, j.source, j.filePath, now, id),
    setEnabled: (id, enabled, now) => void setEnabled.run(enabled ? 1 : 0, now, id),
    move: (id, j, now) => void move.run(j.teamId, j.yaml, now, id),
    lastBuildId: (jobId) => lastBuild.get(jobId),
    idsAndTeamsByName: (name) => idsAndTeams.all(name),
    environmentNames: () => envNames.all(),
  };
}
