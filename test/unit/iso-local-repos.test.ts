/**
 * The local-repository rule (issue 6, isolation 1) as pure checks: which path a URL names, symlinks and
 * `..` resolved before comparing, and the master's setting SLIPWAY_ALLOW_LOCAL_REPOS / --allow-local-repos.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../master/config';
import { createTriggerPort } from '../../master/engine/builds/create-build';
import { createMasterGit } from '../../master/git';
import { createPushPipeline } from '../../master/webhooks/pipeline';
import { parseJobYaml } from '../../shared/job';
import { engineFixture } from './engine-fixtures';
import { localRepoRefusal } from '../../master/git/local-repos';
import { isInsideDir, localRepoPath } from '../../shared/node/local-repos';

const root = mkdtempSync(join(tmpdir(), 'slipway-local-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('local repositories', () => {
  it('names the path of absolute paths and file:// URLs only', () => {
    expect(localRepoPath('/srv/git/web.git')).toBe('/srv/git/web.git');
    expect(localRepoPath('file:///srv/git/a%20b/../web.git')).toBe('/srv/git/web.git');
    expect(localRepoPath('https://git.example/web.git')).toBeNull();
    expect(localRepoPath('git@git.example:web.git')).toBeNull();
  });

  it('compares real paths: a symlink into a forbidden directory is inside it', () => {
    const secret = join(root, 'secret');
    const allowed = join(root, 'allowed');
    mkdirSync(secret);
    mkdirSync(allowed);
    symlinkSync(secret, join(allowed, 'link'));
    expect(isInsideDir(join(allowed, 'link', 'repo'), secret)).toBe(true);
    expect(isInsideDir(join(allowed, 'x'), allowed)).toBe(true);
    expect(isInsideDir(join(allowed, '..', 'secret'), allowed)).toBe(false);
    expect(isInsideDir(`${allowed}-other`, allowed)).toBe(false);
    const policy = { allowLocalRepos: [allowed], dataDir: join(root, 'data') };
    expect(localRepoRefusal(`file://${join(allowed, 'link', 'repo')}`, { ...policy, dataDir: secret }, 'j')).toMatch(/data dir/);
    expect(localRepoRefusal(join(allowed, 'web.git'), policy, 'j')).toBeNull();
    expect(localRepoRefusal(join(root, 'web.git'), policy, 'j')).toMatch(/job 'j': repo\.url .* outside the directories/);
  });

  it('reads the setting from the flag or the environment, absolute paths only', () => {
    const dataDir = join(root, 'data');
    expect(loadConfig({ dataDir }, {}).allowLocalRepos).toEqual([]);
    expect(loadConfig({ dataDir }, { SLIPWAY_ALLOW_LOCAL_REPOS: '/srv/git:/opt/repos/' }).allowLocalRepos).toEqual(['/srv/git', '/opt/repos']);
    expect(loadConfig({ dataDir, allowLocalRepos: ['/a', '/b'] }, { SLIPWAY_ALLOW_LOCAL_REPOS: '/srv' }).allowLocalRepos).toEqual(['/a', '/b']);
    expect(() => loadConfig({ dataDir }, { SLIPWAY_ALLOW_LOCAL_REPOS: 'relative/dir' })).toThrow(/SLIPWAY_ALLOW_LOCAL_REPOS: every directory must be an absolute path/);
  });
});

describe('a job saved while its local repository was allowed, after the setting narrowed', () => {
  it("is refused by the master's git and ignored by the push pipeline, naming the setting", async () => {
    const f = engineFixture();
    try {
      const url = `file://${join(root, 'narrowed.git')}`;
      const yaml = `name: narrowed\nteam: shop\nrepo: { url: '${url}' }\ntriggers: { push: true }\nstages:\n  - name: build\n    environment: ci\n    steps: [ { sh: 'true' } ]\n`;
      const { id } = f.addJob(yaml);
      const job = { id, name: 'narrowed', teamId: f.teamId, team: 'shop', yaml, source: 'api' as const, filePath: null, enabled: true, config: parseJobYaml(yaml) };
      const ctx = { ...f.core.ctx, config: { ...f.core.ctx.config, allowLocalRepos: [] }, jobs: { byId: () => job, all: () => [job], onChange: () => {} } };
      await expect(createMasterGit(ctx).heads(job)).rejects.toThrow(/job 'narrowed': repo\.url .*SLIPWAY_ALLOW_LOCAL_REPOS/);
      f.secrets.set(f.teamId, 'WEBHOOK_SECRET', 'hook-secret');
      const pipeline = createPushPipeline(ctx, createTriggerPort(f.core), { changedFiles: async () => null });
      const res = pipeline.accept({ provider: 'generic', event: 'push', repoUrls: [url], ref: 'refs/heads/main', sha: 'a'.repeat(40), verify: (s) => s === 'hook-secret' });
      expect(res.queued).toEqual([]);
      expect(res.ignored[0].reason).toMatch(/SLIPWAY_ALLOW_LOCAL_REPOS/);
    } finally {
      f.cleanup();
    }
  });
});
