/**
 * The agent's work: up to `capacity` stage runs at once, each with its RecordLog. The runner answers the
 * master's control messages (assign, ack, cancel, drain, error) and the resume list of master:accepted, and
 * tells the connection what hello and heartbeats carry. An assignment it cannot run (no free slot, a step
 * kind it lacks, draining) is answered agent:refused and forgotten. A slot is in use until the run's
 * processes are gone, also for a run the master aborted; the slot count goes into every heartbeat. A stage
 * run stays known until its last record is acknowledged, so a stage that finished while the master was
 * away is replayed after reconnect.
 */
import type { Logger } from 'pino';
import type { AgentRefused, MasterAccepted, MasterAssign, RunningStage } from '../shared/protocol';
import { assertNever } from '../shared/protocol';
import type { ControlMessage } from './connection';
import type { StopReason } from './executors/types';
import { RecordLog, type RecordTransport } from './record-log';
import { runStage, type StageRunDeps } from './stage-run';

/** Until master:accepted says otherwise. */
const DEFAULT_MAX_UNACKED_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

interface Run {
  assign: MasterAssign;
  records: RecordLog;
  controller: AbortController;
  /** Resolves when the stage run's work (not its acks) is over. */
  done: Promise<void>;
  active: boolean;
}

export type RunnerDeps = Omit<StageRunDeps, 'maxFrameBytes'> & { capacity: number };

export class Runner {
  private readonly runs = new Map<number, Run>();
  private maxUnackedBytes = DEFAULT_MAX_UNACKED_BYTES;
  private maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private settledWaiters: (() => void)[] = [];
  draining = false;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly transport: RecordTransport,
    private readonly log: Logger,
    /** Called when a slot frees up (a run's processes are gone): the agent tells the master at once. */
    private readonly onSlotFreed: () => void = () => {},
  ) {}

  /** Stage runs in progress or with unacknowledged records (agent:hello.running). */
  running(): RunningStage[] {
    return this.live().map((r) => ({
      stageRunId: r.records.stageRunId,
      epoch: r.records.epoch,
      ackedSeq: r.records.ackedSeq,
      lastSeq: r.records.lastSeq,
    }));
  }

  /** Leases to extend with each heartbeat. */
  leases(): { stageRunId: number; epoch: number }[] {
    return this.live().map((r) => ({ stageRunId: r.records.stageRunId, epoch: r.records.epoch }));
  }

  /** Runs whose records still matter (an aborted run may still be killing its processes). */
  private live(): Run[] {
    return [...this.runs.values()].filter((r) => !r.records.dropped);
  }

  /** Slots in use: runs whose processes are alive, aborted ones still being killed included (agent:heartbeat busy). */
  get activeCount(): number {
    let n = 0;
    for (const r of this.runs.values()) if (r.active) n++;
    return n;
  }

  onAccepted(msg: MasterAccepted): void {
    this.maxUnackedBytes = msg.maxUnackedBytes;
    this.maxFrameBytes = msg.maxFrameBytes;
    const resume = new Map(msg.resume.map((r) => [r.stageRunId, r]));
    for (const run of [...this.runs.values()]) {
      run.records.maxUnackedBytes = msg.maxUnackedBytes;
      const r = resume.get(run.records.stageRunId);
      if (r && r.epoch === run.records.epoch && r.action === 'continue') {
        run.records.replay(r.storedSeq);
        this.forgetIfSettled(run);
      } else {
        // The master no longer grants this lease (or did not answer for it): its work is void.
        this.log.warn({ stageRunId: run.records.stageRunId }, 'master aborted the stage run on resume');
        this.abort(run, 'the master aborted this stage run after reconnect');
      }
    }
  }

  handle(msg: ControlMessage): void {
    switch (msg.type) {
      case 'master:assign':
        this.assign(msg);
        return;
      case 'master:ack': {
        const run = this.runs.get(msg.stageRunId);
        if (!run || run.records.epoch !== msg.epoch) return;
        run.records.ack(msg.seq);
        this.forgetIfSettled(run);
        return;
      }
      case 'master:cancel': {
        const run = this.runs.get(msg.stageRunId);
        if (!run || run.records.epoch !== msg.epoch) return;
        if (run.active) run.controller.abort({ status: 'cancelled', graceMs: msg.graceMs, message: `cancelled: ${msg.reason}` } satisfies StopReason);
        // A finished stage whose lease was revoked: the master will not take its records any more.
        else this.abort(run, msg.reason);
        return;
      }
      case 'master:drain':
        this.draining = true;
        this.transport.sendText(JSON.stringify({ type: 'agent:state', draining: true }));
        return;
      case 'master:error':
        this.log.error({ code: msg.code, stageRunId: msg.stageRunId }, `master error: ${msg.message}`);
        return;
      default:
        assertNever(msg);
    }
  }

  /** Resolves when no stage run is active (used by drain). */
  async idle(): Promise<void> {
    while (this.activeCount) await Promise.all([...this.runs.values()].filter((r) => r.active).map((r) => r.done));
    // A run frees its slot before its workspace is removed; wait for that clean-up too.
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  /** Resolves when every record of every stage run is acknowledged, or after timeoutMs. */
  settled(timeoutMs: number): Promise<void> {
    if (!this.runs.size) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.settledWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Stop every active stage run (agent shutting down without drain). */
  cancelAll(reason: string, graceMs: number): void {
    for (const run of this.runs.values())
      if (run.active) run.controller.abort({ status: 'cancelled', graceMs, message: reason } satisfies StopReason);
  }

  private assign(a: MasterAssign): void {
    const existing = this.runs.get(a.stageRunId);
    if (existing && existing.records.epoch === a.epoch) return;
    if (existing) this.abort(existing, 'assigned again with a new lease');
    const refusal = this.refusalOf(a);
    if (refusal) {
      // A refusal is no result: nothing of this stage run is kept, the master queues it again.
      this.log.warn({ stageRunId: a.stageRunId, reason: refusal.reason }, `refusing assignment: ${refusal.message}`);
      this.transport.sendText(JSON.stringify({ type: 'agent:refused', stageRunId: a.stageRunId, epoch: a.epoch, ...refusal, busy: this.activeCount } satisfies AgentRefused));
      return;
    }
    const records = new RecordLog(a.stageRunId, a.epoch, this.transport, this.maxUnackedBytes);
    const controller = new AbortController();
    const run: Run = { assign: a, records, controller, done: Promise.resolve(), active: true };
    this.runs.set(a.stageRunId, run);
    const timeoutMs = a.stage.timeoutMs;
    const timer = timeoutMs
      ? setTimeout(
          () => controller.abort({ status: 'timeout', graceMs: this.deps.killGraceMs, message: `stage '${a.stage.name}' timed out after ${timeoutMs} ms` } satisfies StopReason),
          timeoutMs,
        )
      : undefined;
    this.log.info({ stageRunId: a.stageRunId, job: a.build.job, build: a.build.number, stage: a.stage.name }, 'stage assigned');
    const release = () => {
      clearTimeout(timer);
      if (!run.active) return;
      run.active = false;
      // The master counts this slot until the agent says it is free (busy in agent:heartbeat).
      this.onSlotFreed();
    };
    // The executors as they are now: a plugin update during the stage does not switch versions between its steps.
    run.done = runStage({ ...this.deps, executors: this.deps.executors.snapshot(), maxFrameBytes: this.maxFrameBytes }, a, records, controller.signal, release)
      .catch((e: unknown) => this.log.error({ stageRunId: a.stageRunId, err: (e as Error).message }, 'stage run crashed'))
      .finally(() => {
        release();
        this.forgetIfSettled(run);
      });
  }

  /** Why this agent cannot take the assignment now, or undefined when it can. */
  private refusalOf(a: MasterAssign): Pick<AgentRefused, 'reason' | 'message'> | undefined {
    if (this.draining) return { reason: 'draining', message: 'agent is draining' };
    // A run being killed (aborted) still holds its slot: its process group is not gone yet.
    if (this.activeCount >= this.deps.capacity) return { reason: 'capacity', message: `agent is at capacity (${this.activeCount} of ${this.deps.capacity} slots in use)` };
    const missing = [...new Set(a.stage.steps.map((s) => s.kind).filter((k) => !this.deps.executors.get(k)))];
    if (missing.length) {
      const has = this.deps.executors.list().filter((e) => !e.scanner).map((e) => e.kind).join(', ');
      return { reason: 'unknown-kind', message: `no executor for step kind ${missing.map((k) => `'${k}'`).join(', ')} on this agent (has: ${has})` };
    }
    return undefined;
  }

  /** Kill the run's work (if any) and drop its records. */
  private abort(run: Run, reason: string): void {
    if (run.active) run.controller.abort({ status: 'cancelled', graceMs: this.deps.killGraceMs, message: reason } satisfies StopReason);
    run.records.drop();
    this.forgetIfSettled(run);
  }

  private forgetIfSettled(run: Run): void {
    if (run.active || !run.records.settled) return;
    if (this.runs.get(run.records.stageRunId) === run) this.runs.delete(run.records.stageRunId);
    if (!this.runs.size) for (const w of this.settledWaiters.splice(0)) w();
  }
}
