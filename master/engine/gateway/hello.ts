/**
 * Accepting an agent:hello: token and environment checks, the agents row (upsert by environment + name),
 * and resume of the stage runs the agent reports as running.
 *
 * Resume: a reported stage run still running, leased to this agent with the same epoch, continues (fresh
 * lease, storedSeq = stage_runs.last_seq so the agent replays what follows); if its build is being stopped
 * the agent also gets master:cancel. Anything else is answered 'abort'. Stage runs this agent holds but
 * did not report are lost work (the agent restarted): they go through the lost/retry path at once, except
 * those with nothing stored, whose assignment never reached the agent: they are queued again (same attempt).
 */
import { agentsStore } from '../../store/agents';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';
import { acceptsProtocolVersion, CloseCode, MIN_AGENT_PROTOCOL_VERSION, PROTOCOL_VERSION, type AgentHello, type MasterAccepted } from '../../../shared/protocol/messages';
import { Effects, type EngineCore } from '../core';
import { finishStage, stopKind } from '../builds/transitions';
import { requeueUnstarted } from '../leases/refusal';

export type HelloResult =
  | { ok: true; agentId: number; environmentId: number; tokenId: number }
  | { ok: false; code: number; reason: string };

/** Why an agent of protocol version `v` is refused; names the versions accepted and the way out. */
export function protocolRefusal(v: number): string {
  const from = MIN_AGENT_PROTOCOL_VERSION === PROTOCOL_VERSION ? '' : ` and accepts agents from ${MIN_AGENT_PROTOCOL_VERSION}`;
  return `protocol version ${v} not supported; master speaks ${PROTOCOL_VERSION}${from}: install the master's agent (GET /agent/install.sh)`;
}

/** Checks version, token and environment; on success upserts the agents row (state 'connected'). */
export function admitAgent(core: EngineCore, hello: Pick<AgentHello, 'protocolVersion' | 'token' | 'name' | 'environment' | 'labels' | 'capacity' | 'executors' | 'version'>): HelloResult {
  if (!acceptsProtocolVersion(hello.protocolVersion)) {
    return { ok: false, code: CloseCode.ProtocolVersion, reason: protocolRefusal(hello.protocolVersion) };
  }
  const tok = core.ctx.authenticateAgent(hello.token);
  if (!tok) return { ok: false, code: CloseCode.BadToken, reason: 'agent token unknown or revoked' };
  if (tok.environment !== hello.environment) {
    return { ok: false, code: CloseCode.EnvironmentMismatch, reason: `token is bound to environment '${tok.environment}', not '${hello.environment}'` };
  }
  const now = Date.now();
  const agentId = agentsStore(core.db).admit(
    { name: hello.name, environmentId: tok.environmentId, tokenId: tok.tokenId, labels: hello.labels, capacity: hello.capacity, executors: hello.executors, version: hello.version ?? null },
    now,
  );
  return { ok: true, agentId, environmentId: tok.environmentId, tokenId: tok.tokenId };
}

/**
 * Works out master:accepted.resume for the hello's running list and records lost work. The returned
 * effects (cancels of stopping builds, status messages) must be applied AFTER master:accepted was sent.
 */
export function resumeAgent(core: EngineCore, agentId: number, running: AgentHello['running']): { resume: MasterAccepted['resume']; fx: Effects } {
  const { db, ctx } = core;
  const fx = new Effects();
  const resume: MasterAccepted['resume'] = [];
  const builds = buildsStore(db);
  inTransaction(db, () => {
    const now = Date.now();
    const reported = new Set<number>();
    for (const r of running) {
      reported.add(r.stageRunId);
      const run = builds.stageRunWithBuild(r.stageRunId);
      const ours = run && run.status === 'running' && run.agent_id === agentId && run.lease_epoch === r.epoch;
      if (!ours) {
        resume.push({ stageRunId: r.stageRunId, epoch: r.epoch, storedSeq: run?.last_seq ?? 0, action: 'abort' });
        continue;
      }
      builds.extendLease(run.id, now + ctx.config.leaseTtlMs);
      resume.push({ stageRunId: run.id, epoch: run.lease_epoch, storedSeq: run.last_seq, action: 'continue' });
      if (stopKind({ status: run.build_status, stop_requested: run.stop_requested })) {
        fx.cancels.push({ agentId, stageRunId: run.id, epoch: run.lease_epoch, reason: run.build_error ?? 'cancelled' });
      }
    }
    const held = builds.runningOfAgent(agentId);
    for (const run of held) {
      if (reported.has(run.id)) continue;
      // Nothing stored and the agent does not have it: the assignment never reached it (lost with the
      // old connection). That is no attempt: queue it again.
      if (requeueUnstarted(core, fx, run.id, agentId, run.lease_epoch)) {
        ctx.log.warn({ agentId, stageRunId: run.id }, 'agent reconnected without a stage run it never started: queued again');
        continue;
      }
      ctx.log.warn({ agentId, stageRunId: run.id }, 'agent reconnected without a stage run it held: lost');
      finishStage(core, fx, run, 'lost', 'agent restarted and lost the stage', now);
    }
  });
  return { resume, fx };
}
