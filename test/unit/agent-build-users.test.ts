/**
 * Per-job build users on real accounts, real directories and real processes (as root, like CI): users are
 * created once and cached, pooled workspaces belong to their job's user and are recreated when another user
 * owns them, one job's user cannot read another job's pooled workspace, removals of a tree a step rearranged
 * stay inside it, and an artifact whose path a step swapped for a symlink to a root-only file is not sent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadArtifact } from '../../agent/artifacts';
import { BuildUsers, buildUserName, JOB_UID_BASE, lookupUser } from '../../agent/build-users';
import type { RunAs } from '../../agent/executors/types';
import { removeOwnedTree } from '../../agent/git/as-build-user';
import { Workspaces } from '../../agent/workspace';
import { tempDir } from './agent-git-fixtures';

const root = process.getuid?.() === 0;
const dirs: string[] = [];
let ws: Workspaces;
let userA: RunAs;
let userB: RunAs;
// Job ids far from those the integration tests' masters hand out, so the users are these tests' own.
const JOB_A = 900_001;
const JOB_B = 900_002;

/** Runs a shell script as a user in dir, like a step; returns status and output. */
function as(user: RunAs, dir: string, script: string) {
  const r = spawnSync('/bin/sh', ['-c', script], { cwd: dir, uid: user.uid, gid: user.gid, env: { PATH: process.env.PATH }, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  if (!root) return;
  const workDir = tempDir('users');
  dirs.push(workDir);
  ws = await Workspaces.open(workDir, BuildUsers.ifRoot());
  userA = (await ws.userFor(JOB_A))!;
  userB = (await ws.userFor(JOB_B))!;
});

afterAll(() => {
  ws?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('build user names', () => {
  it('names the user after the job id and refuses ids that are not positive integers', () => {
    expect(buildUserName(42)).toBe('slipway-j42');
    expect(() => buildUserName(0)).toThrow(/build.jobId must be a positive integer, got 0/);
    expect(() => buildUserName(1.5)).toThrow(/build.jobId/);
  });
});

describe.skipIf(!root)('per-job build users (as root)', () => {
  it('creates each job user once, unprivileged and without a login, and answers concurrent callers alike', async () => {
    expect(userA.uid).not.toBe(0);
    expect(userA.uid).not.toBe(userB.uid);
    expect(userA.gid).not.toBe(userB.gid);
    const passwd = execFileSync('getent', ['passwd', buildUserName(JOB_A)], { encoding: 'utf8' }).trim().split(':');
    expect(passwd[5]).toBe('/nonexistent');
    expect(passwd[6]).toBe('/usr/sbin/nologin');
    // A fresh BuildUsers (another agent process, say) racing itself finds the same account.
    const other = new BuildUsers();
    const JOB_C = 900_000 + Math.floor(Math.random() * 90_000) + 3;
    const all = await Promise.all([other.forJob(JOB_C), other.forJob(JOB_C), new BuildUsers().forJob(JOB_C)]);
    expect(new Set(all.map((u) => u.uid)).size).toBe(1);
    expect(await lookupUser(buildUserName(JOB_C))).toEqual(all[0]);
    // uid and gid come from the job id, far above useradd's own small system range.
    expect(all[0]).toMatchObject({ uid: JOB_UID_BASE + JOB_C, gid: JOB_UID_BASE + JOB_C });
    execFileSync('userdel', [buildUserName(JOB_C)]);
    spawnSync('groupdel', [buildUserName(JOB_C)]);
  });

  it("gives each job's pooled workspace to the job's user; the other job's user can neither read nor list it", async () => {
    const a = await ws.acquire('job-a', userA);
    const b = await ws.acquire('job-b', userB);
    try {
      expect(statSync(a.dir).uid).toBe(userA.uid);
      expect(statSync(b.dir).uid).toBe(userB.uid);
      expect(statSync(a.dir).mode & 0o777).toBe(0o700);
      expect(as(userA, a.dir, 'echo private > secret.txt').code).toBe(0);
      const thief = as(userB, b.dir, `cat ${a.dir}/secret.txt; ls ${a.dir}`);
      expect(thief.code).not.toBe(0);
      expect(thief.out).toMatch(/Permission denied/);
      expect(thief.out).not.toMatch(/private/);
    } finally {
      await a.release();
      await b.release();
    }
  });

  it("recreates a pooled workspace owned by another user (older agent, other job) empty for the job's user", async () => {
    const first = await ws.acquire('moved', userA);
    expect(as(userA, first.dir, 'mkdir -p sub && echo old > sub/f && chmod 500 sub').code).toBe(0);
    await first.release();
    const again = await ws.acquire('moved', userA);
    expect(again.recreatedFrom).toBeUndefined();
    expect(readdirSync(again.dir)).toEqual(['sub']);
    await again.release();

    const taken = await ws.acquire('moved', userB);
    try {
      expect(taken.dir).toBe(first.dir);
      expect(taken.recreatedFrom).toBe(userA.uid);
      expect(readdirSync(taken.dir)).toEqual([]);
      expect(statSync(taken.dir).uid).toBe(userB.uid);
      expect(statSync(taken.dir).gid).toBe(userB.gid);
      expect(statSync(taken.dir).mode & 0o777).toBe(0o700);
    } finally {
      await taken.release();
    }
  });

  it('removes a workspace as its owner: a symlink planted inside never makes root remove what it points to', async () => {
    const outside = tempDir('outside');
    dirs.push(outside);
    writeFileSync(join(outside, 'precious'), 'keep\n');
    const dir = await ws.create(7, 1);
    await ws.handOver(dir, userA);
    expect(statSync(dir).uid).toBe(userA.uid);
    symlinkSync(outside, join(dir, 'link'));
    expect(as(userA, dir, 'mkdir -p a/b && touch a/b/c .hidden && chmod 000 a/b').code).toBe(0);
    await ws.remove(dir);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(outside, 'precious'))).toBe(true);
    // A missing directory is not an error.
    await removeOwnedTree(dir);
  });

  it('keeps a fresh workspace root-only until it is handed over, then gives every file to the job user', async () => {
    const dir = await ws.create(7, 2);
    expect(statSync(dir).uid).toBe(0);
    expect(as(userA, '/', `cd ${dir}`).code).not.toBe(0);
    mkdirSync(join(dir, 'in/deep'), { recursive: true });
    writeFileSync(join(dir, 'in/deep/artifact.bin'), 'x');
    await ws.handOver(dir, userA);
    for (const p of ['.', 'in', 'in/deep', 'in/deep/artifact.bin']) expect(statSync(join(dir, p)).uid).toBe(userA.uid);
    await ws.remove(dir);
  });

  it("keeps the agent's git cache and root-only files (the token) unreadable for job users", async () => {
    const cache = join(ws.workDir, 'git-cache');
    mkdirSync(cache, { mode: 0o700, recursive: true });
    const token = join(ws.workDir, 'agent.token');
    writeFileSync(token, 'tok-secret\n', { mode: 0o600 });
    const a = await ws.acquire('probe', userA);
    try {
      const r = as(userA, a.dir, `ls ${cache}; cat ${token}; ls ${ws.workDir}`);
      expect(r.out).not.toMatch(/tok-secret/);
      expect(r.out.match(/Permission denied/g)?.length).toBe(3);
    } finally {
      await a.release();
      rmSync(token);
    }
  });
});

describe.skipIf(!root)('artifact upload as the job user (as root)', () => {
  let server: http.Server;
  let url: string;
  const received: { path: string; body: string; sha: string }[] = [];

  beforeAll(async () => {
    // A real HTTP endpoint recording what the agent sends (the master's receiving side is tested elsewhere).
    server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        received.push({ path: new URL(req.url!, 'http://x').searchParams.get('path')!, body: Buffer.concat(parts).toString(), sha: String(req.headers['x-slipway-sha256']) });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it('sends a regular file read by the job user', async () => {
    const a = await ws.acquire('art-ok', userA);
    try {
      expect(as(userA, a.dir, 'mkdir -p dist && printf built > dist/app.txt').code).toBe(0);
      const up = await uploadArtifact({ url, token: 't' }, 1, 1, { path: 'dist/app.txt', abs: join(a.dir, 'dist/app.txt'), size: 5 }, { workspace: a.dir, runAs: userA, stagingDir: join(ws.workDir, 'builds') });
      expect(up).toMatchObject({ path: 'dist/app.txt', size: 5 });
      expect(received.at(-1)).toEqual({ path: 'dist/app.txt', body: 'built', sha: up.sha256 });
    } finally {
      await a.release();
    }
  });

  it('refuses a file swapped for a symlink to a root-only file after the glob, and sends nothing', async () => {
    const secret = join(ws.workDir, 'root-only.txt');
    writeFileSync(secret, 'ROOT-ONLY-CONTENT\n', { mode: 0o600 });
    const a = await ws.acquire('art-swap', userA);
    try {
      // The glob saw a regular file; then the step swapped the file, and a directory on its path, for symlinks.
      expect(as(userA, a.dir, `mkdir -p dist && ln -s ${secret} dist/app.txt && ln -s ${ws.workDir} out`).code).toBe(0);
      const before = received.length;
      const readAs = { workspace: a.dir, runAs: userA, stagingDir: join(ws.workDir, 'builds') };
      await expect(uploadArtifact({ url, token: 't' }, 2, 1, { path: 'dist/app.txt', abs: join(a.dir, 'dist/app.txt'), size: 18 }, readAs)).rejects.toThrow(
        /reading dist\/app.txt as the build user failed: .*Permission denied/,
      );
      await expect(uploadArtifact({ url, token: 't' }, 2, 1, { path: 'out/root-only.txt', abs: join(a.dir, 'out/root-only.txt'), size: 18 }, readAs)).rejects.toThrow(
        /Permission denied/,
      );
      expect(received.length).toBe(before);
      // The root-only staging copies are gone.
      expect(readdirSync(join(ws.workDir, 'builds')).filter((n) => n.startsWith('out-'))).toEqual([]);
    } finally {
      await a.release();
      rmSync(secret);
    }
  });

  it('refuses a file that grew beyond the size the glob saw', async () => {
    const a = await ws.acquire('art-grow', userA);
    try {
      expect(as(userA, a.dir, 'head -c 100000 /dev/zero > big.bin').code).toBe(0);
      const readAs = { workspace: a.dir, runAs: userA, stagingDir: join(ws.workDir, 'builds') };
      await expect(uploadArtifact({ url, token: 't' }, 3, 1, { path: 'big.bin', abs: join(a.dir, 'big.bin'), size: 10 }, readAs)).rejects.toThrow(/grew to more than 10 bytes/);
    } finally {
      await a.release();
    }
  });
});
