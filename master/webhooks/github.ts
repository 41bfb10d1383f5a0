/**
 * GitHub and Gitea deliveries (their payloads share GitHub's shape): push (branches and tags), ping
 * (GitHub), pull_request. The credential is an HMAC-SHA256 of the raw body (X-Hub-Signature-256
 * `sha256=<hex>` / X-Gitea-Signature `<hex>`), checked by the route; the delivery id is X-GitHub-Delivery /
 * X-Gitea-Delivery. Pull request builds fetch refs/pull/<n>/head (both providers publish it).
 */
import { normalizeRepoUrl, ZERO_SHA_RE } from '../../shared/git';
import { arr, changedFilesOf, checkRefAndSha, need, obj, str, urls, type Json, type ParsedDelivery } from './payload';

/** Pull request actions that bring new code (Gitea says 'synchronized', GitHub 'synchronize'). */
const PR_BUILD_ACTIONS = new Set(['opened', 'reopened', 'synchronize', 'synchronized']);

export function parseGithubLike(provider: 'github' | 'gitea', eventHeader: string | undefined, body: Json): ParsedDelivery {
  const name = provider === 'github' ? 'GitHub' : 'Gitea';
  if (eventHeader === 'push') return push(provider, name, body);
  if (eventHeader === 'pull_request') return pullRequest(provider, name, body);
  if (eventHeader === 'ping') return { kind: 'ignore', event: 'ping', reason: 'ping received' };
  return { kind: 'ignore', event: eventHeader ?? '(none)', reason: `${name} event '${eventHeader ?? '(no event header)'}' is not handled` };
}

function repoUrls(repo: Json): unknown[] {
  return [repo.clone_url, repo.ssh_url, repo.html_url, repo.git_url];
}

/**
 * The repository URLs of a delivery and nothing else: all the route reads of the body before a job's
 * secret verified it (the secret to try depends on the jobs watching the repository).
 */
export function githubLikeRepoUrls(body: Json): string[] {
  return urls(...repoUrls(obj(obj(obj(body.pull_request).base).repo)), ...repoUrls(obj(body.repository)));
}

/** Events this parser builds from or acknowledges; any other is answered 'not handled' without reading the body. */
export const GITHUB_LIKE_EVENTS = new Set(['push', 'pull_request', 'ping']);

function push(provider: 'github' | 'gitea', name: string, body: Json): ParsedDelivery {
  const ref = need(body.ref, 'ref', name);
  const after = need(body.after, 'after', name);
  const headCommit = obj(body.head_commit);
  // Annotated tags: `after` may be the tag object; head_commit is the commit. Deleted refs have no head_commit.
  const sha = ZERO_SHA_RE.test(after) ? after : (str(headCommit.id) ?? after);
  checkRefAndSha(ref, sha, name);
  const before = str(body.before);
  const commits = arr(body.commits);
  const isTag = ref.startsWith('refs/tags/');
  // New branches list only some commits, and GitHub truncates long pushes: changed files are then unknown.
  const known = !isTag && !!before && !ZERO_SHA_RE.test(before) && commits.length > 0 && commits.length < 2048;
  return {
    kind: 'event',
    event: {
      provider,
      event: isTag ? 'tag_push' : 'push',
      repoUrls: urls(...repoUrls(obj(body.repository))),
      ref,
      sha,
      before,
      headMessage: str(headCommit.message),
      author: str(obj(headCommit.author).name),
      url: str(headCommit.url),
      changedFiles: known ? changedFilesOf(commits) : undefined,
    },
  };
}

function pullRequest(provider: 'github' | 'gitea', name: string, body: Json): ParsedDelivery {
  const pr = obj(body.pull_request);
  const number = typeof body.number === 'number' ? body.number : pr.number;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) return { kind: 'ignore', event: 'pull_request', reason: 'pull request without number' };
  const action = str(body.action) ?? '';
  const ref = `refs/pull/${number}/head`;
  const head = obj(pr.head);
  const base = obj(pr.base);
  const sha = need(head.sha, 'pull_request.head.sha', name);
  if (!PR_BUILD_ACTIONS.has(action)) return { kind: 'ignore', event: 'pull_request', reason: `pull request action '${action || '(none)'}' brings no new code`, ref, sha };
  checkRefAndSha(ref, sha, name);
  const headRepo = obj(head.repo);
  const baseRepo = obj(base.repo);
  const headUrl = str(headRepo.clone_url) ?? str(headRepo.html_url);
  const baseUrl = str(baseRepo.clone_url) ?? str(baseRepo.html_url) ?? str(obj(body.repository).clone_url);
  // A deleted head repository counts as a fork: nothing proves it belongs to the base's team.
  const fork = !headUrl || !baseUrl || normalizeRepoUrl(headUrl) !== normalizeRepoUrl(baseUrl);
  return {
    kind: 'event',
    event: {
      provider,
      event: 'pull_request',
      repoUrls: urls(...repoUrls(baseRepo), ...repoUrls(obj(body.repository))),
      ref,
      sha,
      headMessage: str(pr.title),
      author: str(obj(pr.user).login),
      url: str(pr.html_url),
      request: {
        provider,
        number,
        sourceRepo: headUrl ?? '',
        sourceBranch: need(head.ref, 'pull_request.head.ref', name),
        targetBranch: need(base.ref, 'pull_request.base.ref', name),
        fork,
      },
    },
  };
}
