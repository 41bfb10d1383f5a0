/**
 * The test harness: real master and agent processes started through the CLI, exactly as users start them.
 *
 *   const master = await startMaster();                       // port 0, temp data dir, admin logged in
 *   const agent = await startAgent(master, { environment: 'ci' });  // env + token created through the API
 *   await master.api.applyJob(yaml); ...
 *   await agent.stop(); await master.stop();                   // master.stop() also stops its agents
 *
 * Failures name what was awaited and include the process output. Every spawned process is killed when the
 * test worker exits, even when a test forgets to stop it. Set SLIPWAY_KEEP_TEST_DATA=1 to keep data dirs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ApiClient } from '../../shared/client/api-client';
import { SlipwayError } from '../../shared/errors';
import { spawnCli, type Spawned } from './process';
import { waitFor } from './wait';

export interface TestMaster {
  /** http://127.0.0.1:<port>; stays the same across restart(). */
  url: string;
  port: number;
  dataDir: string;
  adminPassword: string;
  /** Logged in as admin (refreshed by restart()). */
  api: ApiClient;
  login(user: string, password: string): Promise<ApiClient>;
  /** The current master process (a new one after restart()). */
  readonly process: ChildProcess;
  /** Everything the current master process printed. */
  output(): string;
  /**
   * Stops the master (SIGTERM, or `signal`: SIGKILL for a crash), waits `downMs` (default 0) and starts it
   * again on the same port and data dir; agents keep running.
   */
  restart(opts?: { signal?: NodeJS.Signals; downMs?: number }): Promise<void>;
  /** Stops the agents started for this master, then the master; removes the temp data dir it created. */
  stop(): Promise<void>;
}

export interface TestAgent {
  name: string;
  environment: string;
  token: string;
  workDir: string;
  readonly process: ChildProcess;
  output(): string;
  /** SIGTERM (the agent drains), then waits for exit. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartMasterOptions {
  env?: Record<string, string>;
  /** Run the master from `npm run build`'s dist/bin/slipway.mjs (as deployed) instead of the sources through tsx. */
  built?: boolean;
  jobsDir?: string;
  dataDir?: string;
}

export interface StartAgentOptions {
  environment: string;
  name?: string;
  labels?: string[];
  capacity?: number;
  /** An existing agent token; without one, the environment and a token are created through the API. */
  token?: string;
  env?: Record<string, string>;
  /** Resolve as soon as the process is spawned, without waiting for it to appear connected. */
  noWait?: boolean;
  /** More `agent start` flags (--config, --service, --capability...). */
  args?: string[];
}

const keepData = () => process.env.SLIPWAY_KEEP_TEST_DATA === '1';

function readMasterJson(dataDir: string): { url: string; port: number; pid: number } | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'master.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Waits until `check` succeeds, failing early (with the output) when the process exits first. */
async function waitAlive<T>(what: string, proc: Spawned, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  let exited: number | string | undefined;
  void proc.exited.then((c) => (exited = c));
  try {
    return await waitFor(
      what,
      async () => {
        if (exited !== undefined) throw new Error(`process exited (${exited}) before ${what}`);
        return check();
      },
      { timeoutMs },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- process output ---\n${proc.output()}`);
  }
}

export async function startMaster(opts: StartMasterOptions = {}): Promise<TestMaster> {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'slipway-master-'));
  const adminPassword = `admin-${randomBytes(9).toString('base64url')}`;
  // Tests keep their repositories in temp dirs: local repositories there are allowed unless a test says otherwise.
  const env = { SLIPWAY_ADMIN_PASSWORD: adminPassword, SLIPWAY_ALLOW_LOCAL_REPOS: tmpdir(), ...opts.env };
  const agents = new Set<TestAgent>();

  const spawnMaster = async (port: number): Promise<{ proc: Spawned; url: string; port: number }> => {
    rmSync(join(dataDir, 'master.json'), { force: true });
    const args = ['master', 'start', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port)];
    if (opts.jobsDir) args.push('--jobs-dir', opts.jobsDir);
    const proc = spawnCli(args, env, { built: opts.built });
    const info = await waitAlive('master.json', proc, () => {
      const j = readMasterJson(dataDir);
      return j && j.pid === proc.process.pid ? j : undefined;
    });
    return { proc, url: info.url, port: info.port };
  };

  let current = await spawnMaster(0);
  const anon = new ApiClient({ url: current.url });
  const login = async (user: string, password: string) => anon.withToken((await anon.login(user, password)).token);

  const master: TestMaster = {
    url: current.url,
    port: current.port,
    dataDir,
    adminPassword,
    api: await login('admin', adminPassword),
    login,
    get process() {
      return current.proc.process;
    },
    output: () => current.proc.output(),
    async restart({ signal = 'SIGTERM', downMs = 0 } = {}) {
      await current.proc.stop(signal);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      current = await spawnMaster(master.port);
      master.api = await login('admin', adminPassword);
    },
    async stop() {
      await Promise.all([...agents].map((a) => a.stop()));
      await current.proc.stop('SIGTERM');
      if (ownDir && !keepData()) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  registry.set(master, agents);
  return master;
}

const registry = new WeakMap<TestMaster, Set<TestAgent>>();

/** Creates the environment when it does not exist yet (409 from the API means it does). */
export async function ensureEnvironment(api: ApiClient, name: string): Promise<void> {
  try {
    await api.createEnvironment(name);
  } catch (err) {
    if (!(err instanceof SlipwayError && err.code === 'conflict')) throw err;
  }
}

export async function startAgent(master: TestMaster, opts: StartAgentOptions): Promise<TestAgent> {
  const name = opts.name ?? `agent-${randomBytes(4).toString('hex')}`;
  let token = opts.token;
  if (!token) {
    await ensureEnvironment(master.api, opts.environment);
    token = (await master.api.createAgentToken(opts.environment, name)).token;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'slipway-agent-'));
  const args = ['agent', 'start', '--url', master.url, '--name', name, '--environment', opts.environment, '--work-dir', workDir];
  if (opts.labels?.length) args.push('--labels', opts.labels.join(','));
  if (opts.capacity !== undefined) args.push('--capacity', String(opts.capacity));
  if (opts.args) args.push(...opts.args);
  // The token travels in the environment, not argv (argv is visible to every user on the host).
  const proc = spawnCli(args, { SLIPWAY_AGENT_TOKEN: token, ...opts.env });
  const agents = registry.get(master);
  const cleanup = () => {
    agents?.delete(agent);
    if (!keepData()) rmSync(workDir, { recursive: true, force: true });
  };
  const agent: TestAgent = {
    name,
    environment: opts.environment,
    token,
    workDir,
    process: proc.process,
    output: proc.output,
    async stop() {
      await proc.stop('SIGTERM', 30_000);
      cleanup();
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await proc.stop(signal);
      cleanup();
    },
  };
  agents?.add(agent);
  if (!opts.noWait) {
    await waitAlive(`agent ${name} connected in ${opts.environment}`, proc, async () => {
      const list = await master.api.listAgents();
      return list.some((a) => a.name === name && a.environment === opts.environment && (a.state === 'connected' || a.state === 'busy'));
    });
  }
  return agent;
}
