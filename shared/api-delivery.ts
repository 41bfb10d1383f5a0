/**
 * API shapes of the delivery part: deployments, registries, instances and edges (re-exported by shared/api.ts).
 */

/** One successful deploy of an app to an environment (GET /deployments). */
export interface DeploymentInfo {
  id: number;
  app: string;
  environment: string;
  job: string;
  team: string;
  /** Null once retention removed the build. */
  buildId: number | null;
  buildNumber: number;
  stage: string;
  /** The image reference applied; `digest` is its sha256 digest when the reference carries one. */
  image: string;
  digest: string | null;
  replicas: number;
  instances: string[];
  /** The rendered compose file applied (secrets as references). */
  compose: string;
  /** The user who triggered the build (or the trigger's kind: push, cron...). */
  triggeredBy: string;
  /** Who approved the stage's gate, when it had one. */
  approvedBy: string | null;
  /** Why the deploy failed and was rolled back (health probes, exit code, log tail); null when it succeeded. */
  failure: string | null;
  createdAt: number;
}
/** POST /deployments/rollback body. */
export interface RollbackRequest {
  app: string;
  environment: string;
}
/** The registered instances of one app in one environment (GET /instances), read from etcd by the master. */
export interface InstanceInfo {
  app: string;
  environment: string;
  /** The job whose deploy step deploys the app there. */
  job: string;
  instances: { address: string; reachable: boolean; detail: string }[];
}

/** An edge (an agent running the edge service) and its last reload and error (GET /edges). */
export interface EdgeInfo {
  agent: string;
  environment: string;
  state: string;
  detail: string;
  facts: Record<string, string | number | boolean>;
  at: number;
}

/** An image registry as listed to users: never its password. */
export interface RegistryInfo {
  name: string;
  url: string;
  username: string | null;
  hasPassword: boolean;
  /** Teams the registry is granted to: their image and deploy steps get its credentials. */
  teams: string[];
  /** Per granted team, the repository prefixes its image steps may push to (shared/registry-prefixes.ts). */
  grants: RegistryGrant[];
  createdAt: number;
}

/** A team's grant of a registry: `*` (any repository), `shop/` (under shop/) or `shop/web` (that repository and below). */
export interface RegistryGrant {
  team: string;
  prefixes: string[];
}

/** A repository of a registry with its tags and their manifest digests. */
export interface RegistryRepository {
  name: string;
  tags: { tag: string; digest: string | null }[];
}

/** POST /registries body (admin). */
export interface RegistryInput {
  name: string;
  url: string;
  username?: string;
  password?: string;
  teams: string[];
  /**
   * Repository prefixes per team (a team of `teams` -> its prefixes). A team left out gets the default: `TEAM/`
   * when the registry is granted to several teams, `*` when to one.
   */
  prefixes?: Record<string, string[]>;
}
