/**
 * The checkout executor refuses input that could inject options or transports into git before git runs,
 * and leaves nothing of an SSH key behind. Real repositories, real executor runs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitEnv } from '../../shared/node/git/env';
import type { Workspaces } from '../../agent/workspace';
import { agentDir, runCheckout, sh, source, tempDir, TestRepo } from './agent-git-fixtures';

const dirs: string[] = [];
let ws: Workspaces;
let repo: TestRepo;
let sha: string;
let marker: string;

beforeAll(async () => {
  ws = await agentDir();
  const root = tempDir('sec');
  dirs.push(ws.workDir, root);
  repo = new TestRepo(join(root, 'app'));
  sha = repo.commit('c1', { 'a.txt': 'a\n' });
  marker = join(root, 'pwned');
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('checkout refuses unsafe input before git runs', () => {
  const cases: [string, () => Parameters<typeof source>[0], RegExp][] = [
    ['a ref starting with -', () => ({ url: repo.url, sha, ref: '-x' }), /^source\.ref '-x' starts with '-'/],
    ['an --upload-pack ref', () => ({ url: repo.url, sha, ref: `--upload-pack=touch ${marker}` }), /^source\.ref '--upload-pack=.*' starts with '-'/],
    ['an ext:: URL', () => ({ url: `ext::sh -c touch% ${marker}`, sha }), /^source\.url: .*ext::/],
    ['an --upload-pack URL', () => ({ url: `--upload-pack=touch ${marker}`, sha }), /^source\.url: .*starts with '-'/],
    ['a fd:: URL', () => ({ url: 'fd::3', sha }), /^source\.url: .*fd::/],
    ['a sha that is a revision expression', () => ({ url: repo.url, sha: 'HEAD' }), /^source\.sha 'HEAD' is not a full/],
    ['an option as previousSha', () => ({ url: repo.url, sha, previousSha: `--output=${marker}`, knowsChangedFiles: false }), /^source\.previousSha/],
    ['a cache key leaving the cache dir', () => ({ url: repo.url, sha, cacheKey: '..' }), /^source\.cacheKey '\.\.'/],
    ['credentials naming no secret', () => ({ url: repo.url, sha, credentials: 'NOPE' }), /^source\.credentials 'NOPE' names no secret/],
  ];
  for (const [what, src, message] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await runCheckout(ws, source({ cacheKey: 'sec', ...src() }));
      expect(r.result.status).toBe('error');
      expect(r.result.error).toMatch(message);
      expect(r.records).toEqual([]);
      expect(existsSync(marker)).toBe(false);
      // Refused before any git command: not even the cache was created.
      expect(existsSync(join(ws.workDir, 'git-cache'))).toBe(false);
    });
  }

  it('refuses a step path leading out of the workspace', async () => {
    const r = await runCheckout(ws, source({ url: repo.url, sha, cacheKey: 'sec-link' }), { config: { path: '../out' } });
    expect(r.result.error).toMatch(/checkout step config: 'path' path must stay inside the workspace/);
  });

  it('refuses a submodule with an ext:: URL (only git, http(s), ssh and file for local repositories)', async () => {
    const root = tempDir('sec-sub');
    dirs.push(root);
    const evil = new TestRepo(join(root, 'evil'));
    evil.commit('base', { 'x.txt': 'x\n' });
    writeFileSync(join(evil.dir, '.gitmodules'), `[submodule "m"]\n\tpath = m\n\turl = ext::sh -c touch% ${marker}\n`);
    sh(evil.dir, 'update-index', '--add', '--cacheinfo', `160000,${sha},m`);
    sh(evil.dir, 'add', '.gitmodules');
    sh(evil.dir, 'commit', '--quiet', '-m', 'add module');
    const evilSha = sh(evil.dir, 'rev-parse', 'HEAD');
    expect(sh(evil.dir, 'ls-tree', 'HEAD', 'm')).toContain('160000 commit');
    const r = await runCheckout(ws, source({ url: evil.url, sha: evilSha, submodules: true, cacheKey: 'sec-sub' }));
    expect(r.result.status).toBe('error');
    expect(r.result.error).toMatch(/submodules/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('SSH key credentials', () => {
  const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-key-material\n-----END OPENSSH PRIVATE KEY-----';

  it('live in a 0600 file of a private 0700 dir named by GIT_SSH_COMMAND, removed by cleanup', async () => {
    const g = await gitEnv({ url: 'git@git.example:shop/web.git', credential: key });
    // GIT_SSH_COMMAND runs the strict host key wrapper (shared/ssh-host-keys.ts), which names the key file.
    const wrapper = /^sh '([^']+)'$/.exec(g.env.GIT_SSH_COMMAND)?.[1];
    const m = /-i '([^']+)' -o IdentitiesOnly=yes/.exec(wrapper ? readFileSync(wrapper, 'utf8') : '');
    expect(m).not.toBeNull();
    const file = m![1];
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
    expect(Object.values(g.env).join('\n')).not.toContain('test-key-material');
    await g.cleanup();
    expect(existsSync(join(file, '..'))).toBe(false);
  });

  it('are gone from disk after a checkout step that used them', async () => {
    const tmp = tempDir('sec-tmp');
    dirs.push(tmp);
    const before = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const r = await runCheckout(ws, source({ url: repo.url, sha, credentials: 'DEPLOY_KEY', cacheKey: 'sec-ssh' }), { secrets: { DEPLOY_KEY: key } });
      expect(r.result.status).toBe('success');
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    }
  });
});

describe('HTTP token credentials', () => {
  it('are passed as a header scoped to the repository origin, through the environment only', async () => {
    const g = await gitEnv({ url: 'https://gitlab.example/shop/web.git', credential: 'glpat-secret-123' });
    try {
      const n = Number(g.env.GIT_CONFIG_COUNT);
      const entries = Array.from({ length: n }, (_, i) => [g.env[`GIT_CONFIG_KEY_${i}`], g.env[`GIT_CONFIG_VALUE_${i}`]]);
      const header = entries.find(([k]) => k === 'http.https://gitlab.example/.extraHeader');
      expect(header?.[1]).toBe(`Authorization: Basic ${Buffer.from('oauth2:glpat-secret-123').toString('base64')}`);
      expect(g.env.GIT_ALLOW_PROTOCOL).toBe('git:http:https:ssh');
    } finally {
      await g.cleanup();
    }
  });
});
