/**
 * The master <-> agent protocol: every control message, its zod schema and PROTOCOL_VERSION.
 *
 * Transport: one WebSocket per agent, opened by the agent to `/ws/agent` on the master.
 * Text frames carry the JSON control messages below; binary frames carry log chunks
 * (see log-frame.ts), so the log path is checked by a compact header, not by zod.
 *
 * Lifecycle (sender prefix first):
 *  1. agent:hello      token, name, environment, labels, capacity, executors, capabilities (probed at
 *                      start), services and running work.
 *                      master:accepted (with config and, per running stage, the last sequence it stored)
 *                      or master:refused + close with a CloseCode.
 *  2. master:assign    a stage run with a lease (stageRunId + epoch). The agent runs it, or answers
 *                      agent:refused (at capacity, a step kind it lacks, draining) before producing any
 *                      record: the master puts the stage back in the queue, same attempt. A refusal is
 *                      never a build failure.
 *  3. records          everything the agent reports about a stage run travels as one ordered stream of
 *                      records numbered by `seq` (1, 2, 3... per stage run): log chunks (binary) and
 *                      agent:step-started / agent:step-finished / agent:stage-finished (JSON). The master
 *                      stores record N only after N-1, ignores (but re-acks) duplicates, and answers
 *                      master:ack with the highest seq committed. The agent keeps unacknowledged records.
 *  4. agent:heartbeat  every heartbeatIntervalMs; carries the leases the agent holds, which extends them,
 *                      and `busy`, the slots in use. A lease the master no longer grants is answered by
 *                      master:cancel. The agent also sends one at once when a slot frees up.
 *     liveness         an agent silent (no frame of any kind) for more than two heartbeat intervals is in
 *                      doubt and gets no new work; one whose lease expired, or silent for the lease TTL,
 *                      is lost: its socket is dropped and its expired stage runs follow their retry policy.
 *  5. resume           after a disconnect or a master restart the agent reconnects with backoff, sends hello
 *                      with its running stage runs; master:accepted tells each one's stored seq and whether
 *                      to continue; the agent replays records after it. No record is lost or stored twice.
 *     Step outputs travel in agent:step-finished (the checkout step's commit is one of them); reports are
 *     uploaded over HTTP like artifacts before that record (shared/api.ts) and parsed on the master.
 *  4b.agent:services   status of the agent's long-lived services (agent/services), sent after accept and
 *                      whenever one changes; the master keeps the latest per agent.
 *  6. master:cancel    the agent kills the step's process group (SIGTERM, SIGKILL after graceMs) and
 *                      reports agent:stage-finished with status 'cancelled'.
 *     master:drain     finish current work, take no more. agent:state tells the master it is draining.
 *  6b.plugins        master:accepted names the third-party plugins (name, version, sha256) the agent must run;
 *                      master:plugins names them again whenever the set changes (install, update, enable,
 *                      disable, remove). The agent fetches each package over HTTP (GET /api/v1/agent/plugins/
 *                      NAME/VERSION with its token), checks the sha256, loads it, and answers agent:plugins with
 *                      what it runs and its executors; the master schedules a plugin's kinds only on agents
 *                      that run the version it names. Since protocol 11. Since 12 the executors
 *                      include the plugin scanners of the scan step (scanner: true), scheduled the same way.
 *  8. container logs agent:container-logs carries a batch of log entries of one followed container (a `source`,
 *                      seqs contiguous per source from firstSeq, assigned by the agent's container-logs service);
 *                      the master stores them (skipping seqs it already stored) and answers
 *                      master:container-logs-ack with the highest seq stored for that source. The agent keeps
 *                      (spools) every entry until it is acknowledged; a batch for another environment than the
 *                      agent's is refused in the ack. Not stage records: no lease, own seq space per source.
 *  7. upgrade          an agent started from the bundle with --auto-upgrade compares its version with the
 *                      master's (GET /agent/slipway-agent.json, over HTTP, not this socket) after each accept;
 *                      when they differ it drains (agent:state with upgradingTo), replaces its bundle once the
 *                      sha256 matches, and restarts. Meanwhile the master accepts agents one protocol version
 *                      back (MIN_AGENT_PROTOCOL_VERSION).
 *
 * The master accepts a record only for a stage run currently leased to that agent with the same epoch;
 * anything else is answered by master:error (code 'lease_mismatch') and logged, never stored.
 *
 * Bump PROTOCOL_VERSION on every change to this file or to log-frame.ts.
 */
import { z } from 'zod';
import { qualityGateSchema } from '../job/gate';

export const PROTOCOL_VERSION = 12;

/**
 * The oldest protocol version whose agents the master still accepts: agents of the previous release keep
 * working (and replace themselves with the master's bundle, agent/self-upgrade.ts) while a new master rolls
 * out. At most one version back, and only when the change from it was additive: what is new in agent
 * frames is optional, and the master sends such an agent nothing it cannot parse (its schemas drop fields
 * they do not know). A change that breaks this sets it to PROTOCOL_VERSION, and the commit says so.
 * 8 -> 9: agent:state.upgradingTo (optional); 9 -> 10: report gates in master:assign steps (optional); 10 -> 11:
 * plugins (optional fields; master:plugins is sent only to agents of 11 or later) and agent:container-logs with
 * master:container-logs-ack (new messages a 10 agent never sends); 10 is accepted.
 */
export const MIN_AGENT_PROTOCOL_VERSION: number = 11;

/** Whether the master accepts an agent:hello of protocol version `v`. */
export function acceptsProtocolVersion(v: number): boolean {
  return v >= MIN_AGENT_PROTOCOL_VERSION && v <= PROTOCOL_VERSION;
}

/**
 * The longest an agent waits between two reconnect attempts (its backoff doubles from 0.2 s up to this, half
 * of it random). The master, after a restart, keeps the leases of running stages for the lease TTL plus this,
 * counted from the moment it listens, so every agent gets its chance to reconnect and resume.
 */
export const RECONNECT_MAX_MS = 10_000;

/** WebSocket close codes the master uses when it ends an agent connection. */
export const CloseCode = {
  /** Token unknown, revoked or not an agent token. */
  BadToken: 4001,
  /** agent:hello carried a protocolVersion the master does not accept (acceptsProtocolVersion). */
  ProtocolVersion: 4002,
  /** Agent claims an environment its token is not bound to. */
  EnvironmentMismatch: 4003,
  /** A frame that is not valid JSON, fails its schema, or a binary frame with a bad header. */
  MalformedFrame: 4004,
  /** Another connection with the same agent name took over. */
  Replaced: 4005,
  /** First frame was not agent:hello, or hello did not arrive in time. */
  HelloRequired: 4006,
  /** Frame larger than maxFrameBytes (ws also uses 1009 when its own limit trips). */
  FrameTooLarge: 1009,
  /** Master shutting down. */
  GoingAway: 1001,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

const id = z.number().int().positive();
const epoch = z.number().int().nonnegative();
const seq = z.number().int().nonnegative();

/** A stage run the agent is still working on, or has records for that the master has not acknowledged. */
export const RunningStageSchema = z.object({
  stageRunId: id,
  epoch,
  /** Highest seq the agent has seen acknowledged. */
  ackedSeq: seq,
  /** Highest seq the agent has produced so far. */
  lastSeq: seq,
});
export type RunningStage = z.infer<typeof RunningStageSchema>;

export const ExecutorInfoSchema = z.object({
  kind: z.string().min(1),
  /** The executor's version; for a plugin's kind, the plugin's version. */
  version: z.string().min(1),
  /** The plugin providing the kind ('builtin' for the built-in kinds); absent from agents before protocol 11. */
  plugin: z.string().max(64).optional(),
  /**
   * True: `kind` is a scanner of the scan step a plugin provides (scan `tools:`), not a step kind. Agents before
   * protocol 12 report no scanners, so stages running a plugin scanner wait for a newer agent.
   */
  scanner: z.boolean().optional(),
});
export type ExecutorInfo = z.infer<typeof ExecutorInfoSchema>;

/** A host capability the agent probed at start (docker, etcd, nginx) or its config declares. */
export const CapabilityInfoSchema = z.object({
  name: z.string().min(1).max(64),
  /** Only capabilities with ok true count for scheduling. */
  ok: z.boolean(),
  /** What the probe found ('Docker API 1.41 at /var/run/docker.sock', 'declared in agent.yml') or why it failed. */
  detail: z.string().max(1024),
});
export type CapabilityInfo = z.infer<typeof CapabilityInfoSchema>;

/** One agent service's state (agent/services/types.ts). */
export const ServiceStatusSchema = z.object({
  name: z.string().min(1).max(64),
  state: z.enum(['starting', 'running', 'degraded', 'failed', 'stopped']),
  /** Last health check's message. */
  detail: z.string().max(1024),
  /** Small service-specific facts (free bytes, instances watched...). */
  facts: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Agent clock, ms since epoch, of the last health check. */
  at: z.number(),
});
export type ServiceStatus = z.infer<typeof ServiceStatusSchema>;

/** Step outputs on the wire: shared/job/outputs.ts states the names, types and size limits. */
const OutputsWire = z.record(z.string().max(64), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]));

/** A plugin package the master tells agents to run (master:accepted, master:plugins). */
export const PluginRefSchema = z.object({
  name: z.string().min(1).max(64),
  version: z.string().min(1).max(64),
  /** Hex sha256 of the package (.tgz) the master serves: the agent refuses other bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});
export type PluginRef = z.infer<typeof PluginRefSchema>;

/** What an agent runs of a plugin (agent:hello, agent:plugins). */
export const PluginStateSchema = z.object({
  name: z.string().min(1).max(64),
  version: z.string().min(1).max(64),
  /** 'failed': fetch, checksum, manifest or import failed; its steps fail with `error`. */
  state: z.enum(['loaded', 'failed']),
  error: z.string().max(4096).optional(),
});
export type PluginState = z.infer<typeof PluginStateSchema>;

// ---------------------------------------------------------------- agent -> master

export const AgentHelloSchema = z.object({
  type: z.literal('agent:hello'),
  protocolVersion: z.number().int(),
  /** Agent token created by an admin; bound to exactly one environment. */
  token: z.string().min(1).max(512),
  /** Unique per environment; a second connection with the same name replaces the first. */
  name: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/),
  /** Must equal the token's environment. */
  environment: z.string().min(1).max(64),
  labels: z.array(z.string().min(1).max(64)).max(64),
  /** How many stage runs the agent runs at once. */
  capacity: z.number().int().min(1).max(256),
  /** Step kinds the agent can run (its StepExecutor plugins). */
  executors: z.array(ExecutorInfoSchema).max(256),
  /** Host capabilities probed at start; the scheduler assigns a stage only to an agent with all it needs. */
  capabilities: z.array(CapabilityInfoSchema).max(64).optional(),
  /** The agent's services as they stand at (re)connect. */
  services: z.array(ServiceStatusSchema).max(64).optional(),
  /** Stage runs in progress or with unacknowledged records (resume). */
  running: z.array(RunningStageSchema).max(256),
  /** Plugins the agent runs (the built-in one included). Since protocol 11. */
  plugins: z.array(PluginStateSchema).max(256).optional(),
  /** Agent software version (`slipway agents` shows it; a bundle agent upgrades itself when it differs from the master's bundle). */
  version: z.string().max(64).optional(),
});

export const AgentHeartbeatSchema = z.object({
  type: z.literal('agent:heartbeat'),
  /** Leases held; each one is extended by leaseTtlMs from now. */
  leases: z.array(z.object({ stageRunId: id, epoch })).max(256),
  /**
   * Slots in use now: stage runs whose processes are still alive, including aborted ones being killed
   * (a slot frees when the step's process group is gone). The master never assigns more than
   * capacity - max(its running leases on the agent, busy). Absent: the master counts its leases only.
   */
  busy: z.number().int().nonnegative().max(256).optional(),
});

export const AgentStateSchema = z.object({
  type: z.literal('agent:state'),
  /** 'draining' after master:drain or SIGTERM; 'idle'/'busy' are derived by the master from leases. */
  draining: z.boolean(),
  /**
   * Set while the agent drains to replace itself with the master's agent bundle of this version (it then
   * restarts and connects with it). Absent: not upgrading. Since protocol 8.
   */
  upgradingTo: z.string().max(64).optional(),
});

/** Why an agent turns an assignment down. */
export const RefusalReason = z.enum(['capacity', 'unknown-kind', 'draining']);
export type RefusalReason = z.infer<typeof RefusalReason>;

/**
 * The agent does not run a master:assign it was sent. Sent instead of any record of that stage run (the
 * agent keeps nothing of it). The master puts the stage run back in the queue (same attempt, its place
 * kept) if it is still leased to this agent with this epoch, and offers it elsewhere: a refusal for
 * capacity sets the agent's busy count, 'draining' marks it draining, 'unknown-kind' keeps this stage run
 * away from this agent. Not a record: no seq, no ack.
 */
export const AgentRefusedSchema = z.object({
  type: z.literal('agent:refused'),
  stageRunId: id,
  epoch,
  reason: RefusalReason,
  /** Human-readable, for the master's log. */
  message: z.string().max(4096),
  /** Slots in use on the agent when it refused (as in agent:heartbeat). */
  busy: z.number().int().nonnegative().max(256),
});

/** Common fields of the ordered records of one stage run. */
const recordBase = { stageRunId: id, epoch, seq: z.number().int().positive() };

export const StepStartedSchema = z.object({
  type: z.literal('agent:step-started'),
  ...recordBase,
  stepIndex: z.number().int().nonnegative(),
  /** Agent clock, ms since epoch. The dispatch benchmark measures against it. */
  at: z.number(),
});

export const StepFinishedSchema = z.object({
  type: z.literal('agent:step-finished'),
  ...recordBase,
  stepIndex: z.number().int().nonnegative(),
  /** null when the process could not start or was killed by a signal. */
  exitCode: z.number().int().nullable(),
  status: z.enum(['success', 'failed', 'cancelled', 'timeout', 'error']),
  durationMs: z.number().nonnegative(),
  /** Infrastructure problem (spawn failed...), told apart from a non-zero exit. */
  error: z.string().max(4096).optional(),
  /** Outputs the step published (masked), checked by the agent against the kind's schema; the master re-checks. */
  outputs: OutputsWire.optional(),
  at: z.number(),
});

export const StageFinishedSchema = z.object({
  type: z.literal('agent:stage-finished'),
  ...recordBase,
  status: z.enum(['success', 'failed', 'cancelled', 'timeout', 'error']),
  error: z.string().max(4096).optional(),
  /** Artifacts uploaded for this stage run (over HTTP, before this record). */
  artifacts: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string() })).max(1000).default([]),
  at: z.number(),
});

/** Not a record: the latest state of the agent's services, sent whenever one changes. */
export const AgentServicesSchema = z.object({
  type: z.literal('agent:services'),
  services: z.array(ServiceStatusSchema).max(64),
});

/** Not a record: the plugins the agent runs and its executors, sent after each change (master:plugins). Since protocol 11. */
export const AgentPluginsSchema = z.object({
  type: z.literal('agent:plugins'),
  plugins: z.array(PluginStateSchema).max(256),
  /** The complete executor list now (replaces hello's). */
  executors: z.array(ExecutorInfoSchema).max(256),
});
/** Most entries in one agent:container-logs batch. */
export const MAX_CONTAINER_LOG_BATCH_ENTRIES = 5000;
/** Longest text of one container log entry (a multi-line entry included), in UTF-16 units. */
export const MAX_CONTAINER_LOG_ENTRY_CHARS = 64 * 1024;

/**
 * Not a stage record: a batch of container log entries of one source (one followed container), entry i having
 * seq firstSeq + i. Columns rather than one object per entry: the master checks a batch of thousands of entries
 * at every frame, and arrays of strings and numbers are an order of magnitude cheaper to validate. The master
 * stores the entries above its high-water mark for the source and answers master:container-logs-ack. A batch
 * may start after a gap (entries the agent's bounded spool dropped, counted in its service status).
 */
export const AgentContainerLogsSchema = z
  .object({
    type: z.literal('agent:container-logs'),
    /** Stable id of one followed container on one agent ('<environment>/<container id>'). */
    source: z.string().min(1).max(256).regex(/^[A-Za-z0-9._:/-]+$/),
    firstSeq: z.number().int().positive(),
    /** The container's io.slipway.app label. */
    app: z.string().min(1).max(128),
    /** The container's io.slipway.environment label; must be the agent's own environment. */
    environment: z.string().min(1).max(64),
    /** The container's name. */
    instance: z.string().min(1).max(256),
    /** One character per entry: 'o' stdout, 'e' stderr. */
    streams: z.string().regex(/^[oe]+$/, "one character per entry: 'o' (stdout) or 'e' (stderr)").max(MAX_CONTAINER_LOG_BATCH_ENTRIES),
    /** Per entry: Docker's time of its first line, ms since epoch. */
    ts: z.array(z.number().int().nonnegative()).min(1).max(MAX_CONTAINER_LOG_BATCH_ENTRIES),
    /** Per entry: its text without the final newline; a multi-line entry joins its lines with '\n'. */
    texts: z.array(z.string().max(MAX_CONTAINER_LOG_ENTRY_CHARS)).min(1).max(MAX_CONTAINER_LOG_BATCH_ENTRIES),
  })
  .refine((b) => b.streams.length === b.texts.length && b.ts.length === b.texts.length, {
    message: 'streams, ts and texts must have one element per entry',
    path: ['texts'],
  });
export type AgentContainerLogs = z.infer<typeof AgentContainerLogsSchema>;

export const AgentMessageSchema = z.discriminatedUnion('type', [
  AgentHelloSchema,
  AgentHeartbeatSchema,
  AgentStateSchema,
  AgentRefusedSchema,
  StepStartedSchema,
  StepFinishedSchema,
  StageFinishedSchema,
  AgentServicesSchema,
  AgentPluginsSchema,
  AgentContainerLogsSchema,
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type AgentHello = z.infer<typeof AgentHelloSchema>;
export type AgentRefused = z.infer<typeof AgentRefusedSchema>;
export type StepStarted = z.infer<typeof StepStartedSchema>;
export type StepFinished = z.infer<typeof StepFinishedSchema>;
export type StageFinished = z.infer<typeof StageFinishedSchema>;
/** The JSON records that share the seq space with log chunks. */
export type StageRecord = StepStarted | StepFinished | StageFinished;

// ---------------------------------------------------------------- master -> agent

/** A step as the agent runs it: normalised from the job file by shared/job. */
export const AssignedStepSchema = z.object({
  name: z.string(),
  /** The job file's step `id`: later steps reference its outputs as ${{ steps.ID.outputs.KEY }}. */
  id: z.string().optional(),
  /** StepExecutor kind, e.g. 'shell'. */
  kind: z.string(),
  /** Executor-specific, validated by the job schema on the master and again by the executor. */
  config: z.record(z.string(), z.unknown()),
  env: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().positive().optional(),
  continueOnError: z.boolean().default(false),
  /**
   * Reports the step attaches after it ran (from its kind's config, e.g. shell's `junit:`, scan's SARIF), with the
   * quality gate the agent checks a SARIF report's findings against (shared/job/gate.ts).
   */
  reports: z
    .array(
      z.object({
        format: z.string(),
        path: z.string(),
        failStep: z.boolean(),
        gate: qualityGateSchema.optional(),
        /** The file's own format, converted to `format` by the agent's plugin report format of that name. Since protocol 12. */
        from: z.string().optional(),
      }),
    )
    .optional(),
});
export type AssignedStep = z.infer<typeof AssignedStepSchema>;

export const SourceSchema = z.object({
  /** Repository URL, checked with shared/git unsafeRepoUrl on both sides. */
  url: z.string().min(1),
  /** Commit of the build (full sha). */
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
  /** Full ref it came from (refs/heads/main, refs/tags/v1, refs/merge-requests/7/head...), fetched to reach sha. */
  ref: z.string().min(1),
  branch: z.string().optional(),
  /** Shallow depth (0 = full history). */
  depth: z.number().int().nonnegative(),
  submodules: z.boolean(),
  /** Name of the entry in `secrets` holding the credentials (HTTP token or SSH private key). */
  credentials: z.string().optional(),
  /**
   * Whether that entry also goes into the steps' environment: only when the job lists the same secret in
   * its own `secrets`. Otherwise the credentials serve the checkout alone (and are masked like any secret).
   */
  credentialsInEnv: z.boolean().optional(),
  /**
   * known_hosts lines for SSH repositories (from the job's repo.knownHosts). SSH checkouts verify the host
   * key strictly against these plus the agent host's own known_hosts files; an unknown key fails the checkout.
   */
  knownHosts: z.string().max(65536).optional(),
  /** Commit of the job's previous build on this branch: the agent diffs against it when changedFiles are unknown. */
  previousSha: z.string().optional(),
  /** True when the master already has the changed files (from the webhook payload). */
  knowsChangedFiles: z.boolean(),
  /** Per-job cache key for the agent's workspace cache (incremental fetches). */
  cacheKey: z.string().regex(/^[A-Za-z0-9._-]+$/),
});
export type Source = z.infer<typeof SourceSchema>;

/**
 * An image registry the build may use (image and deploy steps), as an admin granted it to the job's team on the
 * master. The password travels like a secret: the agent masks it in every log line and output.
 */
export const RegistryAccessSchema = z.object({
  name: z.string().min(1),
  /** host[:port] (images are named `<url>/<repository>`), or a URL with scheme. */
  url: z.string().min(1),
  username: z.string().optional(),
  password: z.string().optional(),
});
export type RegistryAccess = z.infer<typeof RegistryAccessSchema>;

export const MasterAssignSchema = z.object({
  type: z.literal('master:assign'),
  stageRunId: id,
  epoch,
  /** jobId: the master's id of the job, stable across renames; the agent isolates jobs from each other by it. */
  build: z.object({ id, number: id, job: z.string(), jobId: id, team: z.string() }),
  stage: z.object({
    index: z.number().int().nonnegative(),
    name: z.string(),
    attempt: z.number().int().positive(),
    steps: z.array(AssignedStepSchema),
    /** Workspace-relative paths or globs to upload when the stage succeeds. */
    artifacts: z.array(z.string()).default([]),
    timeoutMs: z.number().int().positive().optional(),
  }),
  /** Job + stage env and build parameters, already merged. */
  env: z.record(z.string(), z.string()),
  /** Secret values: injected as env, masked in every log line before it leaves the agent. */
  secrets: z.record(z.string(), z.string()),
  /** Outputs of earlier stages' steps that have an id, by step id; the runner substitutes references with them. */
  outputs: z.record(z.string(), OutputsWire).optional(),
  /** Artifacts of earlier stages of this build, downloaded into the workspace before the first step. */
  inputArtifacts: z.array(z.object({ id, path: z.string(), size: z.number().int(), sha256: z.string() })).default([]),
  leaseTtlMs: z.number().int().positive(),
  /** The commit to check out, for jobs with a repo. The checkout executor fetches exactly `sha`. */
  source: SourceSchema.optional(),
  /** Registries granted to the job's team, for stages with steps that need the docker capability. */
  registries: z.array(RegistryAccessSchema).optional(),
  /** What the stage environment lets compose files do beyond the default (deploy steps); absent: nothing. */
  deployPolicy: z.object({ allowBindMounts: z.boolean(), allowPrivileged: z.boolean(), allowDockerSocket: z.boolean() }).optional(),
});
export type MasterAssign = z.infer<typeof MasterAssignSchema>;

export const MasterAcceptedSchema = z.object({
  type: z.literal('master:accepted'),
  agentId: id,
  heartbeatIntervalMs: z.number().int().positive(),
  leaseTtlMs: z.number().int().positive(),
  /** Largest frame the master takes; log chunks must stay below it. */
  maxFrameBytes: z.number().int().positive(),
  /** Bytes of unacknowledged log data an agent may have in flight before it pauses the step's output. */
  maxUnackedBytes: z.number().int().positive(),
  /** Per running stage reported in hello: what the master stored and whether to go on. */
  resume: z.array(
    z.object({
      stageRunId: id,
      epoch,
      /** Highest seq stored; replay records after it. */
      storedSeq: seq,
      /** 'abort': the lease is gone (expired, cancelled, re-queued): kill the work, drop its records. */
      action: z.enum(['continue', 'abort']),
    }),
  ),
  /** The third-party plugins to run, at these exact versions. Since protocol 11. */
  plugins: z.array(PluginRefSchema).max(256).optional(),
});

export const MasterRefusedSchema = z.object({
  type: z.literal('master:refused'),
  code: z.number().int(),
  reason: z.string(),
});

export const MasterAckSchema = z.object({
  type: z.literal('master:ack'),
  stageRunId: id,
  epoch,
  /** Cumulative: every record up to and including seq is committed. */
  seq,
});

export const MasterCancelSchema = z.object({
  type: z.literal('master:cancel'),
  stageRunId: id,
  epoch,
  reason: z.string(),
  /** Time between SIGTERM and SIGKILL to the step's process group. */
  graceMs: z.number().int().nonnegative(),
});

export const MasterDrainSchema = z.object({ type: z.literal('master:drain') });

/** The plugins to run changed: the complete list (unlisted plugins are unloaded). Since protocol 11. */
export const MasterPluginsSchema = z.object({
  type: z.literal('master:plugins'),
  plugins: z.array(PluginRefSchema).max(256),
});

export const MasterErrorSchema = z.object({
  type: z.literal('master:error'),
  /** 'lease_mismatch' | 'sequence_gap' | 'bad_record' ... */
  code: z.string(),
  message: z.string(),
  stageRunId: id.optional(),
});

/** Answer to agent:container-logs: the agent may forget the source's entries up to storedThrough. */
export const MasterContainerLogsAckSchema = z.object({
  type: z.literal('master:container-logs-ack'),
  source: z.string().min(1).max(256),
  /** Highest seq of the source the master has stored (cumulative, also for seqs skipped as already stored). */
  storedThrough: seq,
  /** Set when the master refused the batch (e.g. an environment that is not the agent's): nothing was stored. */
  refused: z.string().max(1024).optional(),
});
export type MasterContainerLogsAck = z.infer<typeof MasterContainerLogsAckSchema>;

export const MasterMessageSchema = z.discriminatedUnion('type', [
  MasterAcceptedSchema,
  MasterRefusedSchema,
  MasterAssignSchema,
  MasterAckSchema,
  MasterCancelSchema,
  MasterDrainSchema,
  MasterErrorSchema,
  MasterPluginsSchema,
  MasterContainerLogsAckSchema,
]);
export type MasterMessage = z.infer<typeof MasterMessageSchema>;
export type MasterAccepted = z.infer<typeof MasterAcceptedSchema>;

/** Exhaustiveness check for `switch (msg.type)`. */
export function assertNever(x: never): never {
  throw new Error(`unexpected message: ${JSON.stringify(x)}`);
}
