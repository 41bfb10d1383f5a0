/**
 * Running and queued builds, stages waiting for an approval, recent failures, agents online per environment and
 * a duration trend per job.
 * Built from the documented list endpoints (jobs, each job's recent builds, agents) and polled every 5 s
 * while the tab is visible; only the first MAX_JOBS jobs are read for builds.
 */
import type { AgentInfo, BuildInfo, JobInfo, PendingApproval } from '../../../shared/api';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ago, span } from '../format';
import { jobPath, paths } from '../router';
import { session } from '../session';
import { groupByEnvironment } from './Agents';

const MAX_JOBS = 50;
const BUILDS_PER_JOB = 20;

interface Overview {
  approvals: PendingApproval[];
  jobs: JobInfo[];
  builds: BuildInfo[];
  agents: AgentInfo[];
}

/** Durations of a job's finished builds, oldest first, as a small SVG polyline (no chart library). */
function Trend({ builds }: { builds: BuildInfo[] }) {
  const done = builds.filter((b) => b.startedAt && b.finishedAt).reverse();
  if (done.length < 2) return <span class="muted small">not enough builds</span>;
  const ds = done.map((b) => (b.finishedAt as number) - (b.startedAt as number));
  const max = Math.max(...ds, 1);
  const w = 120;
  const h = 24;
  const pts = ds.map((d, i) => `${((i / (ds.length - 1)) * w).toFixed(1)},${(h - (d / max) * (h - 2) - 1).toFixed(1)}`).join(' ');
  return (
    <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`} class="trend" role="img" aria-label={`build durations, last ${ds.length} builds`}>
      <polyline points={pts} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

function BuildRow({ b }: { b: BuildInfo }) {
  return (
    <li>
      <a href={paths.build(b.id)}>
        {b.job} #{b.number}
      </a>{' '}
      <Status status={b.status} /> <span class="muted small">{b.status === 'running' ? span(b.startedAt, null) : ago(b.createdAt)}</span>
      {b.error && <div class="error small">{b.error}</div>}
    </li>
  );
}

export function Dashboard() {
  const s = session()!;
  const o = useLoad<Overview>(
    async () => {
      const [jobs, agents, approvals] = await Promise.all([s.client.listJobs(), s.client.listAgents(), s.client.listApprovals().catch(() => [] as PendingApproval[])]);
      const lists = await Promise.all(jobs.slice(0, MAX_JOBS).map((j) => s.client.listBuilds(`${j.team}/${j.name}`, { limit: BUILDS_PER_JOB }).catch(() => [] as BuildInfo[])));
      return { jobs, agents, approvals, builds: lists.flat() };
    },
    [],
    5000,
  );
  if (o.error && !o.data) return <p class="error">{o.error}</p>;
  if (!o.data) return <p class="muted">Loading…</p>;
  const { jobs, builds, agents, approvals } = o.data;
  const running = builds.filter((b) => b.status === 'running');
  const queued = builds.filter((b) => b.status === 'queued' || b.status === 'waiting');
  const failures = builds
    .filter((b) => b.status === 'failed' || b.status === 'timeout')
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(0, 10);
  return (
    <>
      <h1>Dashboard</h1>
      <div class="grid">
        <section class="card" data-testid="running">
          <h2>Running ({running.length})</h2>
          {running.length ? <ul class="plain">{running.map((b) => <BuildRow b={b} />)}</ul> : <p class="muted">Nothing running.</p>}
        </section>
        <section class="card" data-testid="queued">
          <h2>Queued ({queued.length})</h2>
          {queued.length ? <ul class="plain">{queued.map((b) => <BuildRow b={b} />)}</ul> : <p class="muted">Queue empty.</p>}
        </section>
        {approvals.length > 0 && (
          <section class="card" data-testid="dashboard-approvals">
            <h2>Waiting for approval ({approvals.length})</h2>
            <ul class="plain">
              {approvals.map((a) => (
                <li>
                  <a href={paths.build(a.buildId)}>
                    {a.job} #{a.number}
                  </a>{' '}
                  stage {a.stage} to {a.environment} <span class="muted small">{a.mayDecide ? 'you may decide' : ago(a.createdAt)}</span>
                </li>
              ))}
            </ul>
            <a href={paths.deployments()}>Decide on the deployments page</a>
          </section>
        )}
        <section class="card" data-testid="agents-online">
          <h2>Agents online</h2>
          <ul class="plain">
            {groupByEnvironment(agents, []).map(([env, list]) => (
              <li>
                <a href={paths.agents()}>{env}</a>: {list.filter((a) => a.state === 'connected' || a.state === 'busy').length} of {list.length}
              </li>
            ))}
          </ul>
          {!agents.length && <p class="muted">No agents.</p>}
        </section>
        <section class="card">
          <h2>Recent failures</h2>
          {failures.length ? <ul class="plain">{failures.map((b) => <BuildRow b={b} />)}</ul> : <p class="muted">None.</p>}
        </section>
      </div>
      <section>
        <h2>Build duration per job</h2>
        <table class="table">
          <tbody>
            {jobs.slice(0, MAX_JOBS).map((j) => (
              <tr>
                <td>
                  <a href={jobPath(j, jobs)}>{j.name}</a>
                </td>
                <td>
                  <Trend builds={builds.filter((b) => b.job === j.name && b.team === j.team)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
