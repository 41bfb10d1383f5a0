/**
 * The checkout step: puts exactly the build's commit (master:assign.source.sha) into the workspace.
 * The commit is fetched into the job's repository cache on this agent (agent/git/cache.ts: shallow by
 * default, only new objects on later builds), copied into the workspace's own repository
 * (agent/git/workspace-checkout.ts: incremental in a reused pooled workspace, afresh otherwise), and reported to the master as an agent:checkout record (author,
 * message, and the files changed since source.previousSha when the master did not know them).
 * Unsafe URLs, refs and shas are refused before git runs; credentials reach git only through its
 * environment and a temp key file removed when the step ends.
 * Step config (all optional, overriding the job's repo settings): depth, submodules, path.
 */
import { realpath } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { normalizeRepoUrl, SHA_RE, unsafeRef, unsafeRepoUrl } from '../../shared/git';
import type { Source } from '../../shared/protocol';
import { isInsideDir, localRepoPath } from '../../shared/node/local-repos';
import { RepoCache, uploadPackAs } from '../git/cache';
import { gitEnv } from '../../shared/node/git/env';
import { GitAborted } from '../../shared/node/git/run';
import { checkoutIntoWorkspace } from '../git/workspace-checkout';
import { checkoutKind, type CheckoutConfig } from '../../shared/job/kinds/checkout';
import { MAX_OUTPUT_BYTES } from '../../shared/job/outputs';
import { defineExecutor, type StepContext, type StepResult, type StopReason } from './types';

/** Why the source cannot be used, naming the field; null when it is safe to hand to git. */
export function unsafeSource(src: Source, secrets: Record<string, string>): string | null {
  const url = unsafeRepoUrl(src.url);
  if (url) return `source.url: ${url}`;
  const ref = unsafeRef(src.ref);
  if (ref) return `source.${ref}`;
  if (!SHA_RE.test(src.sha)) return `source.sha '${src.sha}' is not a full lower-case commit sha`;
  if (src.previousSha !== undefined && !SHA_RE.test(src.previousSha)) return `source.previousSha '${src.previousSha}' is not a full lower-case commit sha`;
  if (!/^[A-Za-z0-9._-]+$/.test(src.cacheKey) || src.cacheKey.startsWith('.')) return `source.cacheKey '${src.cacheKey}' is not a safe directory name`;
  if (src.credentials !== undefined && secrets[src.credentials] === undefined)
    return `source.credentials '${src.credentials}' names no secret available to this build`;
  return null;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const checkoutExecutor = defineExecutor<CheckoutConfig>(checkoutKind, '1.1.0', runCheckout);

async function runCheckout(ctx: StepContext, cfg: CheckoutConfig): Promise<StepResult> {
  const fail = (error: string): StepResult => ({ status: 'error', exitCode: null, error });
  const src = ctx.source;
  if (!src) return fail('checkout step without a source: the master sent no commit for this build (does the job have a repo?)');
  const unsafe = unsafeSource(src, ctx.secrets);
  if (unsafe) return fail(unsafe);
  // A local repository is read by git with the rights of whoever runs it: never one in the agent's own work
  // dir (its root-only cache of other jobs, other jobs' workspaces), and the others as the build user.
  const localPath = localRepoPath(src.url);
  if (localPath !== null && isInsideDir(localPath, ctx.workDir)) {
    return fail(`source.url '${src.url}' is a local repository inside this agent's work dir (git caches and workspaces of other jobs): refused; point repo.url at a repository outside it`);
  }
  const uploadPack = localPath !== null && ctx.runAs ? uploadPackAs(ctx.runAs) : undefined;
  if (ctx.signal.aborted) {
    const r = ctx.signal.reason as StopReason;
    return { status: r.status, exitCode: null, error: r.message };
  }
  const target = join(ctx.workspace, cfg.path ?? '');
  const depth = cfg.depth ?? src.depth;
  const submodules = cfg.submodules ?? src.submodules;
  ctx.started(Date.now());
  const t0 = Date.now();
  const g = await gitEnv({ url: src.url, credential: src.credentials ? ctx.secrets[src.credentials] : undefined, knownHosts: src.knownHosts });
  const run = { env: g.env, signal: ctx.signal };
  try {
    ctx.output.write(
      `checkout ${normalizeRepoUrl(src.url)} @ ${src.sha.slice(0, 7)} (${src.ref}), depth ${depth || 'full'}${submodules ? ', with submodules' : ''}${cfg.path ? ` into ${cfg.path}` : ''}\n`,
    );
    const cache = await RepoCache.open(ctx.workDir, src.cacheKey, g.env);
    const done = await cache.withLock(async () => {
      const fetched = await cache.fetchExact({ url: src.url, sha: src.sha, ref: src.ref, depth, uploadPack }, run, (why) =>
        ctx.output.write(`the server refused to send commit ${src.sha.slice(0, 7)} by sha (${why}); fetching ${src.ref} instead\n`),
      );
      const fetchMs = Date.now() - t0;
      const info = await cache.commitInfo(src.sha);
      let changedFiles: string[] | undefined;
      if (!src.knowsChangedFiles && src.previousSha && src.previousSha !== src.sha) {
        if (await cache.fetchOne(src.url, src.previousSha, run, uploadPack)) changedFiles = await cache.changedFiles(src.previousSha, src.sha);
        else ctx.output.write(`previous build's commit ${src.previousSha.slice(0, 7)} could not be fetched: changed files unknown\n`);
      }
      await assertInside(ctx.workspace, target);
      const ws = await checkoutIntoWorkspace({ cache, workspace: ctx.workspace, target, sha: src.sha, originUrl: src.url, submodules, runAs: ctx.runAs, uploadPack }, run);
      await assertInside(ctx.workspace, target);
      return { fetched, fetchMs, info, changedFiles, ws };
    });
    const { fetched, info, changedFiles } = done;
    const how =
      fetched.how === 'cached' ? 'already in the cache' : `${fetched.objects} objects fetched in ${seconds(done.fetchMs)} (${fetched.warm ? 'incremental' : 'cold cache'}${fetched.how === 'ref' ? ', through the ref' : ''})`;
    if (done.ws.wiped) ctx.output.write(`workspace repository not reusable (${done.ws.wiped}): wiped, checked out afresh\n`);
    ctx.output.write(`${how}; checked out in ${seconds(Date.now() - t0)}${done.ws.reused ? ' (workspace reused: only changed files written)' : ''}\n`);
    ctx.output.write(`commit ${src.sha} by ${info.author}: ${info.message.split('\n')[0]}\n`);
    if (changedFiles) ctx.output.write(`${changedFiles.length} files changed since ${src.previousSha!.slice(0, 7)}\n`);
    // The commit is an ordinary output; the master records it with the build (the kind's commitOf).
    const outputs: Record<string, string | string[]> = { sha: src.sha, author: info.author.slice(0, 512), message: info.message.slice(0, 65536) };
    // Leave room for the rest under the outputs limit: a huge diff is reported as unknown rather than failing the step.
    if (changedFiles && Buffer.byteLength(JSON.stringify(changedFiles)) < MAX_OUTPUT_BYTES - 80_000) outputs.changedFiles = changedFiles;
    else if (changedFiles) ctx.output.write(`the list of ${changedFiles.length} changed files is too large for the step outputs: not recorded\n`);
    return { status: 'success', exitCode: 0, outputs };
  } catch (e) {
    if (e instanceof GitAborted) {
      // The step's signal is only ever aborted with a StopReason.
      const reason = e.reason as StopReason;
      return { status: reason.status, exitCode: null, error: reason.message };
    }
    // The step's error skips the log masker: never let a credential through, whatever git printed.
    const credential = src.credentials ? ctx.secrets[src.credentials] : undefined;
    const message = credential ? (e as Error).message.split(credential).join('***') : (e as Error).message;
    return fail(`checkout of ${normalizeRepoUrl(src.url)} @ ${src.sha.slice(0, 7)}: ${message}`);
  } finally {
    await g.cleanup();
  }
}

/** A symlink left by an earlier step must not redirect the checkout outside the workspace. */
async function assertInside(workspace: string, target: string): Promise<void> {
  const root = await realpath(workspace);
  // The nearest existing ancestor decides where a not yet created directory will land.
  let probe = target;
  let real: string | undefined;
  while ((real = await realpath(probe).catch(() => undefined)) === undefined && probe !== dirname(probe)) probe = dirname(probe);
  if (real === undefined) return;
  const rel = relative(root, real);
  if (rel === '..' || rel.startsWith(`..${sep}`)) throw new Error(`checkout path resolves outside the workspace (${real})`);
}
