/**
 * The job file schema: one zod definition used by the master (jobs/*.yml, API), the CLI (apply -f) and
 * the web UI. `parseJobYaml` turns YAML text into a validated, normalised JobConfig, or throws a
 * JobFileError whose issues name the file, line, column and field.
 *
 * A step is a map with exactly one step-kind key (`sh: make`, `test: {run: npm test}`) plus the common
 * keys name / timeout / env / continueOnError. Step kinds are registered in step-kinds.ts.
 */
import { z } from 'zod';
import { notifyChannelSchema } from './notify';
import { parseDuration } from '../duration';
import { unsafeRef, unsafeRepoUrl } from '../git';
import { knownHostsProblem } from '../ssh-host-keys';

export const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const name = (what: string) =>
  z.string().regex(NAME_RE, `${what} must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit`);

export const durationSchema = z.union([z.number().positive(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (use e.g. 30s, 10m, 1h30m or seconds)` });
    return z.NEVER;
  }
  return ms;
});

export const envMapSchema = z
  .record(z.string().regex(ENV_KEY_RE, 'environment variable names are letters, digits and _'), z.union([z.string(), z.number(), z.boolean()]))
  .transform((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)])));

/**
 * Parameter values reach steps as environment variables: Linux refuses one over 128 KiB (E2BIG at exec),
 * and build details show them. Defaults and choices are held to the bound the master applies to values
 * given at trigger time (master/engine/builds/create-build.ts).
 */
export const MAX_PARAM_VALUE_BYTES = 8 * 1024;
const paramValue = z
  .string()
  .refine((v) => new TextEncoder().encode(v).length <= MAX_PARAM_VALUE_BYTES, `a parameter value is at most ${MAX_PARAM_VALUE_BYTES} bytes`);

export const paramSchema = z.strictObject({
  name: z.string().regex(ENV_KEY_RE, 'parameter names are letters, digits and _ (they become environment variables)'),
  default: z.union([z.string(), z.number(), z.boolean()]).transform(String).pipe(paramValue).optional(),
  description: z.string().optional(),
  choices: z.array(paramValue).optional(),
});

export const retrySchema = z.strictObject({
  /** How many times a stage lost with its agent (lease expired) is re-queued as a new attempt. */
  lost: z.number().int().min(0).max(10).default(0),
});

const globList = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => ([] as string[]).concat(v));

export const repoSchema = z.strictObject({
  /** http(s), ssh, git, file URL, scp-like user@host:path or absolute path (checked by shared/git). */
  url: z.string().min(1).superRefine((v, ctx) => {
    const why = unsafeRepoUrl(v);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  }),
  /** Branch built by manual and cron builds. */
  branch: z.string().min(1).default('main').superRefine((v, ctx) => {
    const why = unsafeRef(v);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  }),
  /** Name of a team secret: an HTTP token (used as the password) or an SSH private key ("-----BEGIN ..."). */
  credentials: z.string().regex(ENV_KEY_RE).optional(),
  /** Name of a team secret holding the webhook secret (GitLab token, GitHub/Gitea HMAC key, generic token). */
  webhookSecret: z.string().regex(ENV_KEY_RE).default('WEBHOOK_SECRET'),
  /** Shallow clone depth; 0 fetches the whole history. */
  depth: z.number().int().min(0).default(1),
  submodules: z.boolean().default(false),
  /**
   * known_hosts lines (as printed by `ssh-keyscan -p PORT host`) trusted for SSH repositories and
   * submodules, besides the master's and agents' own known_hosts files; host keys are always verified.
   */
  knownHosts: z
    .string()
    .max(65536)
    .superRefine((v, ctx) => {
      const why = knownHostsProblem(v);
      if (why) ctx.addIssue({ code: 'custom', message: `known_hosts ${why}` });
    })
    .optional(),
});

export const pushTriggerSchema = z.strictObject({
  /** Branch globs (`main`, `release/*`); default: every branch. */
  branches: globList.optional(),
  /** Build tags too: true, false, or tag globs. */
  tags: z.union([z.boolean(), globList]).default(false),
  /** Build only when a changed file matches one of these globs (`src/**`). */
  paths: globList.optional(),
});

export const requestTriggerSchema = z.strictObject({
  /** Target branch globs of merge/pull requests; default: every branch. */
  branches: globList.optional(),
});

export const statusSchema = z.strictObject({
  provider: z.enum(['gitlab', 'github', 'gitea']),
  /** API base, e.g. https://gitlab.example/api/v4 or https://api.github.com. */
  apiUrl: z.string().url(),
  /** Name of a team secret holding the API token. */
  token: z.string().regex(ENV_KEY_RE),
  /** Status context shown by the provider; default `slipway/<job>`. */
  context: z.string().optional(),
});

export const triggersSchema = z.strictObject({
  /** Push webhooks: true (every branch), or filters. Needs `repo`. */
  push: z.union([z.boolean(), pushTriggerSchema]).optional(),
  /** Merge requests (GitLab) / pull requests (GitHub, Gitea): true or filters. Needs `repo`. */
  requests: z.union([z.boolean(), requestTriggerSchema]).optional(),
  /** Poll the repository with ls-remote on this cron schedule, for repositories that cannot send webhooks. */
  poll: z.string().optional(),
  /** One cron expression or a list (node-cron syntax, 5 or 6 fields). */
  cron: z.union([z.string(), z.array(z.string())]).optional(),
  /** IANA time zone for the cron expressions, e.g. Europe/Paris. Default: the master's. */
  timezone: z.string().optional(),
});

/** Roles of a team, lowest first (the approval gate's `roles` names the lowest accepted). */
export const TEAM_ROLES = ['viewer', 'developer', 'maintainer'] as const;

export const approvalSchema = z.strictObject({
  /** Teams whose members may approve (an instance admin always may). */
  teams: z.array(name('team name'), { error: 'a list of the teams whose members may approve, e.g. [shop-leads]' }).min(1, 'an approval names at least one team'),
  /** Roles accepted in those teams; the lowest one listed is the minimum (default developer). */
  roles: z.array(z.enum(TEAM_ROLES)).min(1).optional(),
  /** How long the build waits for a decision before it fails (default 24h). */
  timeout: durationSchema.optional(),
});

export const stepCommonKeys = ['name', 'id', 'timeout', 'env', 'continueOnError'] as const;
export const STEP_ID_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export const stageSchema = z.strictObject({
  name: name('stage name'),
  /** Only agents of this environment run the stage. */
  environment: name('environment'),
  /** The agent must carry every one of these labels. */
  labels: z.array(z.string().min(1)).default([]),
  timeout: durationSchema.optional(),
  env: envMapSchema.default({}),
  /** Workspace-relative files or globs uploaded to the master when the stage succeeds. */
  artifacts: z.array(z.string().min(1)).default([]),
  retry: retrySchema.optional(),
  /** Pause the build before this stage until an authorised user approves (or rejects, or the timeout expires). */
  approval: approvalSchema.optional(),
  /** Host capabilities the stage needs besides its step kinds' (e.g. docker for a shell step running docker). */
  capabilities: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'capability names are a-z, 0-9, _ . -')).default([]),
  /** Check out the build's commit before the first step (default true when the job has a repo). */
  checkout: z.boolean().optional(),
  /** Raw steps; each is validated against its step kind by parseJobYaml. */
  steps: z.array(z.record(z.string(), z.unknown())).min(1, 'a stage needs at least one step'),
});

export const jobSchema = z.strictObject({
  name: name('job name'),
  team: name('team name'),
  description: z.string().optional(),
  repo: repoSchema.optional(),
  params: z.array(paramSchema).default([]),
  env: envMapSchema.default({}),
  /** Names of team secrets injected into every step as environment variables (and masked in logs). */
  secrets: z.array(z.string().regex(ENV_KEY_RE)).default([]),
  triggers: triggersSchema.default({}),
  /** Whole-build timeout. */
  timeout: durationSchema.optional(),
  /** A new build cancels older builds of the same job and branch that are queued or waiting at an approval gate. */
  cancelPrevious: z.boolean().default(false),
  retry: retrySchema.default({ lost: 0 }),
  /** Report pending/success/failure of builds to the Git provider's commit status API. */
  status: statusSchema.optional(),
  /** Notifications on failure, fixed, deploy and approval requested (shared/job/notify.ts). */
  notify: z.array(notifyChannelSchema).max(20).default([]),
  stages: z.array(stageSchema).min(1, 'a job needs at least one stage'),
});
