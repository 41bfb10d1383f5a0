/**
 * GitLab deliveries (X-Gitlab-Event): Push Hook, Tag Push Hook, Merge Request Hook. The credential is the
 * X-Gitlab-Token header (the hook's secret token, compared in constant time); the delivery id is
 * X-Gitlab-Event-UUID. GitLab lists at most 20 commits: beyond that (total_commits_count > commits) the
 * changed files are unknown.
 */
import { ZERO_SHA_RE } from '../../shared/git';
import { arr, changedFilesOf, checkRefAndSha, need, obj, str, urls, type Json, type ParsedDelivery } from './payload';

/**
 * The repository URLs of a delivery and nothing else: all the route reads of the body before a job's
 * secret verified it.
 */
export function gitlabRepoUrls(body: Json): string[] {
  const repo = obj(body.repository);
  const project = obj(body.project);
  const target = obj(obj(body.object_attributes).target);
  return urls(repo.git_http_url, repo.git_ssh_url, repo.homepage, repo.url, project.git_http_url, project.git_ssh_url, project.web_url, target.git_http_url, target.git_ssh_url, target.web_url);
}

/** Events this parser builds from; any other is answered 'not handled' without reading the body. */
export const GITLAB_EVENTS = new Set(['Push Hook', 'Tag Push Hook', 'Merge Request Hook']);

/** Merge request actions that bring new code to build. */
const MR_BUILD_ACTIONS = new Set(['open', 'reopen', 'update']);

export function parseGitlab(eventHeader: string | undefined, body: Json): ParsedDelivery {
  if (eventHeader === 'Push Hook' || eventHeader === 'Tag Push Hook') return push(eventHeader, body);
  if (eventHeader === 'Merge Request Hook') return mergeRequest(body);
  return { kind: 'ignore', event: eventHeader ?? '(none)', reason: `GitLab event '${eventHeader ?? '(no X-Gitlab-Event header)'}' is not handled` };
}

function push(header: string, body: Json): ParsedDelivery {
  const event = header === 'Tag Push Hook' ? 'tag_push' : 'push';
  const ref = need(body.ref, 'ref', 'GitLab');
  const after = need(body.after, 'after', 'GitLab');
  // Annotated tags: `after` is the tag object, checkout_sha the commit it points to.
  const sha = str(body.checkout_sha) ?? after;
  checkRefAndSha(ref, sha, 'GitLab');
  const before = str(body.before);
  const commits = arr(body.commits);
  const head = obj(commits.find((c) => obj(c).id === sha) ?? commits[commits.length - 1]);
  const total = typeof body.total_commits_count === 'number' ? body.total_commits_count : commits.length;
  const known = event === 'push' && !!before && !ZERO_SHA_RE.test(before) && commits.length > 0 && total <= commits.length;
  const repo = obj(body.repository);
  const project = obj(body.project);
  return {
    kind: 'event',
    event: {
      provider: 'gitlab',
      event,
      repoUrls: urls(repo.git_http_url, repo.git_ssh_url, repo.homepage, repo.url, project.git_http_url, project.git_ssh_url, project.web_url),
      ref,
      sha,
      before,
      headMessage: str(head.message),
      author: str(obj(head.author).name) ?? str(body.user_name),
      url: str(head.url),
      changedFiles: known ? changedFilesOf(commits) : undefined,
    },
  };
}

function mergeRequest(body: Json): ParsedDelivery {
  const attrs = obj(body.object_attributes);
  const action = str(attrs.action) ?? '';
  const iid = attrs.iid;
  if (typeof iid !== 'number' || !Number.isInteger(iid) || iid < 1) return { kind: 'ignore', event: 'merge_request', reason: 'merge request without iid' };
  const ref = `refs/merge-requests/${iid}/head`;
  const last = obj(attrs.last_commit);
  const sha = need(last.id, 'object_attributes.last_commit.id', 'GitLab');
  // 'update' without oldrev changed the title or labels, not the code.
  if (!MR_BUILD_ACTIONS.has(action) || (action === 'update' && !str(attrs.oldrev))) {
    return { kind: 'ignore', event: 'merge_request', reason: `merge request action '${action || '(none)'}' brings no new code`, ref, sha };
  }
  checkRefAndSha(ref, sha, 'GitLab');
  const source = obj(attrs.source);
  const target = obj(attrs.target);
  const project = obj(body.project);
  const sourceBranch = need(attrs.source_branch, 'object_attributes.source_branch', 'GitLab');
  const targetBranch = need(attrs.target_branch, 'object_attributes.target_branch', 'GitLab');
  // A deleted source project (source null) counts as a fork: nothing proves it belongs to the target's team.
  const fork = attrs.source_project_id === undefined || attrs.source_project_id === null || attrs.source_project_id !== attrs.target_project_id;
  return {
    kind: 'event',
    event: {
      provider: 'gitlab',
      event: 'merge_request',
      repoUrls: urls(target.git_http_url, target.git_ssh_url, target.web_url, project.git_http_url, project.git_ssh_url, project.web_url),
      ref,
      sha,
      headMessage: str(last.message),
      author: str(obj(last.author).name),
      url: str(last.url),
      request: {
        provider: 'gitlab',
        number: iid,
        sourceRepo: str(source.git_http_url) ?? str(source.web_url) ?? '',
        sourceBranch,
        targetBranch,
        fork,
      },
    },
  };
}
