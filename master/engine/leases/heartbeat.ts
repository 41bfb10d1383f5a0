/**
 * agent:heartbeat: extends every lease the agent still holds by leaseTtlMs from now. A lease the master
 * does not grant (expired, re-queued, another epoch, finished) is answered by master:cancel so the agent
 * stops that work; a lease of a build being stopped gets its master:cancel again (the first may have been
 * lost with a connection). `busy` (the agent's slots in use) is kept on the session for the dispatcher;
 * when it drops (an aborted run's process group is gone), a dispatch pass looks at the freed slot.
 */
import type { AgentSession, EngineCore } from '../core';
import { agentsStore } from '../../store/agents';

export function handleHeartbeat(core: EngineCore, session: AgentSession, leases: { stageRunId: number; epoch: number }[], busy?: number): void {
  const { db, ctx } = core;
  if (busy !== undefined) {
    const freed = busy < session.busy;
    session.busy = busy;
    if (freed) core.requestDispatch();
  }
  const now = Date.now();
  const q = db.prepare<[number], { status: string; agent_id: number | null; lease_epoch: number; build_status: string; build_error: string | null; stop_requested: string | null }>(
    `SELECT sr.status, sr.agent_id, sr.lease_epoch, b.status AS build_status, b.error AS build_error, b.stop_requested
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id WHERE sr.id = ?`,
  );
  const extend = db.prepare('UPDATE stage_runs SET lease_expires_at = ? WHERE id = ?');
  const cancels: { stageRunId: number; epoch: number; reason: string }[] = [];
  db.transaction(() => {
    agentsStore(db).setLastSeen(session.agentId, now);
    for (const l of leases) {
      const r = q.get(l.stageRunId);
      if (!r || r.status !== 'running' || r.agent_id !== session.agentId || r.lease_epoch !== l.epoch) {
        cancels.push({ ...l, reason: 'lease not granted: the stage run is no longer yours' });
        continue;
      }
      extend.run(now + ctx.config.leaseTtlMs, l.stageRunId);
      if (r.build_status === 'running' && r.stop_requested !== null) cancels.push({ ...l, reason: r.build_error ?? r.stop_requested });
    }
  })();
  for (const c of cancels) {
    session.send({ type: 'master:cancel', stageRunId: c.stageRunId, epoch: c.epoch, reason: c.reason, graceMs: ctx.config.cancelGraceMs });
  }
}
