/**
 * Issue 7, item 9: master and agent run git through one runner (shared/node/git) with a clean environment
 * and no system or user config. The master's git used to run with the whole process.env: a user-level
 * ~/.gitconfig (or a GIT_* variable of the operator's shell) could redirect a job's ls-remote to another
 * repository.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lsRemote } from '../../master/git';
import { TestRepo } from '../helpers/git';

const root = mkdtempSync(join(tmpdir(), 'slipway-git-iso-'));
const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL, GIT_DIR: process.env.GIT_DIR };
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(root, { recursive: true, force: true });
});

describe("the master's git", () => {
  it('ignores the user git config and GIT_* variables of the master process', async () => {
    const a = new TestRepo(join(root, 'a'));
    const shaA = a.commit('a', { 'f.txt': 'a\n' });
    const b = new TestRepo(join(root, 'b'));
    const shaB = b.commit('b', { 'f.txt': 'b\n' });
    // An operator's (or attacker's) config rewriting repository A to B, and a GIT_DIR pointing elsewhere.
    const home = join(root, 'home');
    const cfg = join(root, 'gitconfig');
    writeFileSync(cfg, `[url "${b.url}"]\n\tinsteadOf = ${a.url}\n`);
    process.env.HOME = home;
    process.env.GIT_CONFIG_GLOBAL = cfg;
    process.env.GIT_DIR = join(root, 'nowhere');
    const heads = await lsRemote(a.url);
    expect(heads.get('refs/heads/main')).toBe(shaA);
    expect(heads.get('refs/heads/main')).not.toBe(shaB);
  });
});
