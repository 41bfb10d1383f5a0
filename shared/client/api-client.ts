/**
 * A small typed client over the public HTTP API (shared/api.ts), used by the CLI, the tests and the web UI.
 * It only needs `fetch`, so it runs in Node 20 and in browsers alike. Every non-2xx answer becomes a
 * SlipwayError rebuilt with fromBody (a ValidationError when the body lists issues); a master that cannot
 * be reached becomes an 'unavailable' SlipwayError naming the URL.
 */
import type {
  EdgeInfo,
  InstanceInfo,
  FindingsPage,
  TeamNotifierInfo,
  NotificationInfo,
  TestReport,
  TestTrendPoint,
  Severity,
  RegistryInfo,
  RegistryInput,
  RegistryRepository,
  AgentInfo,
  AgentTokenInfo,
  ApiTokenInfo,
  ArtifactInfo,
  BuildDetail,
  ReportInfo,
  StepOutputInfo,
  TestResultInfo,
  BuildInfo,
  CreateApiToken,
  CreatedToken,
  CreateUser,
  EnvironmentInfo,
  EnvironmentInput,
  DeploymentInfo,
  PendingApproval,
  RollbackRequest,
  JobInfo,
  LoginResponse,
  Me,
  PluginInfo,
  Role,
  SearchHit,
  TeamInfo,
  TriggerEventInfo,
  TriggerRequest,
  UserInfo,
} from '../api';
import { fromBody, SlipwayError } from '../errors';
import type { PluginInstallResult, PluginManifest, PluginPackageInfo } from '../api-plugins';

export interface ApiClientOptions {
  /** Base URL of the master, e.g. http://127.0.0.1:8080 (no /api/v1 suffix). */
  url: string;
  /** JWT from login or a personal API token; omitted for login and /healthz. */
  token?: string;
  /** Replaces the global fetch (e.g. an undici fetch with a pinned CA for self-signed TLS). */
  fetch?: typeof fetch;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const enc = encodeURIComponent;

export class ApiClient {
  readonly url: string;
  readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    // Called as a method of this object; a browser's fetch must be called on the window (else: Illegal invocation).
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** A client for the same master with another credential. */
  withToken(token: string): ApiClient {
    return new ApiClient({ url: this.url, token, fetch: this.fetchImpl });
  }

  /**
   * Sends one request; `path` is relative to the master root (e.g. /api/v1/jobs). Resolves with the parsed
   * JSON body (undefined for 204), or the text body when the response is not JSON. Throws SlipwayError.
   */
  async request<T>(method: Method, path: string, body?: unknown, raw?: { contentType: string; data: Uint8Array | string }): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (raw) {
      headers['content-type'] = raw.contentType;
      payload = raw.data as BodyInit;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.url + path, { method, headers, body: payload });
    } catch (err) {
      const why = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new SlipwayError('unavailable', `cannot reach the master at ${this.url} (${why?.code ?? why?.message ?? String(err)})`, { cause: err });
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    let parsed: unknown = text;
    if (isJson && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new SlipwayError('internal', `the master at ${this.url} sent invalid JSON for ${method} ${path} (HTTP ${res.status})`);
      }
    }
    if (!res.ok) {
      const err = fromBody(res.status, parsed);
      // A body without an ErrorBody (proxy page, express default 404) still names the request.
      if (err.message === `HTTP ${res.status}`) err.message = `${method} ${path}: HTTP ${res.status}`;
      throw err;
    }
    return parsed as T;
  }

  private get<T>(path: string) {
    return this.request<T>('GET', `/api/v1${path}`);
  }
  private post<T>(path: string, body?: unknown) {
    return this.request<T>('POST', `/api/v1${path}`, body ?? {});
  }
  private put<T>(path: string, body?: unknown) {
    return this.request<T>('PUT', `/api/v1${path}`, body ?? {});
  }
  private del(path: string) {
    return this.request<void>('DELETE', `/api/v1${path}`);
  }

  healthz() {
    return this.request<{ ok: true; version: string }>('GET', '/healthz');
  }

  login(username: string, password: string) {
    return this.post<LoginResponse>('/auth/login', { username, password });
  }
  me() {
    return this.get<Me>('/me');
  }

  listTokens() {
    return this.get<ApiTokenInfo[]>('/tokens');
  }
  createToken(req: CreateApiToken) {
    return this.post<CreatedToken>('/tokens', req);
  }
  revokeToken(id: number) {
    return this.del(`/tokens/${id}`);
  }

  listUsers() {
    return this.get<UserInfo[]>('/users');
  }
  createUser(req: CreateUser) {
    return this.post<UserInfo>('/users', req);
  }
  setUserDisabled(username: string, disabled: boolean) {
    return this.put<UserInfo>(`/users/${encodeURIComponent(username)}/disabled`, { disabled });
  }

  listTeams() {
    return this.get<TeamInfo[]>('/teams');
  }
  createTeam(name: string) {
    return this.post<TeamInfo>('/teams', { name });
  }
  setMember(team: string, username: string, role: Role) {
    return this.put<void>(`/teams/${enc(team)}/members/${enc(username)}`, { role });
  }
  removeMember(team: string, username: string) {
    return this.del(`/teams/${enc(team)}/members/${enc(username)}`);
  }
  listInstances(filter: { app?: string; environment?: string } = {}) {
    const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined) as [string, string][]).toString();
    return this.get<InstanceInfo[]>(`/instances${q ? `?${q}` : ''}`);
  }
  listEdges() {
    return this.get<EdgeInfo[]>('/edges');
  }
  listRegistries() {
    return this.get<RegistryInfo[]>('/registries');
  }
  putRegistry(r: RegistryInput) {
    return this.post<RegistryInfo>('/registries', r);
  }
  removeRegistry(name: string) {
    return this.del(`/registries/${encodeURIComponent(name)}`);
  }
  listRepositories(registry: string, prefix?: string) {
    return this.get<RegistryRepository[]>(`/registries/${encodeURIComponent(registry)}/repositories${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`);
  }
  listSecrets(team: string) {
    return this.get<{ name: string; updatedAt: number }[]>(`/teams/${enc(team)}/secrets`);
  }
  setSecret(team: string, name: string, value: string) {
    return this.put<void>(`/teams/${enc(team)}/secrets/${enc(name)}`, { value });
  }
  deleteSecret(team: string, name: string) {
    return this.del(`/teams/${enc(team)}/secrets/${enc(name)}`);
  }
  /** The team's own notification channels (maintainer). */
  teamNotifiers(team: string) {
    return this.get<TeamNotifierInfo[]>(`/teams/${enc(team)}/notifications`);
  }
  /** Creates or replaces a team channel: `channel` as a job's notify entry (e.g. { slack: 'SLACK_URL', on: ['failure'] }). */
  setTeamNotifier(team: string, name: string, channel: Record<string, unknown>) {
    return this.put<TeamNotifierInfo>(`/teams/${enc(team)}/notifications/${enc(name)}`, channel);
  }
  removeTeamNotifier(team: string, name: string) {
    return this.del(`/teams/${enc(team)}/notifications/${enc(name)}`);
  }

  listEnvironments() {
    return this.get<EnvironmentInfo[]>('/environments');
  }
  createEnvironment(name: string, opts: Omit<EnvironmentInput, 'name'> = {}) {
    return this.post<EnvironmentInfo>('/environments', { name, ...opts });
  }
  updateEnvironment(name: string, changes: Omit<EnvironmentInput, 'name'>) {
    return this.put<EnvironmentInfo>(`/environments/${enc(name)}`, changes);
  }
  listAgentTokens(environment: string) {
    return this.get<AgentTokenInfo[]>(`/environments/${enc(environment)}/agent-tokens`);
  }
  createAgentToken(environment: string, name: string) {
    return this.post<CreatedToken>(`/environments/${enc(environment)}/agent-tokens`, { name });
  }
  revokeAgentToken(id: number) {
    return this.del(`/agent-tokens/${id}`);
  }

  listJobs() {
    return this.get<JobInfo[]>('/jobs');
  }
  getJob(name: string) {
    return this.get<JobInfo & { yaml: string }>(`/jobs/${enc(name)}`);
  }
  /**
   * Creates or updates the job described by the YAML (the master validates it again). `file` names the text in
   * the master's errors (`rival.yml:14:16: ...`; the master says `job.yml` without it); it is a label only.
   */
  applyJob(yaml: string, file?: string) {
    return this.post<JobInfo>('/jobs', file === undefined ? { yaml } : { yaml, file });
  }
  validateJob(yaml: string, file?: string) {
    return this.post<{ ok: true }>('/jobs/validate', file === undefined ? { yaml } : { yaml, file });
  }
  deleteJob(name: string) {
    return this.del(`/jobs/${enc(name)}`);
  }
  /** Moves the job (name or team/name) to another team; its id, builds and trigger history go with it. */
  moveJob(name: string, team: string, file?: string) {
    return this.post<JobInfo>(`/jobs/${enc(name)}/move`, file === undefined ? { team } : { team, file });
  }

  trigger(job: string, req: TriggerRequest = {}) {
    return this.post<BuildInfo>(`/jobs/${enc(job)}/builds`, req);
  }
  listBuilds(job: string, opts: { limit?: number; before?: number } = {}) {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.before !== undefined) q.set('before', String(opts.before));
    const qs = q.toString();
    return this.get<BuildInfo[]>(`/jobs/${enc(job)}/builds${qs ? `?${qs}` : ''}`);
  }
  getBuild(id: number) {
    return this.get<BuildDetail>(`/builds/${id}`);
  }
  buildOutputs(id: number) {
    return this.get<StepOutputInfo[]>(`/builds/${id}/outputs`);
  }
  buildReports(id: number) {
    return this.get<ReportInfo[]>(`/builds/${id}/reports`);
  }
  /** SARIF findings of the build with totals, high first; `onlyNew`: only those new since the previous build of the branch. */
  buildFindings(id: number, opts: { severity?: Severity; onlyNew?: boolean; limit?: number } = {}) {
    const q = new URLSearchParams();
    if (opts.severity) q.set('severity', opts.severity);
    if (opts.onlyNew) q.set('new', '1');
    if (opts.limit) q.set('limit', String(opts.limit));
    const qs = q.toString();
    return this.get<FindingsPage>(`/builds/${id}/findings${qs ? `?${qs}` : ''}`);
  }
  /** Notifications of the build's events: channel, status, attempts, last error. */
  buildNotifications(id: number) {
    return this.get<NotificationInfo[]>(`/builds/${id}/notifications`);
  }
  /** The build's tests against history: newly failing, fixed, flaky, slowest. */
  buildTestReport(id: number, opts: { slowest?: number } = {}) {
    return this.get<TestReport>(`/builds/${id}/test-report${opts.slowest ? `?slowest=${opts.slowest}` : ''}`);
  }
  /** Test totals per build of a job, newest first. */
  testTrend(job: string, limit = 30) {
    return this.get<TestTrendPoint[]>(`/jobs/${encodeURIComponent(job)}/test-trend?limit=${limit}`);
  }
  /** Test cases of the build's reports, failures and errors first. */
  buildTests(id: number, opts: { status?: TestResultInfo['status']; limit?: number } = {}) {
    const q = new URLSearchParams();
    if (opts.status) q.set('status', opts.status);
    if (opts.limit) q.set('limit', String(opts.limit));
    const qs = q.toString();
    return this.get<TestResultInfo[]>(`/builds/${id}/tests${qs ? `?${qs}` : ''}`);
  }
  /** A job's trigger history (webhook deliveries and polls), newest first. */
  listTriggers(job: string, opts: { limit?: number; before?: number } = {}) {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.before !== undefined) q.set('before', String(opts.before));
    const qs = q.toString();
    return this.get<TriggerEventInfo[]>(`/jobs/${enc(job)}/triggers${qs ? `?${qs}` : ''}`);
  }
  /** Lets a build waiting for approval (a fork's merge/pull request) run. */
  approveBuild(id: number) {
    return this.post<BuildInfo>(`/builds/${id}/approve`);
  }
  /** Approves the stage's approval gate (an approver of it: its teams, or an admin). */
  approveStage(id: number, stage: string, comment?: string) {
    return this.post<BuildInfo>(`/builds/${id}/stages/${enc(stage)}/approve`, comment ? { comment } : {});
  }
  /** Rejects the stage's approval gate: the build fails. */
  rejectStage(id: number, stage: string, comment?: string) {
    return this.post<BuildInfo>(`/builds/${id}/stages/${enc(stage)}/reject`, comment ? { comment } : {});
  }
  /** Open approval gates of the caller's teams' builds and those the caller may decide (`mayDecide`). */
  listApprovals() {
    return this.get<PendingApproval[]>('/approvals');
  }
  listDeployments(filter: { app?: string; environment?: string; limit?: number } = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return this.get<DeploymentInfo[]>(`/deployments${qs ? `?${qs}` : ''}`);
  }
  /** A new build re-running the deploy stage of the app's previous deployment in that environment. */
  rollback(req: RollbackRequest) {
    return this.post<BuildInfo>('/deployments/rollback', req);
  }
  /** A new build re-running the deploy stage of the app's current deployment with another replica count. */
  scale(req: { app: string; environment: string; replicas: number }) {
    return this.post<BuildInfo>('/deployments/scale', req);
  }
  cancelBuild(id: number) {
    return this.post<BuildInfo>(`/builds/${id}/cancel`);
  }
  rerunBuild(id: number, stage?: string) {
    return this.post<BuildInfo>(`/builds/${id}/rerun`, stage ? { stage } : {});
  }
  /** The whole stored log of a build (or of one stage run) as text. */
  buildLog(id: number, stageRunId?: number) {
    return this.get<string>(`/builds/${id}/log${stageRunId ? `?stageRunId=${stageRunId}` : ''}`);
  }
  listArtifacts(buildId: number) {
    return this.get<ArtifactInfo[]>(`/builds/${buildId}/artifacts`);
  }
  /** Downloads an artifact's bytes. */
  async downloadArtifact(id: number): Promise<Uint8Array> {
    const headers: Record<string, string> = this.token ? { authorization: `Bearer ${this.token}` } : {};
    const res = await this.fetchImpl(`${this.url}/api/v1/artifacts/${id}`, { headers });
    if (!res.ok) {
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      throw fromBody(res.status, body);
    }
    return new Uint8Array(await res.arrayBuffer());
  }
  searchLogs(q: string, opts: { job?: string; limit?: number } = {}) {
    const params = new URLSearchParams({ q });
    if (opts.job) params.set('job', opts.job);
    if (opts.limit !== undefined) params.set('limit', String(opts.limit));
    return this.get<SearchHit[]>(`/logs/search?${params}`);
  }

  listAgents() {
    return this.get<AgentInfo[]>('/agents');
  }
  drainAgent(id: number) {
    return this.post<AgentInfo>(`/agents/${id}/drain`);
  }
  listPlugins() {
    return this.get<PluginInfo[]>('/plugins');
  }
  /** JSON Schema of the value of every step key a job file may use (built-in and plugin kinds): `{ stepKeys }`. */
  stepSchema() {
    return this.get<{ stepKeys: Record<string, unknown> }>('/plugins/schema');
  }
  /** Installed plugin packages (admin). */
  listPluginPackages() {
    return this.get<PluginPackageInfo[]>('/plugins/packages');
  }
  /** Installs a plugin package (.tgz bytes), or updates the installed plugin of the same name (admin). */
  installPlugin(tgz: Uint8Array) {
    return this.request<PluginInstallResult>('POST', '/api/v1/plugins/packages', undefined, { contentType: 'application/gzip', data: tgz });
  }
  setPluginEnabled(name: string, enabled: boolean) {
    return this.post<PluginPackageInfo>(`/plugins/packages/${encodeURIComponent(name)}/${enabled ? 'enable' : 'disable'}`);
  }
  removePlugin(name: string) {
    return this.del(`/plugins/packages/${encodeURIComponent(name)}`);
  }
  /** The enabled plugins' manifests (job files using their kinds validate locally with them). */
  pluginManifests() {
    return this.get<PluginManifest[]>('/plugins/manifests');
  }

  /** The WebSocket URL of the client stream (/api/v1/stream), http->ws and https->wss. */
  streamUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/api/v1/stream`;
  }
}
