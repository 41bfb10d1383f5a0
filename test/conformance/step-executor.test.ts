/**
 * The StepExecutor conformance suite: every executor passes the same checks through a fixture that says how
 * to express "exit with code N", "print env var X", and "start a grandchild, record its pid, then wait".
 * Executors run for real (real processes, real workspaces, as the build user when the test runs as root).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretMasker } from '../../shared/mask';
import type { AssignedStep, Source } from '../../shared/protocol';
import { checkoutExecutor } from '../../agent/executors/checkout';
import { builtinExecutors } from '../../agent/executors/registry';
import { shellExecutor } from '../../agent/executors/shell';
import type { StepExecutor, StepResult, StopReason } from '../../agent/executors/types';
import { LogShipper } from '../../agent/log-shipper';
import { RecordLog } from '../../agent/record-log';
import { stageEnv } from '../../agent/stage-run';
import { BuildUsers } from '../../agent/build-users';
import type { RunAs } from '../../agent/executors/types';
import { Workspaces } from '../../agent/workspace';
import { CaptureTransport } from '../helpers/capture-transport';

interface Fixture {
  executor: StepExecutor;
  exit(code: number): Record<string, unknown>;
  printEnv(name: string): Record<string, unknown>;
  /** Start a grandchild that sleeps, write its pid to the named workspace file, wait for it. */
  grandchild(pidFile: string, ignoreTerm: boolean): Record<string, unknown>;
  /** Try to read a file; exit non-zero when it cannot. */
  read(path: string): Record<string, unknown>;
  /** A step whose process cannot even start. */
  unstartable(): Record<string, unknown>;
}

const fixtures: Fixture[] = [
  {
    executor: shellExecutor,
    exit: (code) => ({ run: `echo before; exit ${code}` }),
    printEnv: (name) => ({ run: `printf '%s\\n' "$${name}"` }),
    grandchild: (pidFile, ignoreTerm) => ({ run: `${ignoreTerm ? "trap '' TERM; " : ''}sleep 30 & echo $! > ${pidFile}; wait` }),
    read: (path) => ({ run: `cat ${path}` }),
    unstartable: () => ({ run: 'true', shell: '/nonexistent/sh' }),
  },
];

/** Gone, or a zombie waiting for a reaper (it runs no more code). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const workDir = mkdtempSync(join(tmpdir(), 'slipway-conformance-'));
let workspaces: Workspaces;
/** The build user of job 1 (the jobId of every assign here) when the suite runs as root. */
let runAs: RunAs | undefined;
let seq = 0;
beforeAll(async () => {
  workspaces = await Workspaces.open(workDir, BuildUsers.ifRoot());
  runAs = await workspaces.userFor(1);
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

interface Ran {
  result: StepResult;
  output: string;
  workspace: string;
  startedAt?: number;
}

async function run(f: Fixture, config: Record<string, unknown>, opts: { secrets?: Record<string, string>; env?: Record<string, string>; stopAfterFile?: string; stop?: StopReason } = {}): Promise<Ran> {
  const id = ++seq;
  const workspace = await workspaces.create(1, id);
  await workspaces.handOver(workspace, runAs);
  const transport = new CaptureTransport();
  const records = new RecordLog(id, 1, transport, 1 << 20);
  const output = new LogShipper(records, new SecretMasker(Object.values(opts.secrets ?? {})), { maxChunkBytes: 65536, flushMs: 50 });
  const controller = new AbortController();
  const step: AssignedStep = { name: 's', kind: f.executor.kind, config, env: opts.env ?? {}, continueOnError: false };
  const assign = {
    type: 'master:assign' as const,
    stageRunId: id,
    epoch: 1,
    build: { id: 1, number: 1, job: 'j', jobId: 1, team: 't' },
    stage: { index: 0, name: 'st', attempt: 1, steps: [step], artifacts: [] },
    env: { JOB_VAR: 'from-job' },
    secrets: opts.secrets ?? {},
    inputArtifacts: [],
    leaseTtlMs: 1000,
  };
  let startedAt: number | undefined;
  const pending = f.executor.run({
    step,
    workspace,
    env: { ...stageEnv(assign, workspace), ...step.env, ...assign.secrets },
    output,
    signal: controller.signal,
    runAs: runAs,
    started: (at) => (startedAt = at),
    secrets: assign.secrets,
    workDir,
  });
  if (opts.stopAfterFile) {
    const file = join(workspace, opts.stopAfterFile);
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', 'the step to write its pid file');
    controller.abort(opts.stop);
  }
  const result = await pending;
  output.flush();
  output.close();
  return { result, output: transport.text(), workspace, startedAt };
}

for (const f of fixtures) {
  describe(`StepExecutor conformance: ${f.executor.kind}`, () => {
    it('has a kind and a version', () => {
      expect(f.executor.kind).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(f.executor.version).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('succeeds on exit code 0 and reports when it started', async () => {
      const r = await run(f, f.exit(0));
      expect(r.result).toMatchObject({ status: 'success', exitCode: 0 });
      expect(r.output).toBe('before\n');
      expect(r.startedAt).toBeTypeOf('number');
    });

    it('fails on exit code 1', async () => {
      const r = await run(f, f.exit(1));
      expect(r.result).toMatchObject({ status: 'failed', exitCode: 1 });
    });

    it('reports an infrastructure error, not a failed step, when the process cannot start', async () => {
      const r = await run(f, f.unstartable());
      expect(r.result.status).toBe('error');
      expect(r.result.exitCode).toBeNull();
      expect(r.result.error).toMatch(/could not start/);
    });

    it('rejects a config it cannot run with an error naming the problem', async () => {
      const r = await run(f, {});
      expect(r.result).toMatchObject({ status: 'error', exitCode: null });
      expect(r.result.error).toBeTruthy();
    });

    it('sees job env, step env and secrets', async () => {
      expect((await run(f, f.printEnv('JOB_VAR'))).output).toBe('from-job\n');
      expect((await run(f, f.printEnv('STEP_VAR'), { env: { STEP_VAR: 'from-step' } })).output).toBe('from-step\n');
      const r = await run(f, f.printEnv('DB_PASSWORD'), { secrets: { DB_PASSWORD: 'pa55-w0rd-xyz' } });
      // The step saw the value (something was printed) but the log carries only the mask.
      expect(r.output).toBe('***\n');
      expect(r.result.status).toBe('success');
    });

    it('does not leak the agent environment into the step', async () => {
      process.env.SLIPWAY_AGENT_TOKEN = 'agent-token-must-not-leak';
      try {
        const r = await run(f, f.printEnv('SLIPWAY_AGENT_TOKEN'));
        expect(r.output).toBe('\n');
      } finally {
        delete process.env.SLIPWAY_AGENT_TOKEN;
      }
    });

    it('runs in a workspace of mode 0700 owned by the build user', async () => {
      const r = await run(f, f.printEnv('HOME'));
      expect(r.output).toBe(`${r.workspace}\n`);
      const st = statSync(r.workspace);
      expect(st.mode & 0o777).toBe(0o700);
      if (runAs) expect(st.uid).toBe(runAs.uid);
    });

    it.runIf(process.getuid?.() === 0)(
      'as root: the step cannot read a root-only file such as the agent token',
      async () => {
        const tokenFile = join(workDir, 'agent.token');
        writeFileSync(tokenFile, 'agent-secret-token', { mode: 0o600 });
        const r = await run(f, f.read(tokenFile));
        expect(r.result.status).toBe('failed');
        expect(r.output).not.toContain('agent-secret-token');
        const list = await run(f, f.read(join(workDir, 'builds')));
        expect(list.result.status).toBe('failed');
      },
    );

    it('timeout kills the whole process group, grandchild included', async () => {
      const r = await run(f, f.grandchild('gc.pid', false), {
        stopAfterFile: 'gc.pid',
        stop: { status: 'timeout', graceMs: 2000, message: 'step timed out' },
      });
      expect(r.result.status).toBe('timeout');
      const pid = Number(readFileSync(join(r.workspace, 'gc.pid'), 'utf8'));
      expect(pid).toBeGreaterThan(0);
      await waitFor(() => gone(pid), `grandchild ${pid} to be gone`);
    });

    it('cancel escalates to SIGKILL after the grace when SIGTERM is ignored', async () => {
      const r = await run(f, f.grandchild('gc.pid', true), {
        stopAfterFile: 'gc.pid',
        stop: { status: 'cancelled', graceMs: 300, message: 'cancelled by user' },
      });
      expect(r.result.status).toBe('cancelled');
      const pid = Number(readFileSync(join(r.workspace, 'gc.pid'), 'utf8'));
      await waitFor(() => gone(pid), `grandchild ${pid} to be gone`);
    });
  });
}

/**
 * The checkout executor cannot express "exit with code N" or "start a grandchild", so it passes the parts of
 * the contract that apply to it: identity, registration, config errors, stop before start, and a workspace
 * of mode 0700 whose files belong to the build user.
 */
describe('StepExecutor conformance: checkout', () => {
  const repoDir = join(workDir, 'conformance-repo');
  let sha = '';
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: repoDir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'c', GIT_AUTHOR_EMAIL: 'c@x', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@x' } }).trim();
  beforeAll(() => {
    mkdirSync(repoDir);
    git('init', '--quiet');
    writeFileSync(join(repoDir, 'f.txt'), 'content\n');
    git('add', '.');
    git('commit', '--quiet', '-m', 'c1');
    sha = git('rev-parse', 'HEAD');
  });
  const source = (): Source => ({ url: `file://${repoDir}`, sha, ref: 'refs/heads/master', depth: 1, submodules: false, knowsChangedFiles: true, cacheKey: 'conf' });

  async function runCo(config: Record<string, unknown>, src: Source | undefined, stop?: StopReason) {
    const id = ++seq;
    const workspace = await workspaces.create(1, id);
    await workspaces.handOver(workspace, runAs);
    const transport = new CaptureTransport();
    const output = new LogShipper(new RecordLog(id, 1, transport, 1 << 20), new SecretMasker([]), { maxChunkBytes: 65536, flushMs: 50 });
    const controller = new AbortController();
    if (stop) controller.abort(stop);
    const { outputs, ...result } = await checkoutExecutor.run({
      step: { name: 'checkout', kind: 'checkout', config, env: {}, continueOnError: false },
      workspace,
      env: { PATH: process.env.PATH ?? '' },
      output,
      signal: controller.signal,
      runAs: runAs,
      started: () => {},
      source: src,
      secrets: {},
      workDir,
    });
    const checkouts = outputs ? [outputs] : [];
    output.flush();
    output.close();
    return { result, workspace, checkouts };
  }

  it('has a kind and a version and is a built-in', () => {
    expect(checkoutExecutor.kind).toBe('checkout');
    expect(checkoutExecutor.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(builtinExecutors().get('checkout')).toBe(checkoutExecutor);
  });

  it('rejects a config it cannot run with an error naming the problem', async () => {
    const r = await runCo({ depth: -1 }, source());
    expect(r.result).toMatchObject({ status: 'error', exitCode: null });
    expect(r.result.error).toMatch(/depth/);
    const noSource = await runCo({}, undefined);
    expect(noSource.result.error).toMatch(/without a source/);
  });

  it('does nothing and reports the stop reason when stopped before it starts', async () => {
    const r = await runCo({}, source(), { status: 'cancelled', graceMs: 100, message: 'cancelled by user' });
    expect(r.result).toMatchObject({ status: 'cancelled', error: 'cancelled by user' });
    expect(r.checkouts).toEqual([]);
  });

  it('succeeds with exit code 0 in a 0700 workspace whose files belong to the build user', async () => {
    const r = await runCo({}, source());
    expect(r.result).toEqual({ status: 'success', exitCode: 0 });
    expect(r.checkouts).toHaveLength(1);
    expect(statSync(r.workspace).mode & 0o777).toBe(0o700);
    if (runAs) expect(statSync(join(r.workspace, 'f.txt')).uid).toBe(runAs.uid);
  });
});
