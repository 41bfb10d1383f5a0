/**
 * The checkout kind's conformance fixture: a local repository with one commit; the good run checks it out and
 * publishes the commit as outputs. It runs no process the test can steer, so no process contract.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkoutExecutor } from '../../../agent/executors/checkout';
import type { Source } from '../../../shared/protocol';
import type { KindFixture } from '../step-executor.contract';

let repo: { dir: string; sha: string } | undefined;

/** A one-commit repository, made once per test file. */
export function conformanceRepo(): { dir: string; sha: string } {
  if (repo) return repo;
  // Readable by the build user: a local repository is fetched as the job's build user.
  const root = mkdtempSync(join(tmpdir(), 'slipway-conf-repo-'));
  chmodSync(root, 0o755);
  const dir = join(root, 'repo');
  mkdirSync(dir);
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'c', GIT_AUTHOR_EMAIL: 'c@x', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@x' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env }).trim();
  git('init', '--quiet');
  writeFileSync(join(dir, 'f.txt'), 'content\n');
  git('add', '.');
  git('commit', '--quiet', '-m', 'c1');
  repo = { dir, sha: git('rev-parse', 'HEAD') };
  return repo;
}

export const checkoutSource = (): Source => {
  const r = conformanceRepo();
  return { url: `file://${r.dir}`, sha: r.sha, ref: 'refs/heads/master', depth: 1, submodules: false, knowsChangedFiles: true, cacheKey: 'conf' };
};

export const checkoutFixture: KindFixture = {
  executor: checkoutExecutor,
  good: async () => ({ config: {}, source: checkoutSource() }),
  invalid: { config: { depth: -1 }, field: /depth/ },
};
