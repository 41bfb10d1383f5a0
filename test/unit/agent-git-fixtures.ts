/**
 * Fixtures of the checkout tests: real repositories made with git in temp dirs, and a real run of the
 * checkout executor in a real workspace (as the build user when the tests run as root), capturing its log
 * and its agent:checkout record.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkoutExecutor } from '../../agent/executors/checkout';
import type { RunAs, StepResult, StopReason } from '../../agent/executors/types';

/** The commit the checkout step published as its outputs. */
export interface CheckoutInfo {
  sha: string;
  author: string;
  message: string;
  changedFiles?: string[];
}
import { gitEnv as checkoutGitEnv } from '../../shared/node/git/env';
import { prepareReusedWorkspace } from '../../agent/git/workspace-reuse';
import { LogShipper } from '../../agent/log-shipper';
import { RecordLog } from '../../agent/record-log';
import { BuildUsers } from '../../agent/build-users';
import { Workspaces } from '../../agent/workspace';
import { SecretMasker } from '../../shared/mask';
import type { Source } from '../../shared/protocol';
import { git, gitIdentityEnv, TestRepo } from '../helpers/git';
import { CaptureTransport } from '../helpers/capture-transport';


/** Runs git in cwd for the test's own repositories; returns trimmed stdout. */
export const sh = git;
export { TestRepo };

/** Runs git in a checked-out workspace as a build step would (the build user when root). */
export function shAs(runAs: RunAs | undefined, cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...gitIdentityEnv, HOME: cwd }, uid: runAs?.uid, gid: runAs?.gid, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * A temp dir the build users can read (0755): the agent fetches local repositories as the job's build user,
 * so the tests' repositories must be readable by it, as a shared repository on a real host is.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `slipway-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function source(over: Partial<Source> & Pick<Source, 'url' | 'sha'>): Source {
  return { ref: 'refs/heads/main', branch: 'main', depth: 1, submodules: false, knowsChangedFiles: true, cacheKey: 'job-1', ...over };
}

export interface CheckoutRun {
  result: StepResult;
  log: string;
  workspace: string;
  records: CheckoutInfo[];
}

let runSeq = 0;

/** An agent work dir with its Workspaces (one build user per job when root). */
export async function agentDir(): Promise<Workspaces> {
  return Workspaces.open(tempDir('agent'), BuildUsers.ifRoot());
}

/** The job id the checkout fixtures run as unless told otherwise. */
export const TEST_JOB_ID = 1;

export async function runCheckout(
  workspaces: Workspaces,
  src: Source,
  opts: { config?: Record<string, unknown>; secrets?: Record<string, string>; stop?: StopReason; workspace?: string; jobId?: number } = {},
): Promise<CheckoutRun> {
  const id = ++runSeq;
  const runAs = await workspaces.userFor(opts.jobId ?? TEST_JOB_ID);
  let workspace = opts.workspace;
  if (!workspace) {
    workspace = await workspaces.create(1, id);
    await workspaces.handOver(workspace, runAs);
  }
  const transport = new CaptureTransport();
  const recordLog = new RecordLog(id, 1, transport, 1 << 24);
  const secrets = opts.secrets ?? {};
  const output = new LogShipper(recordLog, new SecretMasker(Object.values(secrets)), { maxChunkBytes: 65536, flushMs: 50 });
  const controller = new AbortController();
  if (opts.stop) controller.abort(opts.stop);
  const { outputs, ...result } = await checkoutExecutor.run({
    step: { name: 'checkout', kind: 'checkout', config: opts.config ?? {}, env: {}, continueOnError: false },
    workspace,
    env: { PATH: process.env.PATH ?? '', HOME: workspace, ...secrets },
    output,
    signal: controller.signal,
    runAs,
    started: () => {},
    source: src,
    secrets,
    workDir: workspaces.workDir,
    host: {},
    build: { id: 1, number: 1, job: 'j', jobId: 1, team: 't' },
    environment: 'ci',
    registries: [],
    leaseTtlMs: 30_000,
    masterSilentMs: () => 0,
  });
  const records = outputs ? [outputs as unknown as CheckoutInfo] : [];
  output.flush();
  output.close();
  return { result, log: transport.text(), workspace, records };
}

/** Cleans a pooled workspace for the next build as the stage run does (targets: the checkout paths). */
export async function prepareWorkspace(workspaces: Workspaces, workspace: string, url: string, targets: string[] = [''], jobId = TEST_JOB_ID): Promise<string[]> {
  const g = await checkoutGitEnv({ url });
  try {
    return await prepareReusedWorkspace({ workspace, targets, runAs: await workspaces.userFor(jobId), env: g.env });
  } finally {
    await g.cleanup();
  }
}
