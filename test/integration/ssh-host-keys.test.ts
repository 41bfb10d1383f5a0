/**
 * Strict SSH host key verification against a real sshd on loopback, for the environments the agent
 * (shared/node/git/env.ts gitEnv, the one environment of both wings: checkout and submodules) and the master (ls-remote,
 * fetch for diffs) give git: the job's knownHosts (or the host's own known_hosts file) lets git in; an
 * unknown or a different host key stops it with a message naming the host and the repo.knownHosts fix.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitEnv } from '../../shared/node/git/env';
import { gitEnv as masterGitEnv, lsRemote, RepoCache } from '../../master/git';
import { git, SshTestRepo, sshdAvailable, startSshd, type TestSshd } from './ssh-server';

let sshd: TestSshd;
let root: string;
let repo: SshTestRepo;
let head: string;
let first: string;

/** Runs git with an agent/master environment; resolves with its exit code and stderr. */
function run(args: string[], env: NodeJS.ProcessEnv, cwd = root): { code: number; stderr: string } {
  try {
    execFileSync('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number; stderr: Buffer };
    return { code: err.status, stderr: err.stderr.toString('utf8') };
  }
}

const unknownHost = (port: number) => new RegExp(`SSH host key of 127\\.0\\.0\\.1 \\(port ${port}\\) is not known: add .*repo\\.knownHosts.*ssh-keyscan -p ${port} 127\\.0\\.0\\.1`);
const changedHost = (port: number) => new RegExp(`SSH host key of 127\\.0\\.0\\.1 \\(port ${port}\\) does not match repo\\.knownHosts.*ssh-keyscan -p ${port} 127\\.0\\.0\\.1`);

describe.skipIf(!sshdAvailable)('SSH host keys against a real sshd', () => {
  beforeAll(async () => {
    sshd = await startSshd();
    root = mkdtempSync(join(tmpdir(), 'slipway-ssh-keys-'));
    repo = new SshTestRepo(join(root, 'web'));
    first = repo.commit('first', { 'README.md': 'hello\n' });
    head = repo.commit('second', { 'src/a.ts': 'a\n' });
  }, 30_000);
  afterAll(async () => {
    await sshd?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  describe('agent checkout environment', () => {
    it('clones with the job key and knownHosts, from a private dir that cleanup removes', async () => {
      const g = await gitEnv({ url: sshd.url(repo.dir), credential: sshd.userKey, knownHosts: `# scanned\n${sshd.hostLine}\n`, hostKnownHostsFiles: [] });
      const dir = g.env.HOME;
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'known_hosts')).mode & 0o777).toBe(0o600);
      const r = run(['clone', '--quiet', '--', sshd.url(repo.dir), join(root, 'ok')], g.env);
      await g.cleanup();
      expect(r.stderr).toBe('');
      expect(git(join(root, 'ok'), 'rev-parse', 'HEAD')).toBe(head);
      expect(existsSync(dir)).toBe(false);
    });

    it('refuses an unknown host key, naming the host and the fix, and checks nothing out', async () => {
      // Default host files: the machine's own known_hosts do not know this loopback port.
      const g = await gitEnv({ url: sshd.url(repo.dir), credential: sshd.userKey });
      const r = run(['clone', '--quiet', '--', sshd.url(repo.dir), join(root, 'unknown')], g.env);
      await g.cleanup();
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(unknownHost(sshd.port));
      expect(existsSync(join(root, 'unknown', 'README.md'))).toBe(false);
    });

    it('refuses a host key different from the job knownHosts line (a man in the middle)', async () => {
      const g = await gitEnv({ url: sshd.url(repo.dir), credential: sshd.userKey, knownHosts: sshd.wrongHostLine, hostKnownHostsFiles: [] });
      const r = run(['clone', '--quiet', '--', sshd.url(repo.dir), join(root, 'changed')], g.env);
      await g.cleanup();
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(changedHost(sshd.port));
      expect(existsSync(join(root, 'changed', 'README.md'))).toBe(false);
    });

    it("trusts the agent host's own known_hosts file", async () => {
      const hostFile = join(root, 'host_known_hosts');
      writeFileSync(hostFile, `${sshd.hostLine}\n`);
      const g = await gitEnv({ url: sshd.url(repo.dir), credential: sshd.userKey, hostKnownHostsFiles: [join(root, 'missing'), hostFile] });
      const r = run(['ls-remote', '--heads', '--', sshd.url(repo.dir)], g.env);
      await g.cleanup();
      expect(r).toEqual({ code: 0, stderr: '' });
    });

    it('verifies the host key of SSH submodules with the same environment', async () => {
      const parent = new SshTestRepo(join(root, 'parent'));
      parent.commit('init', { 'x.txt': 'x\n' });
      // The submodule is added over file:// (test setup), then pointed at its ssh:// URL for the checkout.
      git(parent.dir, '-c', 'protocol.file.allow=always', 'submodule', 'add', '--quiet', '--', repo.dir, 'lib');
      git(parent.dir, 'config', '-f', '.gitmodules', 'submodule.lib.url', sshd.url(repo.dir));
      parent.commit('submodule over ssh', {});
      for (const [name, knownHosts, ok] of [
        ['sub-ok', sshd.hostLine, true],
        ['sub-unknown', undefined, false],
      ] as const) {
        const dest = join(root, name);
        const g = await gitEnv({ url: parent.dir, credential: sshd.userKey, knownHosts, hostKnownHostsFiles: [] });
        expect(run(['clone', '--quiet', '--', parent.dir, dest], g.env).code).toBe(0);
        const r = run(['submodule', '--quiet', 'update', '--init', '--recursive'], g.env, dest);
        await g.cleanup();
        if (ok) {
          expect(r.code, r.stderr).toBe(0);
          expect(existsSync(join(dest, 'lib', 'src', 'a.ts'))).toBe(true);
        } else {
          expect(r.code).not.toBe(0);
          expect(r.stderr).toMatch(unknownHost(sshd.port));
          expect(existsSync(join(dest, 'lib', 'src', 'a.ts'))).toBe(false);
        }
      }
    });
  });

  describe('master git (ls-remote, fetch for diffs)', () => {
    it('lists the heads with the job knownHosts and refuses unknown and changed host keys', async () => {
      const url = sshd.url(repo.dir);
      const heads = await lsRemote(url, { credential: sshd.userKey, knownHosts: sshd.hostLine });
      expect(heads.get('refs/heads/main')).toBe(head);
      const unknown = await lsRemote(url, { credential: sshd.userKey }).catch((e: Error) => e);
      expect(unknown).toBeInstanceOf(Error);
      expect((unknown as Error).message).toMatch(unknownHost(sshd.port));
      const changed = await lsRemote(url, { credential: sshd.userKey, knownHosts: sshd.wrongHostLine }).catch((e: Error) => e);
      expect((changed as Error).message).toMatch(changedHost(sshd.port));
      // The private key never appears in what the master would log.
      expect((changed as Error).message).not.toContain('PRIVATE KEY');
    });

    it('fetches for a diff over SSH with the job knownHosts only', async () => {
      const cache = new RepoCache(join(root, 'cache'));
      const req = { url: sshd.url(repo.dir), credential: sshd.userKey, ref: 'refs/heads/main', sha: head, base: first };
      await expect(cache.changedFiles(req)).rejects.toThrow(unknownHost(sshd.port));
      expect(await cache.changedFiles({ ...req, knownHosts: sshd.hostLine })).toEqual(['src/a.ts']);
    });

    it('keeps the key and trusted keys in one private dir, removed by cleanup', async () => {
      const a = await masterGitEnv({ url: sshd.url(repo.dir), credential: sshd.userKey, knownHosts: sshd.hostLine, hostKnownHostsFiles: [] });
      const dir = /^sh '(.+)\/ssh'$/.exec(a.env.GIT_SSH_COMMAND ?? '')?.[1];
      expect(dir).toBeDefined();
      expect(statSync(dir!).mode & 0o777).toBe(0o700);
      expect(readdirSync(dir!).sort()).toEqual(['id', 'known_hosts', 'ssh']);
      await a.cleanup();
      expect(existsSync(dir!)).toBe(false);
      // An https URL with a token: no key file (the ssh wrapper stays for submodules).
      const http = await masterGitEnv({ url: 'https://git.example/shop/web.git', credential: 'token' });
      const httpDir = /^sh '(.+)\/ssh'$/.exec(http.env.GIT_SSH_COMMAND ?? '')?.[1];
      expect(readdirSync(httpDir!).sort()).toEqual(['known_hosts', 'ssh']);
      await http.cleanup();
    });
  });
});
