/**
 * The security matrix (issue 6): every HTTP route and every client stream message type, called as every
 * kind of caller, against the access rule the route declares. The route list comes from the master's own
 * express route table (RunningMaster.routes(), i.e. listRoutes in master/route-access.ts), so a new route is
 * checked the day it is added, and a route without a rule fails the matrix (and stops the master at start).
 *
 * A real master runs in this process (real SQLite, real HTTP on loopback), with one real agent that runs a
 * build producing an artifact, so builds, logs and artifacts of a team exist to be asked for.
 *
 * Callers: anonymous, another team's maintainer, the team's viewer, developer and maintainer, an instance
 * admin, and the maintainer's read-scoped and write-scoped API tokens. Expected answers follow the rule:
 *   public, agent, webhook: a user credential changes nothing (the same status as anonymous);
 *   user(scope): 401 anonymous, 403 without the scope, else allowed;
 *   admin: 401 anonymous, 403 for everyone but admins;
 *   team(action): 401 anonymous, 403 without the action's scope, 404 outside the team, 403 below the role,
 *   else allowed.
 * "Allowed" means: no 401/403, no 5xx, and no 404 for the team's object itself (a 404 for a probe name
 * inside it, such as a member that does not exist, is an allowed answer).
 * An outsider's 404 must also be exactly the answer for an object that does not exist (the same status and
 * message, the names aside), so no route tells another team's objects from missing ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startMaster as startInProcessMaster, type RunningMaster } from '../../master/index';
import { startEtcd } from './discovery';
import type { RouteAccess, RouteInfo } from '../../master/route-access';
import { NEEDED_SCOPE } from '../../master/access';
import type { TokenScope, TeamRole } from '../../master/context';
import { STREAM_ACCESS } from '../../master/engine/stream/hub';
import { ApiClient } from '../../shared/client/api-client';
import { ClientMessageSchema, type StreamMessage } from '../../shared/protocol';
import { startAgent, type TestMaster } from './cluster';
import { waitFor } from './wait';

export interface Caller {
  name: string;
  token?: string;
  /** Role in the team that owns the fixtures; null outside it. */
  role: TeamRole | null;
  admin: boolean;
  scopes: TokenScope[];
}

export interface MatrixCheck {
  route: string;
  caller: string;
  expected: string;
  got: string;
  ok: boolean;
}

export interface MatrixResult {
  routes: RouteInfo[];
  streamTypes: string[];
  callers: string[];
  checks: MatrixCheck[];
  failures: MatrixCheck[];
}

const RANK: Record<TeamRole, number> = { viewer: 0, developer: 1, maintainer: 2 };
const NEEDED_ROLE = { read: 'viewer', trigger: 'developer', edit: 'developer', manage: 'maintainer' } as const;
const has = (held: TokenScope[], needed: TokenScope) => held.some((s) => ['read', 'write', 'admin'].indexOf(s) >= ['read', 'write', 'admin'].indexOf(needed));

/** What the rule says this caller gets: an HTTP status, 'allowed', or 'as-anonymous'. */
export function expectedFor(rule: RouteAccess, c: Caller): number | 'allowed' | 'as-anonymous' {
  switch (rule.kind) {
    case 'public':
    case 'agent':
    case 'webhook':
      return 'as-anonymous';
    case 'user':
      if (!c.token) return 401;
      return has(c.scopes, rule.scope) ? 'allowed' : 403;
    case 'admin':
      if (!c.token) return 401;
      return c.admin && has(c.scopes, 'admin') ? 'allowed' : 403;
    case 'team': {
      if (!c.token) return 401;
      if (!has(c.scopes, NEEDED_SCOPE[rule.action])) return 403;
      const role = c.admin ? 'maintainer' : c.role;
      if (role === null) return 404;
      return RANK[role] >= RANK[NEEDED_ROLE[rule.action]] ? 'allowed' : 403;
    }
  }
}

export async function runSecurityMatrix(log: (line: string) => void = () => undefined): Promise<MatrixResult> {
  const suffix = Math.random().toString(36).slice(2, 8);
  const dataDir = mkdtempSync(join(tmpdir(), 'slipway-matrix-'));
  const adminPassword = `admin-${suffix}-password`;
  process.env.SLIPWAY_LOG_LEVEL ??= 'silent';
  let running: RunningMaster | undefined;
  // A real etcd, so that GET /instances answers (a master without one answers 503).
  const etcd = await startEtcd(dataDir);
  try {
    running = await startInProcessMaster({ dataDir, host: '127.0.0.1', port: 0, adminPassword, etcd: etcd.url });
    const url = running.url;
    const anon = new ApiClient({ url });
    const login = async (u: string, pw: string) => anon.withToken((await anon.login(u, pw)).token);
    const admin = await login('admin', adminPassword);

    // Fixtures: team `shop` owns a job with one finished build, its log and an artifact.
    const shop = `shop-${suffix}`;
    const other = `other-${suffix}`;
    const job = `matrix-${suffix}`;
    const victim = `victim-${suffix}`;
    await admin.createEnvironment('ci');
    await admin.createTeam(shop);
    await admin.createTeam(other);
    const users: Record<string, ApiClient> = {};
    for (const [name, team, role] of [
      ['viewer', shop, 'viewer'],
      ['developer', shop, 'developer'],
      ['maintainer', shop, 'maintainer'],
      ['outsider', other, 'maintainer'],
    ] as const) {
      await admin.createUser({ username: `${name}-${suffix}`, password: `${name}-password` });
      await admin.setMember(team, `${name}-${suffix}`, role);
      users[name] = await login(`${name}-${suffix}`, `${name}-password`);
    }
    const readToken = (await users.maintainer.createToken({ name: 'matrix-read', scopes: ['read'] })).token;
    const writeToken = (await users.maintainer.createToken({ name: 'matrix-write', scopes: ['write'] })).token;
    const jobYaml = (name: string) =>
      `name: ${name}\nteam: ${shop}\nstages:\n  - name: build\n    environment: ci\n    artifacts: [out.txt]\n    steps:\n      - sh: echo matrix > out.txt && echo built\n`;
    await admin.applyJob(jobYaml(job));
    await admin.applyJob(jobYaml(victim));

    const shim = { url, api: admin } as unknown as TestMaster;
    const agent = await startAgent(shim, { environment: 'ci' });
    const buildId = (await admin.trigger(job)).id;
    const build = await waitFor('fixture build finished', async () => {
      const b = await admin.getBuild(buildId);
      return b.status === 'success' || b.status === 'failed' ? b : undefined;
    }, { timeoutMs: 60_000 });
    if (build.status !== 'success') throw new Error(`fixture build failed: ${JSON.stringify(build)}\n${agent.output()}`);
    const artifactId = (await admin.listArtifacts(buildId))[0].id;
    const stageRunId = build.stages[0].id;
    // Later triggers by the matrix stay queued: no agent takes them.
    await agent.stop();
    const spareAgentToken = (await admin.createAgentToken('ci', `spare-${suffix}`)).id;

    const callers: Caller[] = [
      { name: 'anonymous', role: null, admin: false, scopes: [] },
      { name: "another team's maintainer", token: users.outsider.token, role: null, admin: false, scopes: ['read', 'write', 'admin'] },
      { name: 'viewer', token: users.viewer.token, role: 'viewer', admin: false, scopes: ['read', 'write', 'admin'] },
      { name: 'developer', token: users.developer.token, role: 'developer', admin: false, scopes: ['read', 'write', 'admin'] },
      { name: 'maintainer', token: users.maintainer.token, role: 'maintainer', admin: false, scopes: ['read', 'write', 'admin'] },
      { name: 'admin', token: admin.token, role: null, admin: true, scopes: ['read', 'write', 'admin'] },
      { name: "maintainer's read token", token: readToken, role: 'maintainer', admin: false, scopes: ['read'] },
      { name: "maintainer's write token", token: writeToken, role: 'maintainer', admin: false, scopes: ['write'] },
    ];

    /** Concrete values for route parameters; a route with a parameter not listed here fails the matrix. */
    const param = (method: string, path: string, name: string): string | undefined => {
      switch (name) {
        case 'team':
          return shop;
        case 'job':
          return method === 'DELETE' ? victim : job;
        case 'id':
          if (path.startsWith('/api/v1/builds/')) return String(buildId);
          if (path.startsWith('/api/v1/artifacts/') || path.startsWith('/api/v1/agent/artifacts/')) return String(artifactId);
          if (path.startsWith('/api/v1/agent/stage-runs/')) return String(stageRunId);
          if (path.startsWith('/api/v1/agent-tokens/')) return String(spareAgentToken);
          if (path.startsWith('/api/v1/tokens/') || path.startsWith('/api/v1/agents/')) return '999999';
          return undefined;
        case 'username':
          return `probe-${suffix}`;
        case 'name':
          return 'MATRIX_PROBE';
        case 'env':
          return 'ci';
        case 'stage':
          return 'build';
        case 'version':
          return '1.0.0';
        default:
          return undefined;
      }
    };
    const bodies: Record<string, unknown> = {
      'POST /api/v1/auth/login': { username: `nobody-${suffix}`, password: 'wrong-password' },
      'POST /api/v1/tokens': { name: 'matrix-minted', scopes: ['read'] },
      'POST /api/v1/users': { username: `made-${suffix}`, password: 'made-password-1' },
      'PUT /api/v1/users/:username/disabled': { disabled: true },
      'POST /api/v1/environments': { name: `env-${suffix}` },
      'POST /api/v1/environments/:env/agent-tokens': { name: `minted-${suffix}` },
      'POST /api/v1/teams': { name: `team-${suffix}` },
      'PUT /api/v1/teams/:team/members/:username': { role: 'viewer' },
      'PUT /api/v1/teams/:team/secrets/:name': { value: 'matrix-value' },
      'PUT /api/v1/teams/:team/notifications/:name': { webhook: 'http://127.0.0.1:9/matrix', on: ['failure'] },
      'POST /api/v1/jobs': { yaml: jobYaml(`applied-${suffix}`) },
      'POST /api/v1/jobs/validate': { yaml: jobYaml(`validated-${suffix}`) },
      // To its own team: every check runs, and an allowed caller leaves the job where the other routes expect it.
      'POST /api/v1/jobs/:job/move': { team: shop },
    };
    // A 404 naming one of these is a denial, never an allowed answer.
    const objectNotFound = [`team '${shop}'`, `job '${job}'`, `job '${victim}'`, `build ${buildId}`, `artifact ${artifactId}`].map((o) => `${o} not found`);

    /** The route's path with each parameter that names a team object replaced by a name that does not exist. */
    const ghostValues: Record<string, string> = { team: `ghost-team-${suffix}`, job: `ghost-job-${suffix}`, id: '987654321' };
    /** Status and message with every fixture or ghost value of `values` written as <name>. */
    const normalized = (status: number, text: string, values: Record<string, string>) => {
      let t = text;
      for (const [name, v] of Object.entries(values)) t = t.replace(new RegExp(`(?<![\\w-])${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'), `<${name}>`);
      return `${status} ${t}`;
    };

    const routes = running.routes();
    const checks: MatrixCheck[] = [];
    const record = (route: string, caller: string, expected: string, got: string, ok: boolean) => {
      checks.push({ route, caller, expected, got, ok });
      if (!ok) log(`FAIL ${route} as ${caller}: expected ${expected}, got ${got}`);
    };

    for (const r of routes) {
      const label = `${r.method} ${r.path}`;
      if (!r.access) {
        record(label, '(declaration)', 'an access rule', 'none', false);
        continue;
      }
      let missing: string | undefined;
      const path = r.path.replace(/:(\w+)/g, (_m, name: string) => {
        const v = param(r.method, r.path, name);
        if (v === undefined) missing = name;
        return encodeURIComponent(v ?? '');
      });
      if (missing) {
        record(label, '(fixture)', `a value for :${missing} in test/helpers/security-matrix.ts`, 'none', false);
        continue;
      }
      const body = bodies[label] ?? (r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      const call = async (p: string, token: string | undefined) => {
        const res = await fetch(url + p, {
          method: r.method,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, text: await res.text() };
      };
      // The same route with its team object missing, as the outsider asks it.
      const fixtureValues: Record<string, string> = {};
      const ghostPath = r.path.replace(/:(\w+)/g, (_m, name: string) => {
        const v = param(r.method, r.path, name)!;
        if (ghostValues[name] === undefined) return encodeURIComponent(v);
        fixtureValues[name] = v;
        return encodeURIComponent(ghostValues[name]);
      });
      let anonymousStatus = 0;
      for (const c of callers) {
        const res = await call(path, c.token);
        const text = res.text;
        if (!c.token) anonymousStatus = res.status;
        const got = `${res.status} ${text.slice(0, 160)}`;
        const want = expectedFor(r.access, c);
        if (want === 'as-anonymous') record(label, c.name, `${anonymousStatus} (as anonymous)`, got, res.status === anonymousStatus);
        else if (want === 'allowed') {
          const denied = res.status === 401 || res.status === 403 || res.status >= 500 || (res.status === 404 && objectNotFound.some((m) => text.includes(m)));
          record(label, c.name, 'allowed', got, !denied);
        } else if (want === 404 && Object.keys(fixtureValues).length) {
          const ghost = await call(ghostPath, c.token);
          const mine = normalized(res.status, text, fixtureValues);
          const missing = normalized(ghost.status, ghost.text, Object.fromEntries(Object.keys(fixtureValues).map((k) => [k, ghostValues[k]])));
          record(label, c.name, `404, exactly as for a missing object: ${missing}`, mine, res.status === 404 && mine === missing);
        } else record(label, c.name, String(want), got, res.status === want);
      }
    }

    // Client stream: every message type the schema knows, with the rule the hub declares for it.
    const streamTypes = ClientMessageSchema.options.map((o) => o.shape.type.value as string);
    const streamUrl = `${url.replace(/^http/, 'ws')}/api/v1/stream`;
    for (const type of streamTypes) {
      const label = `STREAM ${type}`;
      const rule = (STREAM_ACCESS as Record<string, RouteAccess | undefined>)[type];
      if (!rule) {
        record(label, '(declaration)', 'an access rule in STREAM_ACCESS', 'none', false);
        continue;
      }
      for (const c of callers) {
        const want = expectedFor(rule, c);
        const got = await streamAnswer(streamUrl, c.token, { type, buildId });
        const ok =
          want === 'allowed' ? got === 'allowed' : want === 401 ? got === '401' : want === 404 ? got === 'not_found' : want === 403 ? got === 'forbidden' : false;
        record(label, c.name, String(want), got, ok);
      }
    }

    return { routes, streamTypes, callers: callers.map((c) => c.name), checks, failures: checks.filter((c) => !c.ok) };
  } finally {
    await running?.stop();
    await etcd.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Sends one client message and classifies the answer: '401' (upgrade refused), 'allowed' (stream:subscribed,
 * or no error before a sentinel frame's error), or the stream:error code.
 */
async function streamAnswer(url: string, token: string | undefined, msg: Record<string, unknown>): Promise<string> {
  const ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const opened = await new Promise<string | null>((resolve) => {
    ws.once('open', () => resolve(null));
    ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
    ws.once('error', (err) => resolve(`error ${err.message}`));
  });
  if (opened) {
    ws.terminate();
    return opened;
  }
  try {
    return await new Promise<string>((resolve) => {
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString()) as StreamMessage;
        if (m.type === 'stream:subscribed') resolve('allowed');
        else if (m.type === 'stream:error') resolve(m.code === 'bad_request' && m.buildId === undefined ? 'allowed' : m.code);
      });
      ws.send(JSON.stringify(msg));
      // Sentinel: a frame that is always answered with bad_request; seen first, the message itself had no answer.
      ws.send('not json');
      setTimeout(() => resolve('no answer'), 5000);
    });
  } finally {
    ws.close();
  }
}
