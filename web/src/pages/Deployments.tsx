/**
 * Environments and deployments: approval gates waiting for a person (approve / reject where the caller is an
 * approver), what runs where (the newest successful deployment per app and environment: image digest, build,
 * replicas, instances) with scale, rollback and promote, the deployment history, the instances registered in
 * etcd and the nginx edges. Everything through the documented API (GET /approvals, /deployments, /instances,
 * /edges; POST /deployments/scale, /deployments/rollback, /builds/:id/rerun); the master keeps it team-scoped.
 *
 * Promote re-runs the deploying build from a later stage of another environment (POST /builds/:id/rerun with
 * that stage): earlier stages' outputs come from that build, so the very digest that runs here is deployed
 * there, through the later stage's approval gate.
 */
import { useState } from 'preact/hooks';
import type { BuildDetail, DeploymentInfo, PendingApproval } from '../../../shared/api';
import { currentDeployments, promoteTargets } from '../deployments';
import { useAction } from '../action';
import { ApprovalGate } from '../components/ApprovalGate';
import { EnvironmentSettings } from '../components/EnvironmentSettings';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ago } from '../format';
import { navigate, paths } from '../router';
import { session } from '../session';

const shortDigest = (d: string | null) => (d ? d.replace(/^sha256:/, '').slice(0, 12) : null);

function Image({ d }: { d: DeploymentInfo }) {
  const digest = shortDigest(d.digest);
  return (
    <span class="mono break" title={d.image}>
      {d.image.replace(/@sha256:[0-9a-f]+$/, '')}
      {digest && <span class="muted"> @{digest}</span>}
    </span>
  );
}

function BuildLink({ d }: { d: DeploymentInfo }) {
  return d.buildId ? (
    <a href={paths.build(d.buildId)}>
      {d.job} #{d.buildNumber}
    </a>
  ) : (
    <span class="muted">
      {d.job} #{d.buildNumber} (removed)
    </span>
  );
}

function Approvals({ list, reload }: { list: PendingApproval[]; reload: () => void }) {
  return (
    <section data-testid="approvals">
      <h2>Waiting for approval ({list.length})</h2>
      {!list.length && <p class="muted">No stage waits for an approval.</p>}
      <ul class="cards">
        {list.map((a) => (
          <li class="card" data-testid={`approval-${a.buildId}-${a.stage}`}>
            <div class="stage-head">
              <a href={paths.build(a.buildId)}>
                {a.job} #{a.number}
              </a>
              <span>
                stage <strong>{a.stage}</strong> to <strong>{a.environment}</strong>
              </span>
              <Status status="waiting" />
            </div>
            <div class="muted small">
              waiting {ago(a.createdAt)}; expires {new Date(a.expiresAt).toLocaleString()}
            </div>
            <div class="small">needs {a.required}</div>
            {a.mayDecide ? <ApprovalGate buildId={a.buildId} stage={a.stage} onDone={() => reload()} /> : <p class="muted small">You are not one of its approvers.</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function CurrentRow({ d, build, reload }: { d: DeploymentInfo; build: BuildDetail | undefined; reload: () => void }) {
  const s = session()!;
  const [replicas, setReplicas] = useState(String(d.replicas));
  const [error, act] = useAction(reload);
  const start = (fn: () => Promise<{ id: number }>) => act(async () => navigate(paths.build((await fn()).id)));
  const scale = (e: Event) => {
    e.preventDefault();
    const n = Number(replicas);
    void start(() => s.client.scale({ app: d.app, environment: d.environment, replicas: n }));
  };
  const rollback = () => {
    if (window.confirm(`Roll ${d.app} in ${d.environment} back to its previous image?`)) void start(() => s.client.rollback({ app: d.app, environment: d.environment }));
  };
  return (
    <tr data-testid={`current-${d.app}-${d.environment}`}>
      <td>
        <strong>{d.app}</strong>
      </td>
      <td>{d.environment}</td>
      <td>
        <Image d={d} />
      </td>
      <td>
        <BuildLink d={d} />
        <div class="muted small">
          by {d.triggeredBy}
          {d.approvedBy ? `, approved by ${d.approvedBy}` : ''} · {ago(d.createdAt)}
        </div>
      </td>
      <td>
        {d.instances.length}/{d.replicas}
        <ul class="plain small">
          {d.instances.map((i) => (
            <li class="mono">{i}</li>
          ))}
        </ul>
      </td>
      <td>
        <form class="inline-form" onSubmit={scale}>
          <input
            type="number"
            min={0}
            max={100}
            required
            class="narrow"
            aria-label={`Replicas of ${d.app} in ${d.environment}`}
            value={replicas}
            onInput={(e) => setReplicas((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Scale</button>
        </form>
        <div class="inline-form">
          <button type="button" class="secondary" onClick={rollback}>
            Roll back
          </button>
          {promoteTargets(d, build).map((t) => (
            <button
              type="button"
              class="secondary"
              title={`Re-run ${d.job} #${d.buildNumber} from stage ${t.stage}: the same image, through its approval gate`}
              onClick={() => window.confirm(`Promote ${d.app} (${shortDigest(d.digest) ?? d.image}) to ${t.environment}?`) && void start(() => s.client.rerunBuild(d.buildId!, t.stage))}
            >
              Promote to {t.environment}
            </button>
          ))}
        </div>
        {error && (
          <p class="error small" role="alert">
            {error}
          </p>
        )}
      </td>
    </tr>
  );
}

function Current({ list, reload }: { list: DeploymentInfo[]; reload: () => void }) {
  const s = session()!;
  const current = currentDeployments(list);
  const ids = [...new Set(current.map((d) => d.buildId).filter((id): id is number => id !== null))];
  // The deploying builds' stages tell where each digest can be promoted.
  const builds = useLoad(() => Promise.all(ids.map((id) => s.client.getBuild(id).catch(() => undefined))), [ids.join(',')]);
  return (
    <section>
      <h2>What runs where</h2>
      {!current.length ? (
        <p class="muted">Nothing deployed yet by your teams' jobs.</p>
      ) : (
        <div class="scroll-x">
          <table class="table" data-testid="current">
            <thead>
              <tr>
                <th>App</th>
                <th>Environment</th>
                <th>Image</th>
                <th>Build</th>
                <th>Instances</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {current.map((d) => (
                <CurrentRow key={d.id} d={d} build={builds.data?.find((b) => b?.id === d.buildId)} reload={reload} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function History({ list }: { list: DeploymentInfo[] }) {
  return (
    <section>
      <h2>History</h2>
      {!list.length ? (
        <p class="muted">No deployments.</p>
      ) : (
        <div class="scroll-x">
          <table class="table" data-testid="history">
            <thead>
              <tr>
                <th>#</th>
                <th>App</th>
                <th>Environment</th>
                <th>Image</th>
                <th>Build</th>
                <th>Result</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {list.map((d) => (
                <tr>
                  <td>{d.id}</td>
                  <td>{d.app}</td>
                  <td>{d.environment}</td>
                  <td>
                    <Image d={d} />
                  </td>
                  <td>
                    <BuildLink d={d} />
                    <div class="muted small">
                      by {d.triggeredBy}
                      {d.approvedBy ? `, approved by ${d.approvedBy}` : ''}
                    </div>
                  </td>
                  <td>
                    {d.failure ? <Status status="failed" /> : <Status status="success" />} <span class="small">{d.failure ? 'rolled back' : `${d.replicas} replicas`}</span>
                    {d.failure && <pre class="output small">{d.failure}</pre>}
                    <details>
                      <summary class="small">compose file applied</summary>
                      <pre class="yaml">{d.compose}</pre>
                    </details>
                  </td>
                  <td class="small">{new Date(d.createdAt).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Discovery({ app, environment }: { app?: string; environment?: string }) {
  const s = session()!;
  const instances = useLoad(() => s.client.listInstances({ app, environment }), [app, environment], 5000);
  const edges = useLoad(() => s.client.listEdges(), [], 5000);
  return (
    <div class="grid">
      <section class="card" data-testid="instances">
        <h2>Instances in etcd</h2>
        {instances.error && <p class="muted small">{instances.error}</p>}
        {instances.data && !instances.data.length && <p class="muted">No deployed app of your teams.</p>}
        {(instances.data ?? []).map((g) => (
          <div>
            <h3>
              {g.app} <span class="muted small">in {g.environment}</span>
            </h3>
            {g.instances.length ? (
              <ul class="plain small">
                {g.instances.map((i) => (
                  <li>
                    <span class="mono">{i.address}</span> <Status status={i.reachable ? 'ok' : 'error'} /> <span class="muted">{i.detail}</span>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted small">none registered</p>
            )}
          </div>
        ))}
      </section>
      <section class="card" data-testid="edges">
        <h2>Edges</h2>
        {edges.error && <p class="error small">{edges.error}</p>}
        {edges.data && !edges.data.length && <p class="muted">No agent runs the edge service.</p>}
        <ul class="plain">
          {(edges.data ?? []).map((e) => (
            <li>
              <strong>{e.agent}</strong> <span class="muted small">({e.environment})</span> <Status status={e.state} /> <span class="small">{e.detail}</span>
              <div class="muted small">
                {Object.entries(e.facts)
                  .map(([k, v]) => `${k} ${String(v)}`)
                  .join(' · ')}{' '}
                · {ago(e.at)}
              </div>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

export function Deployments() {
  const s = session()!;
  // The filters live in the URL (?app=&environment=), so a filtered view can be linked to and reloaded.
  const query = new URLSearchParams(window.location.search);
  const [app, setAppState] = useState(query.get('app') ?? '');
  const [environment, setEnvState] = useState(query.get('environment') ?? '');
  const syncUrl = (a: string, e: string) => {
    const q = new URLSearchParams();
    if (a) q.set('app', a);
    if (e) q.set('environment', e);
    window.history.replaceState(null, '', `${paths.deployments()}${q.toString() ? `?${q}` : ''}`);
  };
  const setApp = (a: string) => {
    setAppState(a);
    syncUrl(a, environment);
  };
  const setEnvironment = (e: string) => {
    setEnvState(e);
    syncUrl(app, e);
  };
  const approvals = useLoad(() => s.client.listApprovals(), [], 5000);
  const all = useLoad(() => s.client.listDeployments({ limit: 500 }), [], 5000);
  const reload = () => {
    approvals.reload();
    all.reload();
  };
  const list = (all.data ?? []).filter((d) => (!app || d.app === app) && (!environment || d.environment === environment));
  const apps = [...new Set([...(all.data ?? []).map((d) => d.app), ...(app ? [app] : [])])].sort();
  const envs = [...new Set([...(all.data ?? []).map((d) => d.environment), ...(environment ? [environment] : [])])].sort();
  return (
    <>
      <div class="page-head">
        <h1>Deployments</h1>
        <span class="spacer" />
        <label class="inline">
          App
          <select value={app} onChange={(e) => setApp((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {apps.map((a) => (
              <option value={a}>{a}</option>
            ))}
          </select>
        </label>
        <label class="inline">
          Environment
          <select value={environment} onChange={(e) => setEnvironment((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {envs.map((a) => (
              <option value={a}>{a}</option>
            ))}
          </select>
        </label>
      </div>
      {approvals.error && <p class="error">{approvals.error}</p>}
      {approvals.data && <Approvals list={approvals.data.filter((a) => !environment || a.environment === environment)} reload={reload} />}
      {all.error && <p class="error">{all.error}</p>}
      {!all.data && !all.error && <p class="muted">Loading…</p>}
      {all.data && (
        <>
          <Current list={list} reload={reload} />
          <Discovery app={app || undefined} environment={environment || undefined} />
          <History list={list} />
        </>
      )}
      <EnvironmentSettings />
    </>
  );
}
