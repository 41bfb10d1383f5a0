/**
 * The commit status calls of each provider, as plain HTTP requests (method, URL, headers, JSON body):
 *  - GitLab: POST {apiUrl}/projects/:id/statuses/:sha, header PRIVATE-TOKEN, body {state, ref, name,
 *    target_url, description}; :id is the url-encoded project path; states pending, running, success,
 *    failed, canceled.
 *  - GitHub: POST {apiUrl}/repos/{owner}/{repo}/statuses/{sha}, Authorization: Bearer, body {state,
 *    target_url, description, context}; states pending, success, failure, error.
 *  - Gitea: POST {apiUrl}/repos/{owner}/{repo}/statuses/{sha}, Authorization: token, same body and states
 *    as GitHub.
 */
import { normalizeRepoUrl } from '../../shared/git';
import type { BuildStatus } from '../../shared/api';

export type StatusProvider = 'gitlab' | 'github' | 'gitea';

export interface StatusCall {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: Record<string, string>;
}

export interface StatusInput {
  provider: StatusProvider;
  apiUrl: string;
  token: string;
  /** The job's repository URL: the project path (GitLab) or owner/repo (GitHub, Gitea) comes from it. */
  repoUrl: string;
  sha: string;
  status: BuildStatus;
  context: string;
  targetUrl: string;
  description: string;
  /** Branch or tag name (GitLab uses it to pick the pipeline). */
  ref?: string;
}

/**
 * The provider's state for a build status. queued/waiting -> pending; running -> pending (GitLab: running);
 * failed and timeout -> failure (GitLab: failed); cancelled -> error (GitLab: canceled), since a
 * cancelled build says nothing about the commit.
 */
export function providerState(provider: StatusProvider, status: BuildStatus): string {
  if (provider === 'gitlab') {
    return ({ waiting: 'pending', queued: 'pending', running: 'running', success: 'success', failed: 'failed', timeout: 'failed', cancelled: 'canceled' } as const)[status];
  }
  return ({ waiting: 'pending', queued: 'pending', running: 'pending', success: 'success', failed: 'failure', timeout: 'failure', cancelled: 'error' } as const)[status];
}

/** Repository path without host: git.example/shop/web -> shop/web. */
export function repoPath(repoUrl: string): string {
  const norm = normalizeRepoUrl(repoUrl);
  const slash = norm.indexOf('/');
  return slash < 0 ? norm : norm.slice(slash + 1);
}

export function statusCall(i: StatusInput): StatusCall {
  const api = i.apiUrl.replace(/\/+$/, '');
  const path = repoPath(i.repoUrl);
  const state = providerState(i.provider, i.status);
  // Providers cap descriptions (GitHub: 140 characters).
  const description = i.description.slice(0, 140);
  if (i.provider === 'gitlab') {
    const body: Record<string, string> = { state, name: i.context, target_url: i.targetUrl, description };
    if (i.ref) body.ref = i.ref;
    return {
      method: 'POST',
      url: `${api}/projects/${encodeURIComponent(path)}/statuses/${i.sha}`,
      headers: { 'content-type': 'application/json', 'private-token': i.token },
      body,
    };
  }
  const [owner, ...rest] = path.split('/');
  const repo = rest.join('/');
  return {
    method: 'POST',
    url: `${api}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${i.sha}`,
    headers: {
      'content-type': 'application/json',
      accept: i.provider === 'github' ? 'application/vnd.github+json' : 'application/json',
      authorization: i.provider === 'github' ? `Bearer ${i.token}` : `token ${i.token}`,
    },
    body: { state, target_url: i.targetUrl, description, context: i.context },
  };
}
