/**
 * The public HTTP API (JSON under /api/v1) as the CLI and the web UI see it: request and response shapes.
 * Authentication: `Authorization: Bearer <JWT from POST /auth/login, or a personal API token>`.
 * Errors: ErrorBody from shared/errors with the status of its code. A caller outside a job's team gets
 * 404 for the job, its builds, logs and artifacts; a member whose role is too low gets 403.
 *
 * Routes (owner in brackets: P = master platform, E = master engine):
 *  [P] GET    /healthz                                   -> { ok: true, version }
 *  [P] POST   /api/v1/auth/login        LoginRequest     -> LoginResponse     (rate-limited per IP+username: 429)
 *  [P] GET    /api/v1/me                                 -> Me
 *  [P] GET    /api/v1/tokens                             -> ApiTokenInfo[]
 *  [P] POST   /api/v1/tokens            CreateApiToken   -> CreatedToken      (write scope; never more scopes than the caller's; shown once)
 *  [P] DELETE /api/v1/tokens/:id                         -> 204               (revoke)
 *  [P] GET    /api/v1/users                              -> UserInfo[]        (admin)
 *  [P] POST   /api/v1/users             CreateUser       -> UserInfo          (admin)
 *  [P] PUT    /api/v1/users/:username/disabled { disabled } -> UserInfo   (admin; a disabled user cannot log in, and their
 *             sessions, tokens and open streams stop working at once)
 *  [P] GET    /api/v1/teams                              -> TeamInfo[]        (mine; all for admin)
 *  [P] POST   /api/v1/teams             { name }         -> TeamInfo          (admin)
 *  [P] PUT    /api/v1/teams/:team/members/:username { role } -> 204          (admin or team maintainer; for non-admins an
 *             unknown name becomes a pending membership, listed like the others, applied when the user is created)
 *  [P] DELETE /api/v1/teams/:team/members/:username      -> 204
 *  [P] GET    /api/v1/teams/:team/secrets                -> { name, updatedAt }[]   (maintainer; never values)
 *  [P] PUT    /api/v1/teams/:team/secrets/:name { value } -> 204           (maintainer)
 *  [P] DELETE /api/v1/teams/:team/secrets/:name          -> 204
 *  [P] GET    /api/v1/environments                       -> EnvironmentInfo[]
 *  [P] POST   /api/v1/environments      { name, description?, protected?, teams? } -> EnvironmentInfo (admin)
 *  [P] PUT    /api/v1/environments/:env { description?, protected?, teams? } -> EnvironmentInfo (admin; teams: who may
 *             approve stages of a protected environment)
 *  [P] GET    /api/v1/environments/:env/agent-tokens     -> AgentTokenInfo[]  (admin)
 *  [P] POST   /api/v1/environments/:env/agent-tokens { name } -> CreatedToken (admin; token shown once)
 *  [P] DELETE /api/v1/agent-tokens/:id                   -> 204               (admin; revoke, disconnects agents)
 *  [P] GET    /api/v1/jobs                               -> JobInfo[]         (visible teams)
 *  [P] POST   /api/v1/jobs              { yaml }         -> JobInfo           (create or update; edit role; 409 if file-managed)
 *  [P] GET    /api/v1/jobs/:job                          -> JobInfo & { yaml }
 *  [P] DELETE /api/v1/jobs/:job                          -> 204               (manage role; keeps history, disables)
 *  [P] POST   /api/v1/jobs/:job/move  { team }           -> JobInfo           (manage role in its team, edit role in the
 *             target; keeps its id and history; 409 when the target has a job of that name or a file manages it)
 *  [P] POST   /api/v1/jobs/validate     { yaml }         -> { ok: true } | ErrorBody with issues
 *  [E] POST   /api/v1/jobs/:job/builds  TriggerRequest   -> BuildInfo (201)   (trigger role)
 *  [E] GET    /api/v1/jobs/:job/builds  ?limit&before    -> BuildInfo[]
 *  [E] GET    /api/v1/builds/:id                         -> BuildDetail (also for the approvers of an open approval gate)
 *  [E] POST   /api/v1/builds/:id/cancel                  -> BuildInfo
 *  [E] POST   /api/v1/builds/:id/rerun  { stage? }       -> BuildInfo (201)   (new build; with stage: from that stage on)
 *  [E] GET    /api/v1/builds/:id/log    ?stageRunId      -> text/plain, whole stored log in order
 *  [E] GET    /api/v1/builds/:id/artifacts               -> ArtifactInfo[]
 *  [E] GET    /api/v1/builds/:id/outputs                 -> StepOutputInfo[]  (every step output of the build)
 *  [E] GET    /api/v1/builds/:id/reports                 -> ReportInfo[]      (reports with their totals)
 *  [E] GET    /api/v1/builds/:id/tests  ?status&limit    -> TestResultInfo[]  (test cases, failures first)
 *  [E] GET    /api/v1/builds/:id/findings ?severity&new&limit -> FindingsPage (SARIF findings, new ones marked)
 *  [E] GET    /api/v1/builds/:id/test-report ?slowest    -> TestReport (newly failing vs the previous build of the
 *             branch, fixed, flaky on the same commit, slowest)
 *  [E] GET    /api/v1/jobs/:job/test-trend ?limit        -> TestTrendPoint[] (per build with test reports, newest first)
 *  [E] GET    /api/v1/builds/:id/notifications           -> NotificationInfo[] (deliveries of the build's events, retries)
 *  [E] GET    /api/v1/teams/:team/notifications          -> TeamNotifierInfo[]  (maintainer; the team's own channels)
 *  [E] PUT    /api/v1/teams/:team/notifications/:name  NotifyChannel -> TeamNotifierInfo (maintainer)
 *  [E] DELETE /api/v1/teams/:team/notifications/:name    -> 204
 *  [E] GET    /api/v1/artifacts/:id                      -> the file (application/octet-stream)
 *  [E] GET    /api/v1/logs/search       ?q&job&limit     -> SearchHit[]       (only teams the caller sees; job: name or team/name)
 *  [E] GET    /api/v1/agents                             -> AgentInfo[]
 *  [E] POST   /api/v1/agents/:id/drain                   -> AgentInfo         (admin)
 *  [E] GET    /api/v1/plugins                            -> PluginInfo[]      (step kinds: schema + agents' executors)
 *  [E] GET    /api/v1/plugins/schema                     -> JSON Schema of every step key (editors, UI forms)
 *  (installed plugin packages, admin: /api/v1/plugins/packages..., see shared/api-plugins.ts)
 *  [G] POST   /api/v1/hooks/gitlab   GitLab Push Hook, Tag Push Hook, Merge Request Hook (X-Gitlab-Token)
 *  [G] POST   /api/v1/hooks/github   push, ping, pull_request (X-Hub-Signature-256 over the raw body)
 *  [G] POST   /api/v1/hooks/gitea    push, pull_request (X-Gitea-Signature, hex HMAC-SHA256 of the raw body)
 *  [G] POST   /api/v1/hooks/generic  GenericPush (Authorization: Bearer <the job's or team's webhook secret>)
 *             All hooks: 202 WebhookResult (queued first, work later); 401 bad/missing secret (nothing queued);
 *             413 over the size limit; unknown event -> 202 with ignored reason; duplicate delivery -> queued once;
 *             jobs with path filters and a delivery without its changed files -> listed in `pending`, decided after.
 *  [G] GET    /api/v1/jobs/:job/triggers                 -> TriggerEventInfo[]  (read role)
 *  [G] POST   /api/v1/builds/:id/approve                 -> BuildInfo           (trigger role; fork request builds waiting for approval)
 *  [E] POST   /api/v1/builds/:id/stages/:stage/approve { comment? } -> BuildInfo (an approver of the stage's gate: a member
 *             of a team the gate names, with the role it needs, or an admin; 403 naming who may; 409 unless the stage waits)
 *  [E] POST   /api/v1/builds/:id/stages/:stage/reject  { comment? } -> BuildInfo (same approvers; the build fails)
 *  [E] GET    /api/v1/approvals                          -> PendingApproval[] (open gates of builds of the caller's teams
 *             and those the caller may decide, oldest first; `mayDecide` says which)
 *  [E] GET    /api/v1/deployments       ?app&environment&limit -> DeploymentInfo[] (newest first; jobs of the caller's teams)
 *  [E] POST   /api/v1/deployments/rollback { app, environment } -> BuildInfo (201) (trigger role on the job of the
 *             deployment rolled back to: a new build re-running only its deploy stage, subject to its approval gates)
 *  [E] WS     /api/v1/stream                             (shared/protocol/client.ts)
 *  [E] WS     /ws/agent                                  (shared/protocol/messages.ts)
 *  [E] PUT    /api/v1/agent/stage-runs/:id/artifacts?path=  body = file bytes; headers Authorization: Bearer <agent
 *             token>, X-Slipway-Epoch, X-Slipway-Sha256 -> ArtifactInfo (413 over maxArtifactBytes)
 *  [E] GET    /api/v1/agent/artifacts/:id              agent token of a connected agent holding a lease on that build
 *  [E] PUT    /api/v1/agent/stage-runs/:id/reports?step=&format=&path=[&missing=1]  body = the report file; same
 *             headers as an artifact upload. Stored as an artifact, parsed on the master -> ReportSummary
 */
import type { ReportInfo } from './api-quality';

export * from './api-delivery';
export * from './api-quality';

export type Role = 'maintainer' | 'developer' | 'viewer';

export interface LoginRequest {
  username: string;
  password: string;
}
export interface LoginResponse {
  token: string;
  expiresAt: number;
  user: Me;
}
export interface Me {
  id: number;
  username: string;
  isAdmin: boolean;
  teams: { name: string; role: Role }[];
}
export interface CreateApiToken {
  name: string;
  scopes: ('read' | 'write' | 'admin')[];
}
export interface ApiTokenInfo {
  id: number;
  name: string;
  scopes: string[];
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}
export interface CreatedToken {
  id: number;
  name: string;
  /** Shown once; only its hash is stored. */
  token: string;
}
export interface CreateUser {
  username: string;
  password: string;
  isAdmin?: boolean;
}
export interface UserInfo {
  id: number;
  username: string;
  isAdmin: boolean;
  /** True while the user is disabled (no login; sessions and tokens refused); absent otherwise. */
  disabled?: boolean;
}
export interface TeamInfo {
  id: number;
  name: string;
  /** The caller's role (admins see 'maintainer'). */
  role: Role | null;
  members?: { username: string; role: Role }[];
}
export interface EnvironmentInfo {
  id: number;
  name: string;
  description: string;
  /** Stages running here wait for an approval by a member of `teams` (or an admin), declared or not. */
  protected: boolean;
  /** Teams whose members (developer or higher) may approve stages of this environment when it is protected. */
  teams: string[];
  /** What compose files deployed here may do beyond the default (all false: refused). */
  deployPolicy: { allowBindMounts: boolean; allowPrivileged: boolean; allowDockerSocket: boolean };
}
/** POST /environments and PUT /environments/:env bodies (admin). */
export interface EnvironmentInput {
  name?: string;
  description?: string;
  protected?: boolean;
  teams?: string[];
  deployPolicy?: Partial<EnvironmentInfo['deployPolicy']>;
}
/** An approval gate a stage run waited (or waits) at. */
export interface ApprovalInfo {
  stage: string;
  stageRunId: number;
  environment: string;
  status: 'waiting' | 'approved' | 'rejected' | 'expired' | 'cancelled';
  /** Who may decide, e.g. "a member of shop-leads (developer or higher), or an instance admin". */
  required: string;
  createdAt: number;
  expiresAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  comment: string | null;
}
/** An open approval gate with its build (GET /approvals): what the deployments page lists to approve or reject. */
export interface PendingApproval extends ApprovalInfo {
  buildId: number;
  job: string;
  team: string;
  number: number;
  /** Whether the caller may approve or reject it (an approver of the gate as its rules are now, or an admin). */
  mayDecide: boolean;
}
export interface AgentTokenInfo {
  id: number;
  name: string;
  environment: string;
  createdAt: number;
  revokedAt: number | null;
}
export interface JobInfo {
  id: number;
  name: string;
  team: string;
  description?: string;
  source: 'file' | 'api';
  filePath: string | null;
  enabled: boolean;
  stages: { name: string; environment: string }[];
  params: { name: string; default?: string; description?: string; choices?: string[] }[];
  lastBuild?: BuildInfo | null;
  /** Problems that keep parts of the job from ever running (a stage's environment does not exist); absent when none. */
  warnings?: string[];
}
export interface TriggerRequest {
  params?: Record<string, string>;
  branch?: string;
}
/** 'waiting': a merge/pull request build from a fork, waiting for a team member's approval. */
export type BuildStatus = 'waiting' | 'queued' | 'running' | 'success' | 'failed' | 'cancelled' | 'timeout';
export interface CommitInfo {
  author?: string;
  message?: string;
  url?: string;
  /** Files changed by the push (from the payload, or diffed by the agent against the previous built commit). */
  changedFiles?: string[];
}
export interface RequestInfo {
  provider: 'gitlab' | 'github' | 'gitea';
  number: number;
  sourceRepo: string;
  sourceBranch: string;
  targetBranch: string;
  /** From another repository: no secrets, and the build waits for approval. */
  fork: boolean;
}
export interface GenericPush {
  /** Repository URL (any form: matched after normalisation). */
  repository: string;
  /** Full ref, e.g. refs/heads/main or refs/tags/v1. */
  ref: string;
  sha: string;
  /** Optional: previous head (all zeros = new branch). */
  before?: string;
  message?: string;
  author?: string;
  changedFiles?: string[];
  deliveryId?: string;
}
/**
 * A webhook's answer. Job names are unique per team only, so every job is named by `job` and its `team` (the
 * job's reference is `team/job`); `team` was added beside `job`, which keeps its meaning.
 */
export interface WebhookResult {
  /** Builds queued by this delivery. */
  queued: { job: string; team: string; buildId: number; number: number }[];
  /** Jobs (or the delivery as a whole, job and team null) that did not build, with why. */
  ignored: { job: string | null; team: string | null; reason: string }[];
  /**
   * Jobs whose path filter (triggers.push.paths) needs the changed files the delivery did not list: decided
   * after the answer with a git diff on the master; GET /jobs/:job/triggers shows the row turn 'queued' or 'ignored'.
   */
  pending: { job: string; team: string; reason: string }[];
  duplicate?: boolean;
}
export interface TriggerEventInfo {
  id: number;
  provider: string;
  event: string;
  deliveryId: string | null;
  ref: string | null;
  sha: string | null;
  /**
   * 'pending': a path filter waiting for the master's git diff; the same event later reads 'queued' or 'ignored'.
   * 'rejected' is no longer recorded (a job's history holds only deliveries its own secret verified); kept
   * for clients reading older masters.
   */
  outcome: 'pending' | 'queued' | 'ignored' | 'rejected' | 'duplicate';
  reason: string;
  buildId: number | null;
  createdAt: number;
}
/**
 * Why a build or stage run ended (null while it is open): 'lost' is an agent lost with no retry left,
 * 'gate_rejected' / 'gate_expired' an approval gate rejected or timed out, 'skipped' (stage runs) never ran.
 */
export type EndReason = 'succeeded' | 'failed' | 'cancelled' | 'timeout' | 'lost' | 'gate_rejected' | 'gate_expired' | 'skipped';
export interface BuildInfo {
  id: number;
  job: string;
  team: string;
  number: number;
  status: BuildStatus;
  params: Record<string, string>;
  trigger: { kind: string; user?: string; [k: string]: unknown };
  branch: string | null;
  /** Full ref built (refs/heads/main, refs/tags/v1, refs/pull/7/head). */
  ref: string | null;
  commit: string | null;
  commitInfo: CommitInfo | null;
  request: RequestInfo | null;
  approvedBy: string | null;
  error: string | null;
  /** Why the build ended (null while open); `error` says it in words. */
  endReason: EndReason | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}
export interface StepInfo {
  index: number;
  name: string;
  kind: string;
  status: string;
  exitCode: number | null;
  error: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  /** Outputs the step published (shared/job/outputs.ts). */
  outputs: Record<string, string | number | boolean | string[]>;
}
export interface StageRunInfo {
  id: number;
  index: number;
  name: string;
  environment: string;
  attempt: number;
  status: string;
  agent: string | null;
  error: string | null;
  /** Why the stage run ended (null while open). */
  endReason: EndReason | null;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  logBytes: number;
  /**
   * Why a queued stage run is not running yet, e.g. 'waiting: no agent of environment pre with capability docker',
   * or who must approve a stage run in status 'waiting'; null otherwise.
   */
  waiting: string | null;
  steps: StepInfo[];
}
export interface BuildDetail extends BuildInfo {
  stages: StageRunInfo[];
  /** Approval gates of the build's stages, oldest first (who decided what, when). */
  approvals: ApprovalInfo[];
  /** Reports attached by the build's steps, with their totals (test cases: GET /builds/:id/tests). */
  reports: ReportInfo[];
}
export interface StepOutputInfo {
  stageRunId: number;
  stageIndex: number;
  stepIndex: number;
  /** The step's id in the job file (null: the step has none and cannot be referenced). */
  stepId: string | null;
  key: string;
  value: string | number | boolean | string[];
}
export interface ArtifactInfo {
  id: number;
  buildId: number;
  stageRunId: number;
  path: string;
  size: number;
  sha256: string;
}
export interface SearchHit {
  buildId: number;
  job: string;
  /** The job's team (job names are unique per team only). */
  team: string;
  number: number;
  stageRunId: number;
  stage: string;
  /** The matching lines of the chunk (up to a few), without ANSI escapes. */
  lines: string[];
}
export interface AgentInfo {
  id: number;
  name: string;
  environment: string;
  labels: string[];
  capacity: number;
  /** connected (idle), busy, draining, lost, offline */
  state: 'connected' | 'busy' | 'draining' | 'lost' | 'offline';
  running: number;
  lastSeenAt: number | null;
  version: string | null;
  /** Set while the agent drains to replace itself with the master's agent bundle of this version. */
  upgradingTo: string | null;
  /** Protocol version of its connection (null when not connected). */
  protocolVersion: number | null;
  /** Step kinds the agent runs (its executors). */
  kinds: string[];
  /** Host capabilities the agent probed at start; only ok ones count for scheduling. */
  capabilities: { name: string; ok: boolean; detail: string }[];
  /** The agent's services, as last reported. */
  services: { name: string; state: string; detail: string; facts: Record<string, string | number | boolean>; at: number }[];
  /** Plugins a connected agent runs ('builtin' included), with the reason one failed to load. Since protocol 11. */
  plugins?: { name: string; version: string; state: 'loaded' | 'failed'; error?: string }[];
}
export interface PluginInfo {
  kind: string;
  aliases: string[];
  /** Host capabilities an agent needs for this kind. */
  capabilities: string[];
  /** Versions reported by connected agents' executors, by agent name. */
  agents: { agent: string; version: string }[];
}
