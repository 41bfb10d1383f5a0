/**
 * Runs StepExecutors for the conformance suite the way the stage runner does: a real 0700 workspace of the job's
 * build user (when the suite runs as root), the stage env, a log shipper with secret masking, an AbortSignal.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretMasker } from '../../shared/mask';
import type { RegistryAccess } from '../../shared/protocol';
import type { AssignedStep, Source } from '../../shared/protocol';
import { BuildUsers } from '../../agent/build-users';
import type { RunAs, StepExecutor, StepResult, StopReason } from '../../agent/executors/types';
import { LogShipper } from '../../agent/log-shipper';
import { RecordLog } from '../../agent/record-log';
import { stageEnv } from '../../agent/stage-run';
import { Workspaces } from '../../agent/workspace';
import { CaptureTransport } from '../helpers/capture-transport';

export interface RunOptions {
  secrets?: Record<string, string>;
  env?: Record<string, string>;
  source?: Source;
  registries?: RegistryAccess[];
  /** What the step is told about the master's silence (deploy fencing). */
  masterSilentMs?: number;
  /** Abort with `stop` once this workspace file exists and is not empty. */
  stopAfterFile?: string;
  /** Abort reason (with stopAfterFile), or abort before the run when alone. */
  stop?: StopReason;
  /** Fills the fresh workspace before the step runs (it is handed to the build user afterwards). */
  prepare?: (workspace: string) => void;
  /** The running agent's name (ctx.agentName: a deploy step labels its containers with it). */
  agentName?: string;
}

export interface Ran {
  result: StepResult;
  output: string;
  workspace: string;
  startedAt?: number;
}

export async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Gone, or a zombie waiting for a reaper (it runs no more code). */
export function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

export class Harness {
  readonly workDir = mkdtempSync(join(tmpdir(), 'slipway-conformance-'));
  workspaces!: Workspaces;
  /** The build user of job 1 (the jobId of every assign here) when the suite runs as root. */
  runAs: RunAs | undefined;
  private seq = 0;

  async open(): Promise<void> {
    this.workspaces = await Workspaces.open(this.workDir, BuildUsers.ifRoot());
    this.runAs = await this.workspaces.userFor(1);
  }

  close(): void {
    rmSync(this.workDir, { recursive: true, force: true });
  }

  async run(executor: StepExecutor, config: Record<string, unknown>, opts: RunOptions = {}): Promise<Ran> {
    const id = ++this.seq;
    const workspace = await this.workspaces.create(1, id);
    opts.prepare?.(workspace);
    await this.workspaces.handOver(workspace, this.runAs);
    const transport = new CaptureTransport();
    const records = new RecordLog(id, 1, transport, 1 << 20);
    const output = new LogShipper(records, new SecretMasker(Object.values(opts.secrets ?? {})), { maxChunkBytes: 65536, flushMs: 50 });
    const controller = new AbortController();
    if (opts.stop && !opts.stopAfterFile) controller.abort(opts.stop);
    const step: AssignedStep = { name: 's', kind: executor.kind, config, env: opts.env ?? {}, continueOnError: false };
    const assign = {
      type: 'master:assign' as const,
      stageRunId: id,
      epoch: 1,
      build: { id: 1, number: 1, job: 'j', jobId: 1, team: 't' },
      stage: { index: 0, name: 'st', attempt: 1, steps: [step], artifacts: [] },
      env: { JOB_VAR: 'from-job' },
      secrets: opts.secrets ?? {},
      inputArtifacts: [],
      leaseTtlMs: 1000,
    };
    let startedAt: number | undefined;
    const pending = executor.run({
      step,
      workspace,
      env: { ...stageEnv(assign, workspace), ...step.env, ...assign.secrets },
      output,
      signal: controller.signal,
      runAs: this.runAs,
      started: (at) => (startedAt = at),
      source: opts.source,
      secrets: assign.secrets,
      workDir: this.workDir,
      host: {},
      build: assign.build,
      environment: 'conformance',
      agentName: opts.agentName,
      registries: opts.registries ?? [],
      leaseTtlMs: 30_000,
      masterSilentMs: () => opts.masterSilentMs ?? 0,
    });
    if (opts.stopAfterFile) {
      const file = join(workspace, opts.stopAfterFile);
      await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', 'the step to write its pid file');
      controller.abort(opts.stop);
    }
    const result = await pending;
    output.flush();
    output.close();
    return { result, output: transport.text(), workspace, startedAt };
  }
}
