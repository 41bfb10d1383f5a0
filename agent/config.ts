/**
 * AgentOptions (CLI flags, env) -> AgentConfig, validated once; a bad option fails fast naming the option.
 */
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { EMPTY_AGENT_FILE, loadAgentFile, type AgentFile } from './agent-file';

/** What `slipway agent start` passes to startAgent. */
export interface AgentOptions {
  /** http(s) URL of the master; the WebSocket URL is derived from it (ws/wss, path /ws/agent). */
  url: string;
  /** Agent token; or tokenFile; or env SLIPWAY_AGENT_TOKEN. */
  token?: string;
  tokenFile?: string;
  name: string;
  environment: string;
  /** List or comma-separated string. */
  labels?: string[] | string;
  capacity?: number | string;
  /** Default ./agent-work. */
  workDir?: string;
  /** CA certificate file to trust for https/wss. */
  caFile?: string;
  /**
   * The agent owns its process (default true, as under the CLI): SIGTERM/SIGINT drain and exit, and a
   * refusal the agent cannot recover from (bad token, version mismatch) exits with code 1. Tests pass false.
   */
  ownProcess?: boolean;
  /** Delay between SIGTERM and SIGKILL on step/stage timeouts (default 5000). */
  killGraceMs?: number;
  /** Keep workspaces after a stage ends (default false: removed). */
  keepWorkspaces?: boolean;
  /** Pooled job workspaces unused for longer are removed (days > 0; default env SLIPWAY_WORKSPACE_DAYS, else 7). */
  workspaceDays?: number | string;
  /** The agent config file (agent-file.ts): docker/etcd/nginx settings, declared capabilities, executors, services. */
  configFile?: string;
  /** Services to run besides the file's (`--service disk-space`), with default settings. */
  services?: string[];
  /** Capabilities to declare besides the file's (`--capability docker`): taken as present without probing. */
  capabilities?: string[];
  /** Health check interval of the services (default 10 s). */
  serviceIntervalMs?: number;
  /**
   * Keep the agent's version equal to the master's agent bundle (agent/self-upgrade.ts): drain, replace the
   * bundle file, exit 75 for the supervisor to restart it. Only an agent run from the bundle can; default false.
   */
  autoUpgrade?: boolean;
}

export interface AgentConfig {
  url: string;
  wsUrl: string;
  token: string;
  name: string;
  environment: string;
  labels: string[];
  capacity: number;
  workDir: string;
  ca?: Buffer;
  ownProcess: boolean;
  killGraceMs: number;
  keepWorkspaces: boolean;
  workspaceDays: number;
  /** The validated agent config file merged with --service/--capability (EMPTY_AGENT_FILE without one). */
  file: AgentFile;
  serviceIntervalMs: number;
}

const NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;

function fail(option: string, why: string): never {
  throw new Error(`agent option ${option}: ${why}`);
}

function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail('--token-file', `cannot read ${file}: ${(e as Error).message}`);
  }
  // The token file must not be readable by the build user (or anyone else).
  if (typeof process.getuid === 'function' && statSync(file).uid === process.getuid() && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return text.trim();
}

export function toWsUrl(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws/agent`;
  u.search = '';
  u.hash = '';
  return u.toString();
}

export function resolveConfig(o: AgentOptions, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    fail('--url', `not a URL: ${JSON.stringify(o.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('--url', `must be http:// or https://, got ${url.protocol}`);
  const token = o.token ?? (o.tokenFile ? readTokenFile(o.tokenFile) : env.SLIPWAY_AGENT_TOKEN);
  if (!token) fail('--token', 'missing (give --token, --token-file or SLIPWAY_AGENT_TOKEN)');
  if (!o.name || !NAME_RE.test(o.name)) fail('--name', `${JSON.stringify(o.name)} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-'`);
  if (!o.environment || o.environment.length > 64) fail('--environment', 'missing or longer than 64 characters');
  const labels = (Array.isArray(o.labels) ? o.labels : (o.labels ?? '').split(',')).map((l) => l.trim()).filter(Boolean);
  for (const l of labels) if (l.length > 64) fail('--labels', `label '${l.slice(0, 20)}...' is longer than 64 characters`);
  const capacity = Number(o.capacity ?? 1);
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 256) fail('--capacity', `must be an integer from 1 to 256, got ${o.capacity}`);
  let ca: Buffer | undefined;
  if (o.caFile) {
    try {
      ca = readFileSync(o.caFile);
    } catch (e) {
      fail('--ca-file', `cannot read ${o.caFile}: ${(e as Error).message}`);
    }
  }
  const killGraceMs = o.killGraceMs ?? 5000;
  if (!(killGraceMs >= 0)) fail('killGraceMs', 'must be >= 0');
  const workspaceDays = Number(o.workspaceDays ?? env.SLIPWAY_WORKSPACE_DAYS ?? 7);
  if (!(workspaceDays > 0)) fail('--workspace-days', `must be a number of days > 0 (or SLIPWAY_WORKSPACE_DAYS), got ${o.workspaceDays ?? env.SLIPWAY_WORKSPACE_DAYS}`);
  const file = o.configFile ? loadAgentFile(o.configFile) : structuredClone(EMPTY_AGENT_FILE);
  for (const c of o.capabilities ?? []) {
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(c)) fail('--capability', `'${c}' is not a capability name (a-z, 0-9, _ . -)`);
    if (!file.capabilities.declare.includes(c)) file.capabilities.declare.push(c);
  }
  for (const name of o.services ?? []) file.services[name] ??= {};
  const serviceIntervalMs = o.serviceIntervalMs ?? 10_000;
  if (!(serviceIntervalMs >= 100)) fail('serviceIntervalMs', 'must be >= 100');
  return {
    url: url.toString().replace(/\/+$/, ''),
    wsUrl: toWsUrl(url.toString()),
    token,
    name: o.name,
    environment: o.environment,
    labels,
    capacity,
    workDir: resolve(o.workDir ?? 'agent-work'),
    ca,
    ownProcess: o.ownProcess ?? true,
    killGraceMs,
    keepWorkspaces: o.keepWorkspaces ?? false,
    workspaceDays,
    file,
    serviceIntervalMs,
  };
}
