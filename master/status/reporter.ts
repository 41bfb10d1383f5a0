/**
 * Commit status reporting: for every job with a `status:` section, each build status change (told by
 * core.onBuildStatus after the commit) becomes one call to the provider's status API (providers.ts)
 * for the build's commit: queued/running -> pending, success -> success, failed/timeout -> failure,
 * cancelled -> error (GitLab: its own state names). Builds without a commit sha are not reported
 * (a manual build is reported from the first change after its checkout recorded the commit).
 *
 * Never blocks the engine: calls run in the background, one build's calls in order (pending is never
 * overtaken by success), a repeated state is sent once, and a failed call (network error, 429, 5xx) is
 * retried with exponential backoff. Failures are logged with the job, build, provider and HTTP status,
 * never with the token.
 */
import { buildsStore } from '../store/builds';
import type { BuildStatus } from '../../shared/api';
import type { EngineCore } from '../engine/core';
import { providerState, statusCall, type StatusCall } from './providers';

export interface StatusReporterOptions {
  /** Public URL of the master; target_url = baseUrl + /builds/<id>. Read at each call. */
  baseUrl(): string;
  /** Attempts per call (default 4) and the first backoff (default 1 s, doubled each retry). */
  attempts?: number;
  backoffMs?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export interface StatusReporter {
  /** Resolves when every call queued so far has finished (tests, shutdown). */
  idle(): Promise<void>;
  /** No new calls start; running retries give up. */
  stop(): void;
}

interface BuildRef {
  number: number;
  sha: string | null;
  ref: string | null;
  branch: string | null;
  job: string;
  teamId: number;
}

const FINAL: BuildStatus[] = ['success', 'failed', 'cancelled', 'timeout'];

export function startStatusReporter(core: EngineCore, opts: StatusReporterOptions): StatusReporter {
  const { ctx } = core;
  const log = ctx.log.child({ part: 'commit-status' });
  const attempts = opts.attempts ?? 4;
  const backoffMs = opts.backoffMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const chains = new Map<number, Promise<void>>();
  const sent = new Map<number, string>();
  let stopped = false;
  const builds = buildsStore(ctx.db);
  const buildOf = { get: (id: number): BuildRef | undefined => builds.buildRef(id) };

  core.onBuildStatus((buildId, status) => {
    if (stopped) return;
    const config = core.buildConfig(buildId);
    if (!config.status || !config.repo) return;
    const b = buildOf.get(buildId);
    if (!b?.sha) return;
    const state = `${b.sha}:${providerState(config.status.provider, status)}`;
    const final = FINAL.includes(status);
    if (sent.get(buildId) === state) return;
    if (final) sent.delete(buildId);
    else sent.set(buildId, state);

    const token = ctx.secrets.resolve(b.teamId, [config.status.token])[config.status.token];
    if (token === undefined) {
      log.warn({ job: b.job, build: buildId }, `job '${b.job}': status.token names team secret '${config.status.token}', which does not exist; commit status not sent`);
      return;
    }
    const call = statusCall({
      provider: config.status.provider,
      apiUrl: config.status.apiUrl,
      token,
      repoUrl: config.repo.url,
      sha: b.sha,
      status,
      context: config.status.context ?? `slipway/${b.job}`,
      targetUrl: `${opts.baseUrl().replace(/\/+$/, '')}/builds/${buildId}`,
      description: describe(b, status),
      ref: b.branch ?? refName(b.ref),
    });
    const what = { job: b.job, build: buildId, provider: config.status.provider, state: call.body.state };
    const prev = chains.get(buildId) ?? Promise.resolve();
    const next = prev.then(() => send(call, what));
    chains.set(buildId, next);
    void next.then(() => {
      if (chains.get(buildId) === next) chains.delete(buildId);
    });
  });

  async function send(call: StatusCall, what: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; attempt <= attempts && !stopped; attempt++) {
      let why: string;
      let retry = true;
      try {
        const res = await fetch(call.url, {
          method: call.method,
          headers: call.headers,
          body: JSON.stringify(call.body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        why = `HTTP ${res.status}`;
        // A refused token or an unknown project will not fix itself by retrying.
        retry = res.status === 429 || res.status >= 500;
      } catch (err) {
        why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `network error (${(err as Error).message})`;
      }
      if (!retry || attempt === attempts) {
        log.error({ ...what, attempt }, `commit status not sent: ${why}`);
        return;
      }
      log.warn({ ...what, attempt }, `commit status call failed (${why}); retrying`);
      await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
    }
  }

  return {
    async idle() {
      while (chains.size) await Promise.all([...chains.values()]);
    },
    stop() {
      stopped = true;
    },
  };
}

function refName(ref: string | null): string | undefined {
  if (!ref) return undefined;
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

function describe(b: BuildRef, status: BuildStatus): string {
  const n = `${b.job} #${b.number}`;
  switch (status) {
    case 'waiting':
      return `${n} waits for approval`;
    case 'queued':
      return `${n} queued`;
    case 'running':
      return `${n} running`;
    case 'success':
      return `${n} succeeded`;
    case 'failed':
      return `${n} failed`;
    case 'timeout':
      return `${n} timed out`;
    case 'cancelled':
      return `${n} was cancelled`;
  }
}
