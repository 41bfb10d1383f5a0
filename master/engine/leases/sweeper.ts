/**
 * The sweeper (every second) keeps the engine honest about time, by the one liveness rule of liveness.ts:
 *  - agents silent for the lease TTL (or agentLostAfterMs if shorter) are marked 'lost' and their socket
 *    is dropped;
 *  - stage runs whose lease expired become 'lost' and go through the retry policy (new attempt or build
 *    failed 'agent lost'); a stopping build takes its stop status instead. The agent that held the lease
 *    is declared lost in the same pass, so the retry is never offered to it while it is frozen;
 *  - running builds past deadline_at are stopped with status 'timeout' (master:cancel to the agent);
 *  - builds waiting at an approval gate past its timeout fail, saying nobody approved;
 *  - a stop the agent does not confirm within cancelGraceMs + leaseTtlMs is finished by the master,
 *    so no build is ever left running.
 */
import { Effects, type AgentSession, type EngineCore } from '../core';
import { livenessOf } from './liveness';
import { expireGates } from '../builds/gates';
import { finalizeBuild, finishStage, requestStop, stopKind, timeoutReason } from '../builds/transitions';
import { agentsStore } from '../../store/agents';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';

export interface Sweeper {
  sweep(now?: number): void;
  stop(): void;
}

export function startSweeper(core: EngineCore, intervalMs = 1000): Sweeper {
  const { db, ctx } = core;
  /** buildId -> when the master first saw it stopping (in memory: a restart restarts the grace). */
  const stoppingSince = new Map<number, number>();
  const builds = buildsStore(db);

  /** Marks the agent lost and drops its socket: it must say hello again before it gets any work. */
  function declareLost(s: AgentSession, why: string): void {
    s.lost = true;
    agentsStore(db).setState(s.agentId, 'lost');
    ctx.log.warn({ agent: s.name }, `agent lost: ${why}`);
    s.close(4000, why);
  }

  function sweep(now = Date.now()): void {
    for (const s of core.sessions.values()) {
      if (!s.lost && livenessOf(s, now, ctx.config) === 'lost') declareLost(s, `no frame for ${seconds(now - s.lastFrameAt)}`);
    }
    const fx = new Effects();
    const ttl = seconds(ctx.config.leaseTtlMs);
    /** Agents whose lease expired: declared lost once the transaction committed (a side effect). */
    const lapsed = new Map<AgentSession, string>();
    inTransaction(db, () => {
      for (const run of builds.expiredLeases(now)) {
        // A stage of a stopping build ends with the stop's status: it was going to be killed anyway.
        const stop = stopKind({ status: run.build_status, stop_requested: run.stop_requested });
        ctx.log.warn({ stageRunId: run.id, agentId: run.agent_id }, `lease expired: stage run ${stop ?? 'lost'}`);
        const session = run.agent_id === null ? undefined : core.sessions.get(run.agent_id);
        if (session && !session.lost) lapsed.set(session, `its lease on stage run ${run.id} expired (no heartbeat for ${ttl})`);
        const agent = run.agent_name === null ? 'its agent' : `'${run.agent_name}'`;
        finishStage(core, fx, run, stop ?? 'lost', stop ? run.build_error : `agent lost: ${agent} sent no heartbeat for ${ttl}, its lease expired`, now);
      }
      // Approval gates whose timeout ran out fail their build (builds/gates.ts).
      expireGates(core, fx, now);
      for (const b of builds.overdueBuilds(now)) {
        requestStop(db, fx, b.id, 'timeout', timeoutReason(b.deadline_at - b.started_at), now);
      }
      const live = new Set<number>();
      for (const b of builds.stoppingBuilds()) {
        live.add(b.id);
        const since = stoppingSince.get(b.id) ?? now;
        stoppingSince.set(b.id, since);
        if (now - since < ctx.config.cancelGraceMs + ctx.config.leaseTtlMs) continue;
        const kind = stopKind(b) ?? 'cancelled';
        const runs = builds.runningOfBuild(b.id);
        // finishStage sees the stop request and finalizes the build with the stop's status.
        for (const run of runs) finishStage(core, fx, run, kind, 'the agent did not confirm the stop', now);
        if (!runs.length) finalizeBuild(db, fx, b.id, kind, kind, b.error, now);
      }
      for (const id of stoppingSince.keys()) if (!live.has(id)) stoppingSince.delete(id);
    });
    // Before the effects: the dispatch pass they request must not offer the retry to the lapsed agent.
    for (const [session, why] of lapsed) if (!session.lost) declareLost(session, why);
    core.apply(fx);
  }

  const timer = setInterval(() => {
    try {
      sweep();
    } catch (err) {
      ctx.log.error({ err }, 'sweeper pass failed');
    }
  }, intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}

/** 30000 -> "30 s", 2500 -> "2.5 s". */
function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
