/**
 * The dispatch pass: reads the queue and the connected agents' free slots, plans with planDispatch,
 * leases every placement in one transaction (status running, lease epoch + 1, lease expiry, build
 * running with its deadline) and sends master:assign after the commit. Event-driven: the engine requests
 * a pass on trigger, agent hello, stage finish, capacity or drain changes, a refusal, a busy count that
 * drops, and the first frame of an agent that was in doubt (core.requestDispatch).
 */
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';
import type { StageConfig } from '../../../shared/job';
import type { AgentSession, EngineCore } from '../core';
import { Effects } from '../core';
import { livenessOf } from '../leases/liveness';
import { buildAssign } from './assign-message';
import { finishStage } from '../builds/transitions';
import { formatIssue } from '../../../shared/errors';
import { imagePushIssues } from '../../jobs/push-grants';
import { deployLocks, heldDeployLocks, lockWait } from './deploy-locks';
import { planDispatch, type AgentSlots, type QueuedRun } from './plan';

export interface Dispatcher {
  /** One pass; returns the number of stage runs assigned. */
  dispatch(): number;
}

export function createDispatcher(core: EngineCore): Dispatcher {
  const { db, ctx } = core;
  const lastServed = new Map<number, number>();
  let ticks = 0;
  const builds = buildsStore(db);

  /** stage run id -> the agents that refused it as 'unknown-kind'. */
  function refusals(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const s of core.sessions.values()) {
      for (const id of s.refused) {
        const list = out.get(id);
        if (list) list.push(s.agentId);
        else out.set(id, [s.agentId]);
      }
    }
    return out;
  }

  return {
    dispatch() {
      const agents = freeSlots();
      if (!agents.length) return 0;
      const refusedBy = refusals();
      const locks = queueLocks(core, builds.queuedRuns());
      const queue: QueuedRun[] = builds.queuedRuns().map((r) => ({
        ...queuedRun(core, r),
        ...(refusedBy.has(r.id) ? { avoid: refusedBy.get(r.id) } : {}),
        ...(locks.has(r.id) ? { blocked: locks.get(r.id) } : {}),
      }));
      const plan = planDispatch(queue, agents, lastServed, () => ++ticks);
      if (!plan.length) return 0;
      const fx = new Effects();
      const leased: { stageRunId: number; agentId: number }[] = [];
      inTransaction(db, () => {
        const now = Date.now();
        for (const p of plan) {
          const row = builds.lease(p.stageRunId, p.agentId, now + ctx.config.leaseTtlMs, now);
          if (!row) continue;
          const timeoutMs = core.buildConfig(row.build_id).timeoutMs;
          builds.startBuild(row.build_id, now, timeoutMs ? now + timeoutMs : null);
          const refusal = pushRefusal(core, p.stageRunId);
          if (refusal) {
            // Grants changed since the job was saved: the stage fails here and its agent never gets the assign.
            const run = builds.stageRunWithBuild(p.stageRunId);
            if (run) finishStage(core, fx, run, 'failed', refusal, now);
            continue;
          }
          leased.push(p);
          fx.status.push({ type: 'stream:status', buildId: row.build_id, status: 'running', stageRunId: p.stageRunId, stage: row.name, stageStatus: 'running' });
        }
      });
      for (const p of leased) {
        const msg = buildAssign(core, p.stageRunId);
        // A session gone between plan and send: the lease expires and the sweeper applies the retry policy.
        if (msg) core.sessions.get(p.agentId)?.send(msg);
      }
      core.apply(fx);
      return leased.length;
    },
  };

  /**
   * Agents that may take work now: live (not in doubt, not lost), not draining, with free slots counted
   * as the agent counts them: its running leases, or the busy slots it reported if more (an aborted run
   * holds its slot until its process group is gone).
   */
  function freeSlots(): AgentSlots[] {
    const running = new Map(builds.runningPerAgent().map((r) => [r.agent_id, r.n]));
    const now = Date.now();
    const out: AgentSlots[] = [];
    for (const s of core.sessions.values()) {
      if (s.draining || livenessOf(s, now, ctx.config) !== 'live') continue;
      const free = s.capacity - Math.max(running.get(s.agentId) ?? 0, s.busy);
      if (free > 0) out.push({ ...agentOffer(s), free });
    }
    return out;
  }
}

/**
 * Why a leased stage run may not run: an image step would push outside the repository prefixes of its team's
 * registry grants as they are now (jobs/push-grants.ts); undefined when it may.
 */
export function pushRefusal(core: EngineCore, stageRunId: number): string | undefined {
  const builds = buildsStore(core.db);
  const r = builds.assignRun(stageRunId);
  if (!r) return undefined;
  const config = core.buildConfig(r.build_id);
  if (!config.stages[r.stage_index]?.kinds.includes('image')) return undefined;
  const yaml = builds.buildYaml(r.build_id) ?? '';
  const file = core.ctx.jobs.byId(r.job_id)?.filePath ?? 'job.yml';
  const issues = imagePushIssues(config, yaml, file, core.ctx.registries.pushGrants(r.team_id), [r.stage_index]);
  return issues.length ? issues.map(formatIssue).join('\n') : undefined;
}

/**
 * Queued stage runs that must wait for a deploy lock (scheduler/deploy-locks.ts), with the reason: the lock is
 * held by a running stage, or an older queued stage needs it too. `queue` is in FIFO order.
 */
export function queueLocks(core: EngineCore, queue: { id: number; build_id: number; stage_index: number }[]): Map<number, string> {
  const out = new Map<number, string>();
  let held: Map<string, string> | undefined;
  const earlier = new Map<string, string>();
  for (const r of queue) {
    let locks: string[];
    try {
      locks = deployLocks(core.buildConfig(r.build_id), r.stage_index);
    } catch {
      continue;
    }
    if (!locks.length) continue;
    held ??= heldDeployLocks(core);
    const why = lockWait(locks, held, earlier);
    if (why) out.set(r.id, why);
    const build = core.buildConfig(r.build_id);
    for (const l of locks) if (!earlier.has(l)) earlier.set(l, `a stage of ${build.name} (stage run ${r.id})`);
  }
  return out;
}

/** A queued stage run as planDispatch sees it: the kinds and capabilities come from the build's config snapshot. */
export function queuedRun(core: EngineCore, r: { id: number; job_id: number; build_id: number; stage_index: number; environment: string; labels: string; queued_at: number }): QueuedRun {
  let stage: StageConfig | undefined;
  try {
    stage = core.buildConfig(r.build_id).stages[r.stage_index];
  } catch (err) {
    // A snapshot a newer schema refuses must not stop the pass for every other build: matched on env and labels.
    core.ctx.log.warn({ buildId: r.build_id, err: (err as Error).message }, 'build config snapshot does not parse; kinds and capabilities unknown');
  }
  return {
    id: r.id,
    jobId: r.job_id,
    environment: r.environment,
    labels: JSON.parse(r.labels) as string[],
    kinds: stage?.kinds,
    scanners: stage?.scanners,
    reportFormats: stage?.reportFormats,
    capabilities: stage?.capabilities,
    queuedAt: r.queued_at,
  };
}

/** What an agent session offers the planner. */
export function agentOffer(s: AgentSession): Omit<AgentSlots, 'free'> {
  return {
    agentId: s.agentId,
    environment: s.environment,
    labels: s.labels,
    kinds: s.executors.filter((e) => !e.scanner).map((e) => e.kind),
    scanners: s.executors.filter((e) => e.scanner).map((e) => e.kind),
    reportFormats: s.reportFormats,
    capabilities: s.capabilities,
  };
}
