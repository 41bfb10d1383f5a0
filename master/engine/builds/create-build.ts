/**
 * Creating builds: manual triggers, cron, re-runs. Validates parameters against the job's declaration,
 * numbers the build per job, snapshots the job YAML (a build always runs the config it was created with),
 * inserts its stage runs (first one queued or waiting behind its approval gate, the rest pending) and, with
 * cancelPrevious, cancels older builds of the same job and branch that are queued or waiting at an approval gate.
 * Everything in one transaction; the caller applies `fx`.
 */
import type { CommitInfo, RequestInfo } from '../../../shared/api';
import { conflict, ValidationError, type FieldIssue } from '../../../shared/errors';
import { MAX_PARAM_VALUE_BYTES, type JobConfig } from '../../../shared/job';
import type { EnginePort } from '../../webhooks/pipeline';
import { Effects, type EngineCore } from '../core';
import { insertStageRun, requestStop } from './transitions';
import { queueOrGate } from './gates';
import { approvalsStore } from '../../store/approvals';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';

export interface BuildTrigger {
  kind: string;
  user?: string;
  /** Re-runs: the build re-run and, for a partial re-run, the first stage that runs again. */
  from?: number;
  stage?: string;
  [k: string]: unknown;
}

export interface NewBuild {
  jobId: number;
  yaml: string;
  config: JobConfig;
  params: Record<string, string>;
  branch: string | null;
  trigger: BuildTrigger;
  /** Stages before this index are created as 'skipped' (partial re-run). */
  fromStage?: number;
  /** Only the stage at fromStage runs; the later ones are created as 'skipped' too (rollback). */
  onlyStage?: boolean;
  /** Full ref to build (refs/heads/main, refs/tags/v1, refs/pull/7/head); push and request builds. */
  ref?: string | null;
  /** Exact commit to build; null lets the agent resolve the ref's head. */
  sha?: string | null;
  /** Commit metadata known from the trigger (the agent's checkout completes it). */
  commitInfo?: CommitInfo | null;
  request?: RequestInfo | null;
  /**
   * 'waiting': a fork's request build; every stage stays 'pending' and nothing is dispatched until
   * POST /builds/:id/approve queues it. Default 'queued'.
   */
  status?: 'queued' | 'waiting';
}

/**
 * Checks given parameters against the job's params: unknown names and values outside `choices` are
 * refused (naming the parameter); missing ones get their default (or the first choice, or '').
 */
export function resolveParams(config: JobConfig, given: unknown): Record<string, string> {
  const issues: FieldIssue[] = [];
  const input = given ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ValidationError('invalid_request', [{ field: 'params', message: 'params must be a map of name to string value' }]);
  }
  const declared = new Map(config.params.map((p) => [p.name, p]));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    const p = declared.get(name);
    if (!p) {
      const known = config.params.map((x) => x.name).join(', ') || 'none';
      issues.push({ field: `params.${name}`, message: `unknown parameter '${name}' of job '${config.name}' (declared: ${known})` });
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      issues.push({ field: `params.${name}`, message: 'a parameter value is a string' });
      continue;
    }
    const v = String(value);
    const bytes = Buffer.byteLength(v);
    if (bytes > MAX_PARAM_VALUE_BYTES) {
      // The bound of the job schema (shared/job/schema.ts). Never echo the value: it is large by definition,
      // and may be a secret pasted by mistake.
      issues.push({ field: `params.${name}`, message: `value is ${bytes} bytes; a parameter value is at most ${MAX_PARAM_VALUE_BYTES} bytes` });
      continue;
    }
    if (p.choices && !p.choices.includes(v)) {
      issues.push({ field: `params.${name}`, message: `'${v}' is not one of ${p.choices.join(', ')}` });
      continue;
    }
    out[name] = v;
  }
  if (issues.length) throw new ValidationError('invalid_request', issues);
  for (const p of config.params) {
    if (!(p.name in out)) out[p.name] = p.default ?? p.choices?.[0] ?? '';
  }
  return out;
}

/** Inserts the build and its stage runs; returns the new build id. Runs in its own transaction. */
export function createBuild(core: EngineCore, fx: Effects, nb: NewBuild): number {
  const db = core.db;
  // A step kind, scanner or report format of a disabled plugin: refused now rather than queued behind agents
  // that no longer run it.
  const enabled = core.ctx.plugins?.enabledKinds();
  const scanners = core.ctx.plugins?.enabledScanners();
  for (const stage of enabled ? nb.config.stages.slice(nb.fromStage ?? 0) : []) {
    const why =
      stage.kinds.map((k) => enabled!.refusal(k)).find(Boolean) ??
      (stage.scanners ?? []).map((s) => scanners?.refusal(s)).find(Boolean) ??
      (stage.reportFormats ?? []).map((f) => enabled!.reportFormats.refusal(f)).find(Boolean);
    if (why) throw conflict(`job '${nb.config.name}' cannot start: stage '${stage.name}': ${why}`);
  }
  const builds = buildsStore(db);
  return inTransaction(db, () => {
    const now = Date.now();
    const waiting = nb.status === 'waiting';
    const row = builds.insertBuild(
      {
        jobId: nb.jobId, status: waiting ? 'waiting' : 'queued', yaml: nb.yaml, params: JSON.stringify(nb.params), trigger: JSON.stringify(nb.trigger),
        branch: nb.branch, ref: nb.ref ?? null, sha: nb.sha ?? null, commitInfo: nb.commitInfo ? JSON.stringify(nb.commitInfo) : null,
        request: nb.request ? JSON.stringify(nb.request) : null,
      },
      now,
    );
    if (!row) throw new Error(`job ${nb.jobId} vanished`);
    const buildId = row.id;
    core.buildConfig(buildId, nb.yaml);
    const from = nb.fromStage ?? 0;
    let first = 0;
    nb.config.stages.forEach((stage, i) => {
      const status = i < from || (nb.onlyStage && i > from) ? 'skipped' : 'pending';
      const id = insertStageRun(db, buildId, i, stage, 1, status, now);
      if (i === from) first = id;
    });
    fx.status.push({ type: 'stream:status', buildId, status: waiting ? 'waiting' : 'queued' });
    // The first stage is queued, or waits behind its approval gate (gates.ts); a fork's build waits as a whole.
    if (!waiting) queueOrGate(core, fx, buildId, { id: first, name: nb.config.stages[from].name, stage_index: from }, now);

    if (nb.config.cancelPrevious && !waiting) {
      // Superseded: queued builds, and builds waiting at an approval gate (whose gate closes with them: nobody
      // should approve a build a newer one replaced). A fork build waiting to be let run is a request's, not
      // the branch's, and stays.
      const gates = approvalsStore(db);
      for (const older of builds.idleOlder(nb.jobId, nb.branch, buildId)) {
        if (older.status === 'waiting' && !gates.hasOpen(older.id)) continue;
        requestStop(db, fx, older.id, 'cancelled', `cancelled by newer build #${row.number}`, now);
      }
    }
    return buildId;
  });
}

/**
 * The engine's side of the push pipeline (master/webhooks/pipeline.ts EnginePort): one transaction in which
 * builds are created; their stream announcements and the dispatch pass run after the commit.
 */
export function createTriggerPort(core: EngineCore): EnginePort {
  const builds = buildsStore(core.db);
  return {
    transaction(fn) {
      const fx = new Effects();
      const out = inTransaction(core.db, () =>
        fn((nb) => {
          const buildId = createBuild(core, fx, nb);
          return { buildId, number: builds.build(buildId)!.number };
        }),
      );
      core.apply(fx);
      return out;
    },
  };
}
