import { describe, expect, it } from 'vitest';
import { parseGeneric } from '../../master/webhooks/generic';
import { parseGithubLike } from '../../master/webhooks/github';
import { parseGitlab } from '../../master/webhooks/gitlab';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const gitlabRepo = { git_http_url: 'https://gitlab.example/shop/web.git', git_ssh_url: 'git@gitlab.example:shop/web.git', homepage: 'https://gitlab.example/shop/web' };

describe('provider payloads', () => {
  it('reads a GitLab Push Hook: every repository URL, head commit, changed files', () => {
    const p = parseGitlab('Push Hook', {
      object_kind: 'push', ref: 'refs/heads/main', before: A, after: B, checkout_sha: B, user_name: 'Ada', total_commits_count: 2,
      repository: gitlabRepo,
      commits: [
        { id: B, message: 'two', url: 'u2', author: { name: 'Bob' }, added: ['x'], modified: ['src/a.ts'], removed: [] },
        { id: A, message: 'one', author: { name: 'Ada' }, added: [], modified: ['src/a.ts'], removed: ['old'] },
      ],
    });
    if (p.kind !== 'event') throw new Error(p.reason);
    expect(p.event).toMatchObject({ event: 'push', sha: B, headMessage: 'two', author: 'Bob', url: 'u2', changedFiles: ['x', 'src/a.ts', 'old'] });
    expect(p.event.repoUrls).toEqual(expect.arrayContaining(Object.values(gitlabRepo)));
  });

  it('treats changed files as unknown when GitLab capped the commits, and builds the annotated tag commit', () => {
    const capped = parseGitlab('Push Hook', { ref: 'refs/heads/main', before: A, after: B, total_commits_count: 25, commits: [{ id: B, added: ['x'] }], repository: gitlabRepo });
    expect(capped.kind === 'event' && capped.event.changedFiles).toBeUndefined();
    const tag = parseGitlab('Tag Push Hook', { ref: 'refs/tags/v1', before: '0'.repeat(40), after: C, checkout_sha: B, repository: gitlabRepo, commits: [] });
    expect(tag).toMatchObject({ kind: 'event', event: { event: 'tag_push', sha: B } });
  });

  it('reads a GitLab Merge Request Hook from a fork; title-only updates build nothing', () => {
    const mr = (action: string, oldrev?: string) => parseGitlab('Merge Request Hook', {
      object_kind: 'merge_request', project: gitlabRepo,
      object_attributes: { iid: 12, action, oldrev, source_branch: 'feat', target_branch: 'main', source_project_id: 9, target_project_id: 1,
        source: { git_http_url: 'https://gitlab.example/eve/web.git' }, target: gitlabRepo, last_commit: { id: A, message: 'feat' } },
    });
    expect(mr('open')).toMatchObject({ kind: 'event', event: { ref: 'refs/merge-requests/12/head', sha: A, request: { number: 12, fork: true, sourceBranch: 'feat', targetBranch: 'main', sourceRepo: 'https://gitlab.example/eve/web.git' } } });
    expect(mr('update')).toMatchObject({ kind: 'ignore' });
    expect(mr('update', B).kind).toBe('event');
    expect(mr('close')).toMatchObject({ kind: 'ignore', reason: expect.stringMatching(/close/) });
  });

  it('reads GitHub push and pull_request; a same-repository PR is not a fork; ping and unknown events are ignored', () => {
    const repo = { clone_url: 'https://github.com/shop/web.git', ssh_url: 'git@github.com:shop/web.git', html_url: 'https://github.com/shop/web' };
    const p = parseGithubLike('github', 'push', { ref: 'refs/heads/main', before: A, after: B, repository: repo, head_commit: { id: B, message: 'm' }, commits: [{ id: B, added: ['a'] }] });
    expect(p).toMatchObject({ kind: 'event', event: { sha: B, changedFiles: ['a'] } });
    const pr = parseGithubLike('github', 'pull_request', { action: 'synchronize', number: 5, repository: repo,
      pull_request: { title: 't', head: { ref: 'feat', sha: C, repo }, base: { ref: 'main', repo } } });
    expect(pr).toMatchObject({ kind: 'event', event: { ref: 'refs/pull/5/head', sha: C, request: { fork: false } } });
    expect(parseGithubLike('github', 'ping', {})).toMatchObject({ kind: 'ignore', reason: 'ping received' });
    expect(parseGithubLike('gitea', 'issues', {})).toMatchObject({ kind: 'ignore', reason: expect.stringMatching(/'issues' is not handled/) });
  });

  it('refuses refs and shas that could inject into git, naming the field', () => {
    expect(() => parseGeneric({ repository: 'r', ref: '--upload-pack=x', sha: A })).toThrow(/ref: .*starts with '-'/);
    expect(() => parseGeneric({ repository: 'r', ref: 'refs/heads/main', sha: 'HEAD' })).toThrow(/not a 40 or 64 hex sha/);
    expect(() => parseGeneric({ ref: 'refs/heads/main', sha: A })).toThrow(/repository is missing/);
    expect(() => parseGeneric({ repository: 'r', ref: 'refs/heads/main', sha: A, changedFiles: 'x' })).toThrow(/changedFiles/);
  });
});
