/**
 * The checkout executor against real servers on 127.0.0.1:
 *  - git http-backend behind an HTTP server that demands a token (Basic auth): the token reaches git only
 *    through the environment, and nothing of it is in the log, the workspace or the cache afterwards;
 *  - a git:// server speaking protocol v0 whose upload-pack refuses wants of unadvertised commits (as servers
 *    with uploadpack.allowReachableSHA1InWant off do): the executor falls back to fetching the ref and
 *    deepening, and still checks out exactly the requested older commit.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspaces } from '../../agent/workspace';
import type { RunAs } from '../../agent/executors/types';
import { agentDir, runCheckout, sh, shAs, source, tempDir, TestRepo, TEST_JOB_ID } from '../unit/agent-git-fixtures';

const TOKEN = 'tok-3f9a1c77e2b54d0e';
const dirs: string[] = [];
const servers: (Server | NetServer)[] = [];
let ws: Workspaces;
let root: string;
let repo: TestRepo;
let old: string;
let head: string;

/** git http-backend (CGI) behind node:http; 401 unless Basic x-access-token:TOKEN. */
function httpGitServer(projectRoot: string): Promise<number> {
  const expected = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;
  const server = createHttpServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '',
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: (req.headers['content-encoding'] as string) ?? '',
        GIT_PROTOCOL: (req.headers['git-protocol'] as string) ?? '',
        REMOTE_USER: 'ci',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (b: Buffer) => {
      if (headersDone) return void res.write(b);
      head = Buffer.concat([head, b]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** git:// that ignores the client's protocol v2 request, so upload-pack speaks v0 and enforces advertised wants. */
function gitV0Server(baseDir: string): Promise<number> {
  const server = createNetServer((socket) => {
    let buf = Buffer.alloc(0);
    // The request pkt-line may arrive in several TCP segments.
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const len = parseInt(buf.subarray(0, 4).toString(), 16);
      if (buf.length < len) return;
      socket.off('data', onData);
      socket.pause();
      const [request] = buf.subarray(4, len).toString().split('\0');
      const path = request.replace(/^git-upload-pack /, '');
      const up = spawn('git', ['upload-pack', join(baseDir, path)], { env: { PATH: process.env.PATH ?? '', GIT_CONFIG_NOSYSTEM: '1' } });
      up.stdin.on('error', () => {});
      if (buf.length > len) up.stdin.write(buf.subarray(len));
      socket.pipe(up.stdin);
      up.stdout.pipe(socket);
      socket.on('error', () => up.kill());
    };
    socket.on('data', onData);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function grepTree(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) return readdirSync(p).forEach((e) => walk(join(p, e)));
    if (!st.isFile()) return;
    const text = readFileSync(p).toString('latin1');
    for (const n of needles) if (text.includes(n)) hits.push(`${p}: ${n}`);
  };
  walk(dir);
  return hits;
}

let runAs: RunAs | undefined;

beforeAll(async () => {
  ws = await agentDir();
  runAs = await ws.userFor(TEST_JOB_ID);
  root = tempDir('remote');
  dirs.push(ws.workDir, root);
  repo = new TestRepo(join(root, 'shop', 'web'));
  sh(repo.dir, 'config', 'uploadpack.allowReachableSHA1InWant', 'false');
  old = repo.commit('old', { 'v.txt': 'old\n' });
  for (let i = 0; i < 20; i++) repo.commit(`c${i}`, { 'v.txt': `v${i}\n` });
  head = repo.commit('head', { 'v.txt': 'head\n' });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('checkout over HTTP with a token', () => {
  it('authenticates with the token and leaves it nowhere: not in the log, the workspace, the cache or temp files', async () => {
    const port = await httpGitServer(root);
    const url = `http://127.0.0.1:${port}/shop/web/.git`;
    const tmp = tempDir('remote-tmp');
    dirs.push(tmp);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const denied = await runCheckout(ws, source({ url, sha: head, cacheKey: 'http-denied' }));
      expect(denied.result.status).toBe('error');
      expect(denied.result.error).toMatch(/fetching|Authentication|could not read/i);

      const r = await runCheckout(ws, source({ url, sha: head, credentials: 'GIT_TOKEN', cacheKey: 'http' }), { secrets: { GIT_TOKEN: TOKEN } });
      expect(r.result, r.log).toEqual({ status: 'success', exitCode: 0 });
      expect(shAs(runAs, r.workspace, 'rev-parse', 'HEAD')).toBe(head);
      expect(r.log).not.toContain(TOKEN);
      const b64 = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
      expect(grepTree(r.workspace, [TOKEN, b64])).toEqual([]);
      expect(grepTree(join(ws.workDir, 'git-cache'), [TOKEN, b64])).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});

describe('checkout from a server that refuses fetching by sha', () => {
  it('falls back to the ref, deepens, and checks out exactly the older commit', async () => {
    const port = await gitV0Server(root);
    const url = `git://127.0.0.1:${port}/shop/web`;
    const r = await runCheckout(ws, source({ url, sha: old, cacheKey: 'v0' }));
    expect(r.result, `${r.log}\n${r.result.error}`).toEqual({ status: 'success', exitCode: 0 });
    expect(r.log).toMatch(/refused to send commit [0-9a-f]{7} by sha \(.*(unadvertised|not our ref).*\); fetching refs\/heads\/main instead/);
    expect(shAs(runAs, r.workspace, 'rev-parse', 'HEAD')).toBe(old);
    expect(readFileSync(join(r.workspace, 'v.txt'), 'utf8')).toBe('old\n');
    // The tip is advertised: fetched by sha directly.
    const tip = await runCheckout(ws, source({ url, sha: head, cacheKey: 'v0-tip' }));
    expect(tip.result.status).toBe('success');
    expect(tip.log).not.toContain('instead');
  });
});
