/**
 * The state engine-core's parts share: the context, the log store and stream hub of engine-logs, the live
 * agent sessions, parsed build configs and the side effects collected inside a transaction.
 *
 * Rule of the engine: state changes happen inside one SQLite transaction that records what must be told
 * to the outside world in an Effects object; `core.apply(fx)` runs those effects only AFTER the commit, so
 * no client or agent ever hears about a change that was rolled back.
 */
import { buildsStore } from '../store/builds';
import type { StreamMessage } from '../../shared/protocol/client';
import type { BuildStatus } from '../../shared/protocol/client';
import type { MasterMessage, PluginState, ServiceStatus } from '../../shared/protocol/messages';
import { builtinStepKinds, parseJobYaml, type JobConfig, type StepKinds } from '../../shared/job';
import type { MasterContext } from '../context';
import { createAgentFactsStore, type AgentFactsStore } from '../store/agent-facts';
import type { Db } from '../store/db';
import { createOutputsStore, type OutputsStore } from '../store/outputs';
import { createDeploymentsStore, type DeploymentsStore } from '../store/deployments';
import { createReportsStore, type ReportsStore } from '../store/reports';
import { createSchedulingStore, type SchedulingStore } from '../store/scheduling';
import type { LogStore } from './logs/log-store';
import type { StreamHub } from './stream/hub';

/** One connected, accepted agent (the gateway owns the socket). */
export interface AgentSession {
  agentId: number;
  name: string;
  environment: string;
  environmentId: number;
  tokenId: number;
  labels: string[];
  capacity: number;
  /** The executors the scheduler counts: those reported, less plugin kinds at a version the master does not name. */
  executors: { kind: string; version: string; plugin?: string; scanner?: boolean }[];
  /** The executors as the agent last reported them (agent:hello, agent:plugins). */
  reportedExecutors?: { kind: string; version: string; plugin?: string; scanner?: boolean }[];
  /** The plugins the agent runs, as it last reported them. */
  plugins?: PluginState[];
  /** Plugin report formats the scheduler counts (master/plugins/agent-plugins.ts agentReportFormats). */
  reportFormats?: string[];
  /** Capabilities whose probe succeeded (or that the agent's config declares); the scheduler matches on them. */
  capabilities: string[];
  /** Latest status of the agent's services. */
  services: ServiceStatus[];
  draining: boolean;
  /** The agent bundle version the agent is draining to replace itself with (agent:state.upgradingTo). */
  upgradingTo?: string;
  /** The protocol version of its hello (MIN_AGENT_PROTOCOL_VERSION..PROTOCOL_VERSION). */
  protocolVersion?: number;
  /** Date.now() of the last frame of any kind: the agent's liveness (leases/liveness.ts). */
  lastFrameAt: number;
  /**
   * Slots in use as the agent last reported them (agent:heartbeat / agent:refused), aborted runs still
   * being killed included. Free slots = capacity - max(running leases on the agent, busy).
   */
  busy: number;
  /** Stage runs this agent refused as 'unknown-kind': never offered to it again (this connection). */
  refused: Set<number>;
  /** Set when the sweeper declared the agent lost (the close then keeps state 'lost'). */
  lost: boolean;
  send(msg: MasterMessage): void;
  close(code: number, reason: string): void;
}

type StatusMessage = Extract<StreamMessage, { type: 'stream:status' }>;

/** Side effects of a transaction, run after it committed. */
export class Effects {
  readonly status: StatusMessage[] = [];
  readonly ends: { buildId: number; status: BuildStatus }[] = [];
  readonly cancels: { agentId: number; stageRunId: number; epoch: number; reason: string }[] = [];
  dispatch = false;
}

export interface EngineCore {
  ctx: MasterContext;
  db: Db;
  logs: LogStore;
  hub: StreamHub;
  sessions: Map<number, AgentSession>;
  /** The step kinds jobs are validated against (what each needs of an agent, its outputs, its commit). */
  stepKinds: StepKinds;
  outputs: OutputsStore;
  reports: ReportsStore;
  /** The deployment history (deploy steps that succeeded). */
  deployments: DeploymentsStore;
  agentFacts: AgentFactsStore;
  scheduling: SchedulingStore;
  /** Parsed job config snapshot of a build (builds.yaml); cached, builds never change their snapshot. */
  buildConfig(buildId: number, yaml?: string): JobConfig;
  /** Runs the effects of a committed transaction: stream messages, agent cancels, a dispatch pass. */
  apply(fx: Effects): void;
  /** Schedules one dispatch pass in this event-loop turn (coalesces bursts of triggers and finishes). */
  requestDispatch(): void;
  /** Set by Engine.stop(): no more passes (the store closes right after). */
  stopped: boolean;
  /**
   * Registers a listener told, after each commit (from apply), the last build status of every build the
   * transaction touched (the commit status reporter). Listeners must not throw nor block: they are called
   * synchronously inside apply.
   */
  onBuildStatus(listener: (buildId: number, status: BuildStatus) => void): void;
}

const CONFIG_CACHE_MAX = 1000;
const BUILTIN_KINDS = builtinStepKinds();

/** Builds the core; `dispatch` is the scheduler's pass, wired by createEngine. */
export function createCore(ctx: MasterContext, logs: LogStore, hub: StreamHub, dispatch: () => void): EngineCore {
  const configs = new Map<number, JobConfig>();
  const statusListeners: ((buildId: number, status: BuildStatus) => void)[] = [];
  const builds = buildsStore(ctx.db);
  let dispatchQueued = false;

  const core: EngineCore = {
    ctx,
    db: ctx.db,
    logs,
    hub,
    sessions: new Map(),
    // Built-ins plus every installed plugin's kinds (master/plugins/service.ts), current at each read.
    get stepKinds() {
      return ctx.plugins?.allKinds() ?? BUILTIN_KINDS;
    },
    outputs: createOutputsStore(ctx.db),
    deployments: createDeploymentsStore(ctx.db),
    reports: createReportsStore(ctx.db),
    agentFacts: createAgentFactsStore(ctx.db),
    scheduling: createSchedulingStore(ctx.db),
    stopped: false,
    buildConfig(buildId, yaml) {
      let cfg = configs.get(buildId);
      if (cfg) return cfg;
      const text = yaml ?? builds.buildYaml(buildId);
      if (text === undefined) throw new Error(`build ${buildId} has no config snapshot`);
      cfg = parseJobYaml(text, `build ${buildId}`, core.stepKinds);
      if (configs.size >= CONFIG_CACHE_MAX) configs.delete(configs.keys().next().value as number);
      configs.set(buildId, cfg);
      return cfg;
    },
    apply(fx) {
      for (const m of fx.status) core.hub.publishStatus(m);
      for (const e of fx.ends) core.hub.publishEnd(e.buildId, e.status);
      for (const c of fx.cancels) {
        core.sessions.get(c.agentId)?.send({
          type: 'master:cancel',
          stageRunId: c.stageRunId,
          epoch: c.epoch,
          reason: c.reason,
          graceMs: ctx.config.cancelGraceMs,
        });
      }
      if (fx.dispatch) core.requestDispatch();
      if (statusListeners.length && fx.status.length) {
        const last = new Map<number, BuildStatus>();
        for (const m of fx.status) last.set(m.buildId, m.status);
        for (const [buildId, status] of last) {
          for (const l of statusListeners) {
            try {
              l(buildId, status);
            } catch (err) {
              ctx.log.error({ err, buildId }, 'build status listener failed');
            }
          }
        }
      }
    },
    onBuildStatus(listener) {
      statusListeners.push(listener);
    },
    requestDispatch() {
      if (dispatchQueued) return;
      dispatchQueued = true;
      // setImmediate, not a timer: the pass runs in this turn's check phase, after the triggering I/O.
      setImmediate(() => {
        dispatchQueued = false;
        if (core.stopped) return;
        try {
          dispatch();
        } catch (err) {
          ctx.log.error({ err }, 'dispatch pass failed');
        }
      });
    },
  };
  return core;
}
