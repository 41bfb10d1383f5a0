/**
 * Approval gates: a stage whose job declares `approval:`, or whose environment is protected, is not queued when
 * its turn comes. Its run goes to status 'waiting' (and the build with it) behind an open gate (store/approvals.ts)
 * until an approver approves (the run is queued, the build goes on), rejects it or the gate's timeout expires
 * (the build fails, saying so). Every way a stage gets queued for the first time (a new build, the next stage,
 * a fork build approved, a re-run, a rollback) goes through queueOrGate, so no route can deploy around a gate;
 * a retry of a lost attempt does not wait again (the stage was approved).
 *
 * Who may decide: an instance admin, or a caller who satisfies every rule of the stage: the stage's own (a member
 * of one of its teams with at least its role) and, in a protected environment, the environment's (a member of
 * one of its teams, developer or higher). The rules are read when the decision is made: the build's config
 * snapshot never changes, and an environment's protection is applied as it is now.
 *
 * Like transitions.ts, the functions taking `fx` run inside the caller's transaction.
 */
import type { Role } from '../../../shared/api';
import { conflict } from '../../../shared/errors';
import { DEFAULT_APPROVAL_TIMEOUT_MS, type StageConfig } from '../../../shared/job';
import type { Principal } from '../../context';
import { approvalsStore, type ApprovalRow } from '../../store/approvals';
import type { Db } from '../../store/db';
import { buildsStore } from '../../store/builds';
import { findEnvironment } from '../../store/environments';
import { findTeam } from '../../store/teams';
import type { EngineCore, Effects } from '../core';
import { finalizeBuild } from './transitions';

const RANK: Record<Role, number> = { viewer: 0, developer: 1, maintainer: 2 };

/** One condition an approver must meet: a member of one of `teams` with at least `minRole`. */
export interface GateRule {
  teams: string[];
  minRole: Role;
  /** Where the rule comes from: the stage's `approval:` or its protected environment. */
  source: 'stage' | 'environment';
}

export interface Gate {
  rules: GateRule[];
  timeoutMs: number;
  environment: string;
}

/** The gate before `stage`, or null when it needs none. */
export function gateOf(db: Db, stage: StageConfig): Gate | null {
  const rules: GateRule[] = [];
  if (stage.approval) rules.push({ teams: stage.approval.teams, minRole: stage.approval.minRole, source: 'stage' });
  const env = findEnvironment(db, stage.environment);
  if (env?.protected) rules.push({ teams: env.teams, minRole: 'developer', source: 'environment' });
  if (!rules.length) return null;
  return { rules, timeoutMs: stage.approval?.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS, environment: stage.environment };
}

/** Who may decide, in words: "a member of shop-leads (developer or higher) and ..., or an instance admin". */
export function describeGate(g: Gate): string {
  const parts = g.rules.map((r) => {
    const who = r.teams.length ? `a member of ${r.teams.join(' or ')} (${r.minRole} or higher)` : null;
    if (r.source === 'environment') {
      return who ? `${who}, as environment '${g.environment}' is protected` : `nobody but an admin, as protected environment '${g.environment}' names no approver teams`;
    }
    return who!;
  });
  return `${parts.join(' and ')}, or an instance admin`;
}

/** Whether `p` may approve or reject behind gate `g`. */
export function mayDecide(core: EngineCore, p: Principal, g: Gate): boolean {
  if (p.isAdmin) return true;
  return g.rules.every((rule) =>
    rule.teams.some((name) => {
      const team = findTeam(core.db, name);
      const role = team ? core.ctx.access.roleIn(p, team.id) : null;
      return role !== null && RANK[role] >= RANK[rule.minRole];
    }),
  );
}

/**
 * Whether `p` may decide an open gate of the build: such an approver may read the build's detail (what they are
 * asked to approve) even outside the job's team.
 */
export function approverOfOpenGate(core: EngineCore, p: Principal, buildId: number): boolean {
  const config = core.buildConfig(buildId);
  return approvalsStore(core.db)
    .forBuild(buildId)
    .some((a) => {
      if (a.status !== 'waiting') return false;
      const stage = config.stages.find((s) => s.name === a.stage);
      const gate = stage ? gateOf(core.db, stage) : null;
      return gate !== null && mayDecide(core, p, gate);
    });
}

/**
 * A stage run whose turn came: queued, or 'waiting' behind a gate (the build 'waiting' too). Returns the
 * status it got.
 */
export function queueOrGate(core: EngineCore, fx: Effects, buildId: number, run: { id: number; name: string; stage_index: number }, now: number): 'queued' | 'waiting' {
  const db = core.db;
  const stage = core.buildConfig(buildId).stages[run.stage_index];
  const gate = stage ? gateOf(db, stage) : null;
  const builds = buildsStore(db);
  const buildStatus = () => builds.buildStatus(buildId) ?? 'queued';
  if (!gate) {
    builds.queueRun(run.id, now);
    fx.status.push({ type: 'stream:status', buildId, status: buildStatus(), stageRunId: run.id, stage: run.name, stageStatus: 'queued' });
    fx.dispatch = true;
    return 'queued';
  }
  builds.waitRun(run.id);
  builds.setBuildWaiting(buildId);
  approvalsStore(db).open(
    { buildId, stageRunId: run.id, stageIndex: run.stage_index, stage: run.name, environment: gate.environment, required: describeGate(gate), expiresAt: now + gate.timeoutMs },
    now,
  );
  fx.status.push({ type: 'stream:status', buildId, status: 'waiting', stageRunId: run.id, stage: run.name, stageStatus: 'waiting' });
  return 'waiting';
}

/**
 * Approves the open gate: the stage run is queued and the build resumes ('queued' when nothing ran yet, else
 * 'running', its deadline moved by the time it waited). Conflict when the gate is no longer open.
 */
export function approveGate(core: EngineCore, fx: Effects, gate: ApprovalRow, by: string, comment: string | null, now: number): void {
  const db = core.db;
  if (!approvalsStore(db).decide(gate.id, 'approved', by, comment, now)) throw conflict(`stage '${gate.stage}' of build ${gate.build_id} is no longer waiting for approval`);
  const builds = buildsStore(db);
  builds.queueApprovedRun(gate.stage_run_id, now);
  const status = builds.buildStartedAt(gate.build_id) == null ? 'queued' : 'running';
  // The build's timeout counts working time: the wait for a person does not use it up.
  builds.resumeBuild(gate.build_id, status, now - gate.created_at);
  fx.status.push({ type: 'stream:status', buildId: gate.build_id, status, stageRunId: gate.stage_run_id, stage: gate.stage, stageStatus: 'queued' });
  fx.dispatch = true;
}

/** Closes the open gate as rejected or expired: the stage run fails with `error`, and the build with it. */
export function failGate(core: EngineCore, fx: Effects, gate: ApprovalRow, status: 'rejected' | 'expired', by: string | null, comment: string | null, error: string, now: number): void {
  const reason = status === 'rejected' ? 'gate_rejected' : 'gate_expired';
  const db = core.db;
  if (!approvalsStore(db).decide(gate.id, status, by, comment, now)) throw conflict(`stage '${gate.stage}' of build ${gate.build_id} is no longer waiting for approval`);
  buildsStore(db).failWaitingRun(gate.stage_run_id, reason, error, now);
  fx.status.push({ type: 'stream:status', buildId: gate.build_id, status: 'waiting', stageRunId: gate.stage_run_id, stage: gate.stage, stageStatus: 'failed' });
  finalizeBuild(db, fx, gate.build_id, 'failed', reason, error, now);
}

/** Fails every build whose gate timed out (the sweeper calls it each second, inside its transaction). */
export function expireGates(core: EngineCore, fx: Effects, now: number): void {
  for (const g of approvalsStore(core.db).expired(now)) {
    const waited = formatWait(now - g.created_at);
    failGate(core, fx, g, 'expired', null, null, `stage '${g.stage}': approval expired after ${waited}; nobody approved it (it needed ${g.required})`, now);
  }
}

function formatWait(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
