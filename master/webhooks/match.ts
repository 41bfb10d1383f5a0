/**
 * Does a push (or merge/pull request) concern one job? Pure functions over the job config and the event:
 * trigger kind, branch/tag globs, path globs against changed files, skip markers. The repository URL and
 * the secret were already checked by the pipeline.
 */
import type { CommitInfo } from '../../shared/api';
import { hasSkipMarker, parseRef } from '../../shared/git';
import { matchesAny } from '../../shared/node/glob';
import type { JobConfig } from '../../shared/job';
import { resolveParams, type NewBuild } from '../engine/builds/create-build';
import type { JobRecord } from '../context';
import type { PushEvent } from './pipeline';

/** null when the job builds this event, else the reason it does not (stored in the trigger history). */
export function matchJob(config: JobConfig, e: PushEvent): string | null {
  if (hasSkipMarker(e.headMessage)) return 'skip marker ([ci skip] / [skip ci]) in the head commit message';
  const t = config.triggers;
  if (e.request) {
    if (!t.requests) return 'the job has no requests trigger';
    const branches = t.requests.branches;
    if (branches && !matchesAny(e.request.targetBranch, branches)) {
      return `target branch '${e.request.targetBranch}' matches none of triggers.requests.branches (${branches.join(', ')})`;
    }
    return null;
  }
  if (e.provider === 'poll' && !t.poll) return 'the job has no poll trigger';
  if (e.provider !== 'poll' && !t.push) return 'the job has no push trigger';
  // A poll-only job still honours push filters when it has them; otherwise every polled branch builds.
  const push = t.push ?? { tags: false };
  const { branch, tag } = parseRef(e.ref);
  if (branch !== undefined) {
    if (push.branches && !matchesAny(branch, push.branches)) {
      return `branch '${branch}' matches none of triggers.push.branches (${push.branches.join(', ')})`;
    }
  } else if (tag !== undefined) {
    // `push: true` builds every branch; tags stay opt-in (triggers.push.tags).
    if (push.tags === false) return `tag '${tag}' pushed but triggers.push.tags is off`;
    if (Array.isArray(push.tags) && !matchesAny(tag, push.tags)) return `tag '${tag}' matches none of triggers.push.tags (${push.tags.join(', ')})`;
  } else {
    return `ref '${e.ref}' is neither a branch nor a tag`;
  }
  // Unknown changed files (payload without them, or capped) count as matching: the checkout records them.
  if (push.paths && e.changedFiles && !e.changedFiles.some((f) => matchesAny(f, push.paths!))) {
    return `no changed file matches triggers.push.paths (${push.paths.join(', ')})`;
  }
  return null;
}

/**
 * True when a job that matched `e` on everything else still needs a path decision the event cannot make:
 * the job has triggers.push.paths, the delivery did not list its changed files, and it is a branch push
 * from a webhook. Such jobs go to the background path checks (path-checks.ts) instead of building at once.
 * Polls compute their files before accepting; requests ignore path filters; tag pushes build (a tag has
 * no meaningful "previous" commit, as GitLab's rules:changes also treats new refs).
 */
export function needsPathDecision(config: JobConfig, e: PushEvent): boolean {
  return !!config.triggers.push?.paths && e.changedFiles === undefined && !e.request && e.provider !== 'poll' && parseRef(e.ref).branch !== undefined;
}

/** The NewBuild fields an event determines: ref, commit, branch, commit info, request, status. */
export function buildFields(e: PushEvent): Pick<NewBuild, 'branch' | 'ref' | 'sha' | 'commitInfo' | 'request' | 'status'> {
  const commitInfo: CommitInfo = {};
  if (e.author) commitInfo.author = e.author;
  if (e.headMessage) commitInfo.message = e.headMessage;
  if (e.url) commitInfo.url = e.url;
  if (e.changedFiles) commitInfo.changedFiles = e.changedFiles;
  const { branch } = parseRef(e.ref);
  return {
    branch: e.request ? e.request.sourceBranch : (branch ?? null),
    ref: e.ref,
    sha: e.sha,
    commitInfo,
    request: e.request ?? null,
    status: e.request?.fork ? 'waiting' : 'queued',
  };
}

/** The whole NewBuild for a job an event builds (default parameters, trigger kind push/request/poll). */
export function newBuildFor(job: JobRecord, e: PushEvent): NewBuild {
  return {
    jobId: job.id,
    yaml: job.yaml,
    config: job.config,
    params: resolveParams(job.config, {}),
    trigger: { kind: e.provider === 'poll' ? 'poll' : e.request ? 'request' : 'push', provider: e.provider, event: e.event, deliveryId: e.deliveryId },
    ...buildFields(e),
  };
}
