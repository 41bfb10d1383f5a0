/**
 * agent:heartbeat: extends every lease the agent still holds by leaseTtlMs from now. A lease the master
 * does not grant (expired, re-queued, another epoch, finished) is answered by master:cancel so the agent
 * stops that work; a lease of a build being stopped gets its master:cancel again (the first may have been
 * lost with a connection). `busy` (the agent's slots in use) is kept on the session for the dispatcher;
 * when it drops (an aborted run's process group is gone), a dispatch pass looks at the freed slot.
 */
import type { AgentSession, EngineCore } from '../core';
import { agentsStore } from '../../store/agents';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';

export function handleHeartbeat(core: EngineCore, session: AgentSession, leases: { stageRunId: number; epoch: number }[], busy?: number): void {
  const { db, ctx } = core;
  if (busy !== undefined) {
    const freed = busy < session.busy;
    session.busy = busy;
    if (freed) core.requestDispatch();
  }
  const now = Date.now();
  const builds = buildsStore(db);
  const cancels: { stageRunId: number; epoch: number; reason: string }[] = [];
  inTransaction(db, () => {
    agentsStore(db).setLastSeen(session.agentId, now);
    for (const l of leases) {
      const r = builds.stageRunWithBuild(l.stageRunId);
      if (!r || r.status !== 'running' || r.agent_id !== session.agentId || r.lease_epoch !== l.epoch) {
        cancels.push({ ...l, reason: 'lease not granted: the stage run is no longer yours' });
        continue;
      }
      builds.extendLease(l.stageRunId, now + ctx.config.leaseTtlMs);
      if (r.build_status === 'running' && r.stop_requested !== null) cancels.push({ ...l, reason: r.build_error ?? r.stop_requested });
    }
  });
  for (const c of cancels) {
    session.send({ type: 'master:cancel', stageRunId: c.stageRunId, epoch: c.epoch, reason: c.reason, graceMs: ctx.config.cancelGraceMs });
  }
}
