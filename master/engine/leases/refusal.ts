/**
 * agent:refused: the agent turned down a master:assign before running anything of it (at capacity, a step
 * kind it lacks, draining). A refusal is not a result: the stage run goes back to the queue with the same
 * attempt and its place in the queue (queued_at unchanged), and the next dispatch pass offers it again,
 * to another agent when this one cannot take it:
 *  - 'capacity'     the agent counts as full: no slot is offered until a heartbeat says one freed up
 *                   (no assign/refuse ping-pong with a full agent);
 *  - 'draining'     the agent is marked draining, as agent:state would;
 *  - 'unknown-kind' this stage run is never offered to this agent again (for this connection).
 * A refusal of a lease the agent no longer holds (another epoch, already finished, or records already
 * stored) is stale and ignored.
 */
import type { AgentRefused } from '../../../shared/protocol/messages';
import { Effects, type AgentSession, type EngineCore } from '../core';
import { agentsStore } from '../../store/agents';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';

export function handleRefusal(core: EngineCore, session: AgentSession, msg: AgentRefused): void {
  const { db, ctx } = core;
  // Full as far as the agent is concerned, whatever count it sent, until a heartbeat says a slot freed:
  // otherwise an agent that disagrees with its own count would be offered the stage again at once, forever.
  session.busy = msg.reason === 'capacity' ? Math.max(msg.busy, session.capacity) : msg.busy;
  if (msg.reason === 'draining' && !session.draining) {
    session.draining = true;
    agentsStore(db).setState(session.agentId, 'draining');
  }
  if (msg.reason === 'unknown-kind') session.refused.add(msg.stageRunId);
  const fx = new Effects();
  const requeued = inTransaction(db, () => requeueUnstarted(core, fx, msg.stageRunId, session.agentId, msg.epoch));
  if (requeued) ctx.log.info({ agent: session.name, stageRunId: msg.stageRunId, reason: msg.reason }, `agent refused the stage run (${msg.message}): queued again`);
  else ctx.log.warn({ agent: session.name, stageRunId: msg.stageRunId, epoch: msg.epoch }, 'stale refusal of a lease the agent does not hold: ignored');
  core.apply(fx);
}

/**
 * Puts a stage run leased to `agentId` with `epoch` back in the queue when nothing of it was stored yet
 * (the agent refused it, or never got it): same attempt, same place in the queue. Runs inside the
 * caller's transaction; false when the run is not in that state (then nothing changes).
 */
export function requeueUnstarted(core: EngineCore, fx: Effects, stageRunId: number, agentId: number, epoch: number): boolean {
  const { db } = core;
  const builds = buildsStore(db);
  const row = builds.requeueUnstarted(stageRunId, agentId, epoch);
  if (!row) return false;
  fx.status.push({ type: 'stream:status', buildId: row.build_id, status: builds.buildStatus(row.build_id) ?? 'running', stageRunId, stage: row.name, stageStatus: 'queued' });
  fx.dispatch = true;
  return true;
}
