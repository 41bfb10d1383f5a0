/**
 * Records of stage runs (binary log chunks and agent:step-started / step-finished / stage-finished) in the
 * one seq order per stage run (see shared/protocol/messages.ts).
 *
 * Records arriving in the same event-loop turn are checked together, then written in two transactions: the
 * log chunks (logs.storeChunks, in the logs database), then step and stage updates with stage_runs.last_seq /
 * log_bytes (the control tables); only after both commits does the master ack (cumulative, per stage run) and
 * publish to stream subscribers. The order makes a crash between the two harmless (see store/db.ts).
 *
 * Per record: it must come from the agent holding the lease with the same epoch, else master:error
 * 'lease_mismatch' (logged, never stored). seq <= last_seq is a duplicate of a replay: re-acked, ignored.
 * seq > last_seq + 1 is a gap: master:error 'sequence_gap' and the agent replays from its last ack.
 */
import { outputsProblem } from '../../../shared/job/outputs';
import type { StageRecord, StepFinished } from '../../../shared/protocol/messages';
import { approvalsStore } from '../../store/approvals';
import type { LogChunk } from '../../../shared/protocol/log-frame';
import { assertNever } from '../../../shared/protocol/messages';
import { Effects, type AgentSession, type EngineCore } from '../core';
import { finishStage, type StageRunRow } from '../builds/transitions';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';
import type { NewChunk } from '../../store/logs';

type Pending = { session: AgentSession; stageRunId: number; epoch: number; seq: number } & (
  | { kind: 'log'; chunk: LogChunk }
  | { kind: 'event'; msg: StageRecord }
);

interface RunState extends StageRunRow {
  log_bytes: number;
  dirty: boolean;
}

export interface RecordBatcher {
  addLog(session: AgentSession, chunk: LogChunk): void;
  addEvent(session: AgentSession, msg: StageRecord): void;
  /** Writes whatever is pending now (shutdown). */
  flush(): void;
}

export function createRecordBatcher(core: EngineCore): RecordBatcher {
  const { db, ctx, logs, hub } = core;
  let pending: Pending[] = [];
  let scheduled = false;
  const stageRuns = buildsStore(db);

  const add = (p: Pending) => {
    pending.push(p);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  function flush(): void {
    scheduled = false;
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    const fx = new Effects();
    const acks = new Map<string, { session: AgentSession; stageRunId: number; epoch: number; seq: number }>();
    const refused: { p: Pending; code: 'lease_mismatch' | 'sequence_gap'; message: string }[] = [];
    const published: { run: RunState; chunk: LogChunk }[] = [];
    const states = new Map<number, RunState | null>();
    /** The records that apply, in order; their chunks go to the logs database first (see below). */
    const accepted: { run: RunState; p: Pending }[] = [];
    const chunks: NewChunk[] = [];
    // Checking every record against its stage run needs only reads: the lease, the seq order and a stage
    // finished earlier in the same batch are tracked on the run's in-memory state.
    for (const p of batch) {
      let run = states.get(p.stageRunId);
      if (run === undefined) {
        const row = stageRuns.recordState(p.stageRunId);
        run = row ? { ...row, dirty: false } : null;
        states.set(p.stageRunId, run);
      }
      if (!run || run.agent_id !== p.session.agentId || run.lease_epoch !== p.epoch) {
        refused.push({ p, code: 'lease_mismatch', message: `stage run ${p.stageRunId} epoch ${p.epoch} is not leased to agent ${p.session.name}` });
        continue;
      }
      const ackKey = `${p.session.agentId}:${p.stageRunId}`;
      if (p.seq <= run.last_seq) {
        acks.set(ackKey, { session: p.session, stageRunId: run.id, epoch: p.epoch, seq: run.last_seq });
        continue;
      }
      if (run.status !== 'running') {
        refused.push({ p, code: 'lease_mismatch', message: `stage run ${p.stageRunId} is ${run.status}, not running` });
        continue;
      }
      if (p.seq !== run.last_seq + 1) {
        refused.push({ p, code: 'sequence_gap', message: `stage run ${p.stageRunId}: got seq ${p.seq}, expected ${run.last_seq + 1}` });
        continue;
      }
      accepted.push({ run, p });
      if (p.kind === 'log') {
        chunks.push({ stageRunId: run.id, seq: p.seq, offset: p.chunk.offset, data: p.chunk.data });
        run.log_bytes += p.chunk.data.length;
        published.push({ run, chunk: p.chunk });
      } else if (p.msg.type === 'agent:stage-finished') {
        run.status = p.msg.status;
      }
      run.last_seq = p.seq;
      run.dirty = true;
      acks.set(ackKey, { session: p.session, stageRunId: run.id, epoch: p.epoch, seq: run.last_seq });
    }
    try {
      // Chunks commit first, in the logs database; then the control transaction that moves last_seq past
      // them. A crash in between leaves chunks the agent replays (it got no ack): storeChunks ignores them.
      if (chunks.length) logs.storeChunks(chunks, Date.now());
      inTransaction(db, () => {
        const now = Date.now();
        for (const { run, p } of accepted) if (p.kind === 'event') apply(run, p.msg, now, fx);
        for (const run of states.values()) if (run?.dirty) stageRuns.saveProgress(run.id, run.last_seq, run.log_bytes);
      });
    } catch (err) {
      // Nothing was acknowledged: drop the connections so their agents reconnect and replay from the last ack.
      ctx.log.error({ err }, 'storing agent records failed');
      for (const p of batch) p.session.close(1011, 'master could not store records');
      return;
    }
    for (const a of acks.values()) a.session.send({ type: 'master:ack', stageRunId: a.stageRunId, epoch: a.epoch, seq: a.seq });
    const told = new Set<string>();
    for (const r of refused) {
      const key = `${r.p.session.agentId}:${r.p.stageRunId}:${r.code}`;
      if (told.has(key)) continue;
      told.add(key);
      ctx.log.warn({ agent: r.p.session.name, stageRunId: r.p.stageRunId, epoch: r.p.epoch, seq: r.p.seq, code: r.code }, r.message);
      r.p.session.send({ type: 'master:error', code: r.code, message: r.message, stageRunId: r.p.stageRunId });
    }
    for (const { run, chunk } of published) hub.publishLog(run.build_id, run.id, run.name, chunk.seq, chunk.offset, chunk.data);
    core.apply(fx);
  }

  function apply(run: RunState, m: StageRecord, now: number, fx: Effects): void {
    switch (m.type) {
      case 'agent:step-started': {
        // The agent's clock: when the step's process was spawned (the dispatch benchmark reads it).
        const step = stageRuns.stepStarted(run.id, m.stepIndex, Math.round(m.at));
        if (step) fx.status.push({ type: 'stream:status', buildId: run.build_id, status: 'running', stageRunId: run.id, stage: run.name, stageStatus: 'running', step, stepStatus: 'running' });
        return;
      }
      case 'agent:step-finished': {
        const step = stageRuns.stepFinished(run.id, m.stepIndex, { status: m.status, exitCode: m.exitCode, error: m.error ?? null, durationMs: m.durationMs }, now);
        if (m.outputs && Object.keys(m.outputs).length) storeOutputs(run, m, now);
        if (step) fx.status.push({ type: 'stream:status', buildId: run.build_id, status: 'running', stageRunId: run.id, stage: run.name, stageStatus: 'running', step, stepStatus: m.status });
        return;
      }
      case 'agent:stage-finished':
        finishStage(core, fx, run, m.status, m.error ?? null, now);
        return;
      default:
        assertNever(m);
    }
  }

  /**
   * Outputs of a finished step, checked again against the step kind's schema (an agent is not trusted to have
   * done it). A kind whose outputs describe the build's commit (checkout) updates the build: what the webhook
   * told stays, the agent fills in what it did not (author, message, changed files). A kind whose outputs
   * describe a deployment (deploy) records it in the deployment history when the step succeeded.
   */
  function storeOutputs(run: RunState, m: StepFinished, now: number): void {
    const step = core.buildConfig(run.build_id).stages[run.stage_index]?.steps[m.stepIndex];
    const def = step && core.stepKinds.get(step.kind);
    const problem = outputsProblem(m.outputs, def?.outputs);
    if (!step || problem) {
      ctx.log.warn({ stageRunId: run.id, step: m.stepIndex }, `step outputs refused: ${problem ?? 'no such step'}`);
      return;
    }
    core.outputs.put({ buildId: run.build_id, stageRunId: run.id, stageIndex: run.stage_index, stepIndex: m.stepIndex, stepId: step.id ?? null }, m.outputs!, now);
    const commit = def?.commitOf?.(m.outputs!);
    if (commit) {
      const info: Record<string, unknown> = { author: commit.author, message: commit.message };
      if (commit.changedFiles) info.changedFiles = commit.changedFiles;
      stageRuns.recordCommit(run.build_id, commit.sha, info);
    }
    // A kind whose step deployed an app (deploy) adds to the app's deployment history: a success, or a failure
    // the step described (rolled back; the record keeps why).
    const described = def?.deploymentOf?.(m.outputs!);
    const deployment = described && (m.status === 'success' || described.failure) ? described : undefined;
    if (deployment) {
      const stage = core.buildConfig(run.build_id).stages[run.stage_index];
      core.deployments.record(
        {
          buildId: run.build_id,
          stageIndex: run.stage_index,
          stage: run.name,
          environment: stage?.environment ?? run.environment,
          stepIndex: m.stepIndex,
          approvedBy: approvalsStore(db).approverOf(run.build_id, run.stage_index),
        },
        deployment,
        now,
      );
    }
  }

  return {
    addLog: (session, chunk) => add({ session, stageRunId: chunk.stageRunId, epoch: chunk.epoch, seq: chunk.seq, kind: 'log', chunk }),
    addEvent: (session, msg) => add({ session, stageRunId: msg.stageRunId, epoch: msg.epoch, seq: msg.seq, kind: 'event', msg }),
    flush,
  };
}
