/**
 * The StepExecutor interface: every step kind (shell, checkout; image, deploy and third-party plugins later)
 * implements it for its shared definition (shared/job/step-kind.ts: config schema, capabilities, workspace
 * need, outputs, reports) and is registered explicitly in registry.ts. The runner owns everything around a
 * step (workspace, env, secrets, output references, $SLIPWAY_OUTPUT, reports, log shipping, timeouts,
 * cancel) and knows no kind by name; an executor only runs the step.
 */
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { AnyStepKind, Outputs } from '../../shared/job';
import type { AgentFile } from '../agent-file';
import type { AssignedStep, MasterAssign, RegistryAccess, Source } from '../../shared/protocol';
import type { InstanceHooks } from '../deploy/rollout';
import type { Scanner } from '../scanners/types';

export type StepStatus = 'success' | 'failed' | 'cancelled' | 'timeout' | 'error';

/** Why a step is being stopped; AbortSignal.reason of StepContext.signal. */
export interface StopReason {
  status: 'cancelled' | 'timeout';
  /** Time between SIGTERM and SIGKILL to the step's process group. */
  graceMs: number;
  message: string;
}

/** Where a step's output goes: masked, chunked and shipped to the master in arrival order. */
export interface StepOutput {
  /** Text or bytes the executor itself prints (not the child's output). */
  write(data: Buffer | string): void;
  /**
   * Read a child's stdout/stderr into the log. The output pauses the stream while too much log data
   * is unacknowledged by the master (backpressure) and resumes it when acks arrive: nothing is dropped.
   * Resolves when the stream has ended or closed.
   */
  attach(stream: Readable): Promise<void>;
  /** True while the log is paused for backpressure (executors must not time out reading then). */
  readonly paused: boolean;
}

/** The job's build user (build-users.ts) the step runs as when the agent runs as root. */
export interface RunAs {
  uid: number;
  gid: number;
}

export interface StepContext {
  step: AssignedStep;
  /** Absolute path of the stage run's workspace (mode 0700, owned by runAs when set). */
  workspace: string;
  /** Complete environment of the step: minimal PATH/HOME/LANG, job/stage env, step env, secrets. */
  env: Record<string, string>;
  output: StepOutput;
  /** Aborted on cancel or timeout; reason is a StopReason. */
  signal: AbortSignal;
  /** The job's build user; undefined when the agent is not root (the step runs as the agent's user). */
  runAs?: RunAs;
  /** Call right after the step's process is spawned, with Date.now() (the dispatch benchmark's clock). */
  started(at: number): void;
  /** The build's commit (master:assign.source), for jobs with a repo. */
  source?: Source;
  /** The assign's secrets by name (also in env); e.g. source.credentials names one. */
  secrets: Record<string, string>;
  /** The agent's work directory (root-only when the agent is root): executors keep caches under it. */
  workDir: string;
  /** This executor's section of the agent config file (`executors.<kind>`), validated by its `settings` schema at start. */
  settings?: unknown;
  /** The host sections of the agent config file (Docker socket and registry credentials reference, etcd endpoints, nginx). */
  host: HostSettings;
  /** The build the step belongs to (ids, number, job, team). */
  build: MasterAssign['build'];
  /** The environment of this agent (and so of the stage). */
  environment: string;
  /** This agent's name (the deploy step labels the containers it creates with it: io.slipway.agent). */
  agentName?: string;
  /** Registries granted to the job's team (image and deploy steps). */
  registries: RegistryAccess[];
  /** Hooks of the agent's registration service: deployed instances announced live and leaving (deploy step). */
  deployHooks?: InstanceHooks;
  /** What the environment lets compose files do beyond the default (master:assign.deployPolicy). */
  deployPolicy?: MasterAssign['deployPolicy'];
  /** The stage run's lease TTL (master:assign.leaseTtlMs). */
  leaseTtlMs: number;
  /** Milliseconds since the agent last heard from the master: past leaseTtlMs / 2 the lease is in doubt. */
  masterSilentMs(): number;
  /** The scanners the scan step may run (the stage's registry snapshot: built-ins and plugins); absent: the built-ins. */
  scanners?: ScannerSource;
}

/** Scanners by name (ExecutorRegistry implements it). */
export interface ScannerSource {
  scanner(name: string): Scanner | undefined;
  scannerNames(): string[];
}

/** What the agent config file says about the host's Docker, etcd and nginx (agent/agent-file.ts). */
export type HostSettings = Readonly<Pick<AgentFile, 'docker' | 'etcd' | 'nginx'>>;

export interface StepResult {
  status: StepStatus;
  /** null when the process could not start or was killed by a signal. */
  exitCode: number | null;
  /** Infrastructure problem (spawn failed, bad config), told apart from a non-zero exit. */
  error?: string;
  /**
   * Outputs the executor publishes itself (checkout's commit). The runner adds what the step wrote to
   * $SLIPWAY_OUTPUT, checks them against the kind's schema and masks secrets.
   */
  outputs?: Outputs;
}

export interface StepExecutor {
  /** Step kind as in the kind's definition, e.g. 'shell'. */
  readonly kind: string;
  /** The kind's shared definition: the same schema the master validated the job with. */
  readonly def: AnyStepKind;
  /** Reported to the master in agent:hello (plugin registry). */
  readonly version: string;
  /** Schema of the executor's section of the agent config file (`executors.<kind>`); none: the section must be empty. */
  readonly settings?: z.ZodType;
  /** Runs the step to completion. Never rejects for a failing step: failures are StepResults. */
  run(ctx: StepContext): Promise<StepResult>;
}

/**
 * An executor for `def` whose `run` gets the config parsed by the kind's own schema (no second hand-written
 * check); a config the schema refuses is a step error naming the field.
 */
export function defineExecutor<C extends Record<string, unknown>>(
  def: AnyStepKind,
  version: string,
  run: (ctx: StepContext, config: C) => Promise<StepResult>,
): StepExecutor {
  return {
    kind: def.kind,
    def,
    version,
    run(ctx) {
      const parsed = def.config.safeParse(ctx.step.config);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        const where = i?.path.length ? `'${i.path.map(String).join('.')}' ` : '';
        return Promise.resolve({ status: 'error', exitCode: null, error: `${def.kind} step config: ${where}${i?.message ?? 'invalid'}` });
      }
      return run(ctx, parsed.data as C);
    },
  };
}
