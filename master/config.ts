/**
 * Master configuration: CLI options (MasterOptions) over environment variables over defaults, validated once
 * into a read-only MasterConfig. A bad value fails fast with an error naming the variable (or flag) and the
 * value expected. The JWT secret and the master key default to random values persisted in the data dir
 * (mode 0600), so sessions and encrypted secrets survive restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { SlipwayError } from '../shared/errors';
import type { MasterConfig } from './context';

/** What `slipway master start` passes; anything left out comes from SLIPWAY_* env vars, then defaults. */
export interface MasterOptions {
  dataDir?: string;
  host?: string;
  port?: number;
  jobsDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  /**
   * Password of the `admin` user created on first start (else SLIPWAY_ADMIN_PASSWORD, else the file
   * SLIPWAY_ADMIN_PASSWORD_FILE names, else random).
   */
  adminPassword?: string;
  /**
   * Directories under which jobs may use local repositories (repo.url an absolute path or file:// URL);
   * else SLIPWAY_ALLOW_LOCAL_REPOS (':'-separated), else none: every local repository is refused.
   */
  allowLocalRepos?: string[] | string;
  /** etcd client URLs where agents register instances (else SLIPWAY_ETCD, comma-separated): `slipway instances`. */
  etcd?: string;
}

/** Raised for invalid configuration; the message names the variable or flag at fault. */
export class ConfigError extends SlipwayError {
  constructor(message: string) {
    super('invalid_request', message);
  }
}

/**
 * The first admin's password from the environment: SLIPWAY_ADMIN_PASSWORD, or the file SLIPWAY_ADMIN_PASSWORD_FILE
 * names (one trailing newline dropped), the way container secrets are passed so that the value does not show in
 * `docker inspect` or /proc/PID/environ; undefined when neither is set. Both set, or an unreadable or empty
 * file, is a ConfigError naming the variable.
 */
export function adminPasswordFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env.SLIPWAY_ADMIN_PASSWORD || undefined;
  const file = env.SLIPWAY_ADMIN_PASSWORD_FILE || undefined;
  if (direct && file) throw new ConfigError('SLIPWAY_ADMIN_PASSWORD and SLIPWAY_ADMIN_PASSWORD_FILE are both set: set one');
  if (!file) return direct;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`SLIPWAY_ADMIN_PASSWORD_FILE: cannot read ${file}: ${(e as Error).message}`);
  }
  const password = text.replace(/\r?\n$/, '');
  if (!password) throw new ConfigError(`SLIPWAY_ADMIN_PASSWORD_FILE: ${file} is empty`);
  return password;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const optionalUrl = z
  .string()
  .refine((v) => /^https?:\/\/[^/]+/.test(v), 'must be an http:// or https:// URL')
  .transform((v) => v.replace(/\/+$/, ''));

/** Every env var the master reads, with its schema and default. */
const envSchema = {
  SLIPWAY_DATA_DIR: z.string().min(1).default('./data'),
  SLIPWAY_HOST: z.string().min(1).default('127.0.0.1'),
  SLIPWAY_PORT: int(0, 65535).default(8080),
  SLIPWAY_PUBLIC_URL: optionalUrl.optional(),
  SLIPWAY_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  SLIPWAY_MASTER_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (32 bytes)').optional(),
  SLIPWAY_JOBS_DIR: z.string().min(1).optional(),
  SLIPWAY_HEARTBEAT_MS: int(10).default(5000),
  SLIPWAY_AGENT_LOST_MS: int(100).default(30_000),
  SLIPWAY_LEASE_TTL_MS: int(100).default(30_000),
  SLIPWAY_CANCEL_GRACE_MS: int(0).default(5000),
  SLIPWAY_MAX_FRAME_BYTES: int(1024).default(1024 * 1024),
  SLIPWAY_MAX_ARTIFACT_BYTES: int(1).default(100 * 1024 * 1024),
  SLIPWAY_KEEP_BUILDS: int(1).default(100),
  SLIPWAY_LOG_DAYS: int(1).default(30),
  /** Days a replaced or deleted team secret value stays masked in container logs (kept sealed); 0 keeps none. */
  SLIPWAY_SECRET_HISTORY_DAYS: int(0, 3650).default(30),
  SLIPWAY_LOGIN_MAX: int(1).default(10),
  SLIPWAY_ETCD: z
    .string()
    .transform((v) => v.split(',').map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^\s/]+\/?$/, 'every endpoint is an http(s) URL such as http://127.0.0.1:2379')))
    .default([]),
  SLIPWAY_ETCD_PREFIX: z.string().startsWith('/', 'a key prefix starting with /').default('/'),
  /** SMTP server of email notifications: smtp(s)://[user:password@]host:port. */
  SLIPWAY_SMTP_URL: z.string().regex(/^smtps?:\/\/[^\s]+$/, 'an smtp:// or smtps:// URL').optional(),
  SLIPWAY_SMTP_FROM: z.string().min(3).default('slipway@localhost'),
  /** First retry delay of a failed notification (doubled per attempt, 6 attempts). */
  SLIPWAY_NOTIFY_BACKOFF_MS: int(10).default(5000),
  /** How long a plugin notifier may take for one delivery attempt before it is killed. */
  SLIPWAY_NOTIFY_PLUGIN_TIMEOUT_MS: int(100).default(10_000),
  SLIPWAY_ALLOW_LOCAL_REPOS: z
    .string()
    .transform((v) => v.split(':').map((d) => d.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine((d) => d.startsWith('/'), 'every directory must be an absolute path')))
    .default([]),
  SLIPWAY_AGENT_BUNDLE_DIR: z.string().min(1).optional(),
} as const;

type EnvKey = keyof typeof envSchema;
type EnvValues = { [K in EnvKey]: z.output<(typeof envSchema)[K]> };

/** Flags override env vars; each flag is validated under the name the user typed. */
const flagFor: Partial<Record<EnvKey, { key: keyof MasterOptions; flag: string }>> = {
  SLIPWAY_DATA_DIR: { key: 'dataDir', flag: '--data-dir' },
  SLIPWAY_HOST: { key: 'host', flag: '--host' },
  SLIPWAY_PORT: { key: 'port', flag: '--port' },
  SLIPWAY_JOBS_DIR: { key: 'jobsDir', flag: '--jobs-dir' },
  SLIPWAY_ALLOW_LOCAL_REPOS: { key: 'allowLocalRepos', flag: '--allow-local-repos' },
  SLIPWAY_ETCD: { key: 'etcd', flag: '--etcd' },
};

/**
 * Builds the validated config. Creates the data dir (0700) and, when not given, the persisted
 * jwt.secret and master.key. Throws ConfigError naming every bad variable or flag.
 */
export function loadConfig(options: MasterOptions = {}, env: NodeJS.ProcessEnv = process.env): MasterConfig {
  const values: Partial<Record<EnvKey, unknown>> = {};
  const problems: string[] = [];
  for (const key of Object.keys(envSchema) as EnvKey[]) {
    const flag = flagFor[key];
    const fromFlag = flag ? options[flag.key] : undefined;
    const flagText = Array.isArray(fromFlag) ? fromFlag.join(':') : fromFlag;
    const raw = flagText !== undefined ? String(flagText) : env[key] === '' ? undefined : env[key];
    const parsed = envSchema[key].safeParse(raw);
    if (parsed.success) values[key] = parsed.data;
    else {
      const name = fromFlag !== undefined ? flag!.flag : key;
      problems.push(`${name}: ${parsed.error.issues[0].message} (got ${JSON.stringify(raw)})`);
    }
  }
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) problems.push('--tls-cert and --tls-key must be given together');
  for (const [flag, file] of [['--tls-cert', options.tlsCert], ['--tls-key', options.tlsKey]] as const) {
    if (file && !existsSync(file)) problems.push(`${flag}: file not found: ${file}`);
  }
  if (problems.length) throw new ConfigError(`invalid master configuration:\n  ${problems.join('\n  ')}`);
  const v = values as EnvValues;

  const dataDir = resolve(v.SLIPWAY_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const jwtSecret = v.SLIPWAY_JWT_SECRET ?? persisted(join(dataDir, 'jwt.secret'), () => randomBytes(32).toString('hex'), /^[0-9a-f]{64}$/);
  const keyHex = v.SLIPWAY_MASTER_KEY ?? persisted(join(dataDir, 'master.key'), () => randomBytes(32).toString('hex'), /^[0-9a-fA-F]{64}$/);

  return Object.freeze({
    dataDir,
    host: v.SLIPWAY_HOST,
    port: v.SLIPWAY_PORT,
    publicUrl: v.SLIPWAY_PUBLIC_URL,
    tls: options.tlsCert && options.tlsKey ? { certFile: resolve(options.tlsCert), keyFile: resolve(options.tlsKey) } : undefined,
    jwtSecret,
    masterKey: Buffer.from(keyHex, 'hex'),
    jobsDir: v.SLIPWAY_JOBS_DIR ? resolve(v.SLIPWAY_JOBS_DIR) : undefined,
    heartbeatIntervalMs: v.SLIPWAY_HEARTBEAT_MS,
    agentLostAfterMs: v.SLIPWAY_AGENT_LOST_MS,
    leaseTtlMs: v.SLIPWAY_LEASE_TTL_MS,
    cancelGraceMs: v.SLIPWAY_CANCEL_GRACE_MS,
    maxFrameBytes: v.SLIPWAY_MAX_FRAME_BYTES,
    maxArtifactBytes: v.SLIPWAY_MAX_ARTIFACT_BYTES,
    retention: { builds: v.SLIPWAY_KEEP_BUILDS, logsDays: v.SLIPWAY_LOG_DAYS },
    secretHistoryDays: v.SLIPWAY_SECRET_HISTORY_DAYS,
    loginRateLimit: { max: v.SLIPWAY_LOGIN_MAX, windowMs: 60_000 },
    allowLocalRepos: Object.freeze(v.SLIPWAY_ALLOW_LOCAL_REPOS.map((d) => resolve(d))),
    etcd: v.SLIPWAY_ETCD.length ? Object.freeze({ endpoints: Object.freeze(v.SLIPWAY_ETCD), prefix: v.SLIPWAY_ETCD_PREFIX }) : undefined,
    agentBundleDir: v.SLIPWAY_AGENT_BUNDLE_DIR ? resolve(v.SLIPWAY_AGENT_BUNDLE_DIR) : undefined,
    notify: Object.freeze({ smtpUrl: v.SLIPWAY_SMTP_URL, smtpFrom: v.SLIPWAY_SMTP_FROM, backoffMs: v.SLIPWAY_NOTIFY_BACKOFF_MS, pluginTimeoutMs: v.SLIPWAY_NOTIFY_PLUGIN_TIMEOUT_MS }),
  });
}

/** Reads a secret file, or creates it (0600) with a fresh value on first start. */
function persisted(file: string, create: () => string, valid: RegExp): string {
  if (existsSync(file)) {
    const value = readFileSync(file, 'utf8').trim();
    if (!valid.test(value)) throw new ConfigError(`${file}: corrupt (expected 64 hex characters); restore it from a backup`);
    return value;
  }
  const value = create();
  // 'wx' fails instead of overwriting if another process created the file meanwhile.
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return value;
}
