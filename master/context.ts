/**
 * What the parts of the master share. The platform half (store, auth, teams, environments, jobs, secrets,
 * HTTP server) builds the context; the engine half (scheduler, agent gateway, logs, builds, artifacts,
 * stream) receives it. Neither reaches into the other's files except through these interfaces.
 */
import type { PushGrant } from '../shared/registry-prefixes';
import type { Logger } from 'pino';
import type { JobConfig } from '../shared/job';
import type { RegistryAccess } from '../shared/protocol';
import type { Db } from './store/db';
import type { PluginService } from './plugins/service';

export type TeamRole = 'maintainer' | 'developer' | 'viewer';
export type TokenScope = 'read' | 'write' | 'admin';

/** The authenticated caller of an HTTP request or stream connection. */
export interface Principal {
  userId: number;
  username: string;
  /** An instance admin acting with admin powers: via a JWT session, or a personal token with the 'admin' scope. */
  isAdmin: boolean;
  /** JWT sessions carry every scope; personal API tokens carry the scopes they were created with. */
  scopes: TokenScope[];
  via: 'jwt' | 'token';
}

/**
 * What a caller wants to do with a team's object.
 * read: viewer+. trigger (builds, cancel, re-run): developer+. edit (jobs): developer+.
 * manage (secrets, members, delete jobs): maintainer. Admins may do everything.
 * Callers outside the team get not_found (404), members whose role is too low get forbidden (403).
 */
export type Action = 'read' | 'trigger' | 'edit' | 'manage';

export interface MasterConfig {
  dataDir: string;
  host: string;
  /** 0 picks a free port; the chosen port is printed and written to <dataDir>/master.json. */
  port: number;
  /** Public URL agents and users reach (printed at start). */
  publicUrl?: string;
  tls?: { certFile: string; keyFile: string };
  jwtSecret: string;
  /** 32-byte key (hex or base64 in config/env) for AES-256-GCM secrets at rest. */
  masterKey: Buffer;
  jobsDir?: string;
  heartbeatIntervalMs: number;
  /** An agent without a heartbeat for this long is 'lost'. */
  agentLostAfterMs: number;
  leaseTtlMs: number;
  /** Grace between SIGTERM and SIGKILL when cancelling. */
  cancelGraceMs: number;
  maxFrameBytes: number;
  maxArtifactBytes: number;
  retention: { builds: number; logsDays: number };
  /** Days a replaced or deleted secret value is kept (sealed) to mask it in container logs; 0 keeps none. */
  secretHistoryDays: number;
  loginRateLimit: { max: number; windowMs: number };
  /** Notifications: the SMTP server of email channels (none: email is not sent, said per delivery), retry backoff. */
  notify?: { smtpUrl?: string; smtpFrom: string; backoffMs: number; pluginTimeoutMs?: number };
  /**
   * Directories (absolute) under which jobs may use local repositories; empty = none. The data dir is never
   * allowed (master/git/local-repos.ts).
   */
  allowLocalRepos: readonly string[];
  /** Where agents register deployed instances; undefined: the master does not list instances. */
  etcd?: { endpoints: readonly string[]; prefix: string };
  /** Where the agent bundle the master serves lives (SLIPWAY_AGENT_BUNDLE_DIR); default <repo>/dist/agent. */
  agentBundleDir?: string;
}

export interface JobRecord {
  id: number;
  name: string;
  teamId: number;
  team: string;
  yaml: string;
  source: 'file' | 'api';
  filePath: string | null;
  enabled: boolean;
  config: JobConfig;
}

export interface Access {
  /** The caller's role in a team, or null when not a member. Admins get 'maintainer' everywhere. */
  roleIn(p: Principal, teamId: number): TeamRole | null;
  /** Team ids the caller may read (all teams for admins). */
  visibleTeamIds(p: Principal): number[];
  /** Throws not_found (not a member) or forbidden (role or token scope too low). */
  check(p: Principal, teamId: number, action: Action, what: string): void;
}

export interface Jobs {
  /** A job by id, enabled or not. Names are unique per team only: the engine keys jobs by id. */
  byId(id: number): JobRecord | undefined;
  /** Every enabled job; the cron scheduler re-reads it through onChange. */
  all(): JobRecord[];
  /** Called after a job is created, updated, disabled or removed (cron re-plans). */
  onChange(listener: (job: JobRecord | undefined, id: number) => void): void;
}

export interface Registries {
  /** The registries granted to a team, with credentials: only for that team's master:assign. */
  grantedTo(teamId: number): RegistryAccess[];
  /** The registries granted to a team with the repository prefixes it may push to (checked at dispatch). */
  pushGrants(teamId: number): PushGrant[];
}

export interface Secrets {
  /** Decrypted values of the named team secrets; missing names are omitted. */
  resolve(teamId: number, names: string[]): Record<string, string>;
  /**
   * Values the named secrets held before a replacement or deletion, within the history period (master
   * SLIPWAY_SECRET_HISTORY_DAYS): only for masking logs, never returned by any API.
   */
  previousValues(teamId: number, names: string[]): string[];
}

/**
 * A change of who may see what, told after it committed: the client stream re-checks the open
 * subscriptions it may affect at once (master/engine/stream/hub.ts). Job moves between teams and job
 * disabling arrive through Jobs.onChange instead.
 */
export type AccessChange =
  /** A membership of the team was added, changed or removed. */
  | { kind: 'membership'; teamId: number }
  /** One of the user's API tokens was revoked. */
  | { kind: 'token-revoked'; userId: number }
  /** The user was disabled or enabled (or lost admin powers). */
  | { kind: 'user'; userId: number };

export interface MasterContext {
  config: MasterConfig;
  db: Db;
  log: Logger;
  access: Access;
  jobs: Jobs;
  secrets: Secrets;
  registries: Registries;
  /** Installed plugins and the step kind registries with them (absent in unit fixtures: built-ins only). */
  plugins?: PluginService;
  /** Authenticates a bearer credential (JWT or personal API token); null when invalid or revoked. */
  authenticate(bearer: string): Principal | null;
  /** Authenticates an agent token; null when unknown or revoked. */
  authenticateAgent(token: string): { tokenId: number; environmentId: number; environment: string } | null;
  /**
   * Registers a listener called (synchronously, after the revocation committed) when an agent token is
   * revoked; the engine disconnects every agent connected with that token.
   */
  onAgentTokenRevoked(listener: (tokenId: number) => void): void;
  /** Announces an access change; call it after the change committed. Listeners run synchronously. */
  accessChanged(change: AccessChange): void;
  /** Registers a listener for access changes (the client stream). */
  onAccessChanged(listener: (change: AccessChange) => void): void;
}
