/**
 * Notification deliveries (table notification_deliveries): one row per build event and channel, created once
 * (a repeated event is a no-op), tried until delivered or the attempts run out. All SQL on it lives here,
 * with the reads the notifier needs about a build.
 */
import type { NotificationInfo } from '../../shared/api';
import type { Db } from './db';

export interface NewDelivery {
  buildId: number;
  event: NotificationInfo['event'];
  kind: NotificationInfo['kind'];
  /** JSON of the channel as the job file says it (secret names only). */
  channel: string;
  target: string;
  payload: string;
}

export interface DueDelivery extends NewDelivery {
  id: number;
  attempts: number;
  teamId: number;
}

export interface BuildFacts {
  id: number;
  number: number;
  job: string;
  teamId: number;
  status: string;
  branch: string | null;
  sha: string | null;
  commitInfo: string | null;
  trigger: string;
  createdAt: number;
  finishedAt: number | null;
}

export interface NotificationsStore {
  /** Adds the delivery unless this build already has it for this event and channel; true when added. */
  add(d: NewDelivery, now: number): boolean;
  due(now: number, limit: number): DueDelivery[];
  delivered(id: number, now: number): void;
  /** A failed attempt: retried at `nextAt`, or failed for good when nextAt is null. */
  attemptFailed(id: number, error: string, nextAt: number | null): void;
  forBuild(buildId: number): NotificationInfo[];
  build(buildId: number): BuildFacts | undefined;
  /** Status of the latest finished earlier build of the job and branch (for "fixed"). */
  previousFinishedStatus(buildId: number): string | undefined;
  /** Names of the failed or errored steps of the build (what a failure notification lists). */
  failedSteps(buildId: number): string[];
  /** A team's own channels (JSON as in a job's notify entry), by name. */
  teamChannels(teamId: number): { name: string; channel: string; updatedAt: number }[];
  setTeamChannel(teamId: number, name: string, channel: string, now: number): void;
  /** False when the team has no channel of that name. */
  removeTeamChannel(teamId: number, name: string): boolean;
}

export function createNotificationsStore(db: Db): NotificationsStore {
  const insert = db.prepare(
    `INSERT INTO notification_deliveries (build_id, event, kind, channel, target, payload, status, next_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (build_id, event, channel) DO NOTHING`,
  );
  const due = db.prepare<[number, number], DueDelivery>(
    `SELECT d.id, d.build_id AS buildId, d.event, d.kind, d.channel, d.target, d.payload, d.attempts, j.team_id AS teamId
       FROM notification_deliveries d JOIN builds b ON b.id = d.build_id JOIN jobs j ON j.id = b.job_id
      WHERE d.status = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?`,
  );
  const ok = db.prepare("UPDATE notification_deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL, delivered_at = ? WHERE id = ?");
  const failed = db.prepare(
    "UPDATE notification_deliveries SET attempts = attempts + 1, last_error = ?, status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END, next_at = COALESCE(?, next_at) WHERE id = ?",
  );
  const ofBuild = db.prepare<[number], NotificationInfo>(
    `SELECT id, event, kind, target, status, attempts, last_error AS lastError, CASE WHEN status = 'pending' THEN next_at END AS nextAt,
            created_at AS createdAt, delivered_at AS deliveredAt
       FROM notification_deliveries WHERE build_id = ? ORDER BY id`,
  );
  const build = db.prepare<[number], BuildFacts>(
    `SELECT b.id, b.number, j.name AS job, j.team_id AS teamId, b.status, b.branch, b.commit_sha AS sha, b.commit_info AS commitInfo,
            b.trigger, b.created_at AS createdAt, b.finished_at AS finishedAt
       FROM builds b JOIN jobs j ON j.id = b.job_id WHERE b.id = ?`,
  );
  const previous = db.prepare<[number], string>(
    `SELECT p.status FROM builds b JOIN builds p ON p.job_id = b.job_id AND p.branch IS b.branch AND p.id < b.id
      WHERE b.id = ? AND p.status IN ('success', 'failed', 'timeout') ORDER BY p.id DESC LIMIT 1`,
  );
  const failedSteps = db.prepare<[number], string>(
    `SELECT sr.name || ' / ' || s.name FROM step_runs s JOIN stage_runs sr ON sr.id = s.stage_run_id
      WHERE sr.build_id = ? AND s.status IN ('failed', 'error', 'timeout') ORDER BY sr.stage_index, s.step_index`,
  );
  const teamChannels = db.prepare<[number], { name: string; channel: string; updatedAt: number }>(
    'SELECT name, channel, updated_at AS updatedAt FROM team_notifiers WHERE team_id = ? ORDER BY name',
  );
  const setTeamChannel = db.prepare(
    'INSERT INTO team_notifiers (team_id, name, channel, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (team_id, name) DO UPDATE SET channel = excluded.channel, updated_at = excluded.updated_at',
  );
  const removeTeamChannel = db.prepare('DELETE FROM team_notifiers WHERE team_id = ? AND name = ?');
  return {
    teamChannels: (teamId) => teamChannels.all(teamId),
    setTeamChannel: (teamId, name, channel, now) => void setTeamChannel.run(teamId, name, channel, now),
    removeTeamChannel: (teamId, name) => removeTeamChannel.run(teamId, name).changes > 0,
    add: (d, now) => insert.run(d.buildId, d.event, d.kind, d.channel, d.target, d.payload, now, now).changes > 0,
    due: (now, limit) => due.all(now, limit),
    delivered: (id, now) => void ok.run(now, id),
    attemptFailed: (id, error, nextAt) => void failed.run(error.slice(0, 1000), nextAt, nextAt, id),
    forBuild: (buildId) => ofBuild.all(buildId),
    build: (buildId) => build.get(buildId),
    previousFinishedStatus: (buildId) => previous.pluck().get(buildId) as string | undefined,
    failedSteps: (buildId) => failedSteps.pluck().all(buildId) as string[],
  };
}
