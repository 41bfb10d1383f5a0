/** One job: its build history and the trigger form (parameters with defaults and choices, branch). */
import { useState } from 'preact/hooks';
import type { JobInfo } from '../../../shared/api';
import { TestTrend, TriggerHistory } from '../components/JobHistory';
import { MoveJob } from '../components/MoveJob';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ago, span } from '../format';
import { jobRef, navigate, paths } from '../router';
import { session } from '../session';

function canTrigger(job: JobInfo): boolean {
  const me = session()!.me;
  const role = me.teams.find((t) => t.name === job.team)?.role;
  return me.isAdmin || role === 'developer' || role === 'maintainer';
}

function TriggerForm({ job }: { job: JobInfo }) {
  const s = session()!;
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(job.params.map((p) => [p.name, p.default ?? p.choices?.[0] ?? ''])));
  const [branch, setBranch] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const allowed = canTrigger(job);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const b = await s.client.trigger(jobRef(job), { params: values, ...(branch ? { branch } : {}) });
      navigate(paths.build(b.id));
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <form class="card trigger" onSubmit={submit} aria-label="Trigger a build">
      <h2>Trigger</h2>
      {job.params.map((p) => (
        <label>
          {p.name}
          {p.choices?.length ? (
            <select name={p.name} value={values[p.name]} onChange={(e) => setValues({ ...values, [p.name]: (e.target as HTMLSelectElement).value })}>
              {p.choices.map((c) => (
                <option value={c}>{c}</option>
              ))}
            </select>
          ) : (
            <input name={p.name} value={values[p.name]} onInput={(e) => setValues({ ...values, [p.name]: (e.target as HTMLInputElement).value })} />
          )}
          {p.description && <span class="muted small">{p.description}</span>}
        </label>
      ))}
      <label>
        Branch <span class="muted small">(empty: the job's branch)</span>
        <input name="branch" value={branch} onInput={(e) => setBranch((e.target as HTMLInputElement).value)} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy || !allowed || !job.enabled}>
        {busy ? 'Starting…' : 'Run build'}
      </button>
      {!allowed && <p class="muted small">Viewers cannot trigger builds of team {job.team}.</p>}
    </form>
  );
}

export function Job({ name }: { name: string }) {
  const s = session()!;
  const job = useLoad(() => s.client.getJob(name), [name]);
  const builds = useLoad(() => s.client.listBuilds(name, { limit: 50 }), [name], 5000);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  if (job.error) return <p class="error">{job.error}</p>;
  if (!job.data) return <p class="muted">Loading…</p>;
  const j = job.data;
  return (
    <>
      <div class="page-head">
        <h1>{j.name}</h1>
        <span class="muted">team {j.team}</span>
        {j.source === 'file' && <span class="tag" title={j.filePath ?? ''}>managed as code</span>}
        <span class="spacer" />
        <a class="button" href={paths.editJob(jobRef(j))}>
          {j.source === 'file' ? 'View YAML' : 'Edit'}
        </a>
        {j.source === 'api' && j.enabled && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              window.confirm(`Delete job ${j.name}? Its builds stay in the history; it no longer runs.`) &&
              s.client.deleteJob(jobRef(j)).then(() => navigate(paths.jobs()), (err: Error) => setDeleteError(err.message))
            }
          >
            Delete
          </button>
        )}
      </div>
      {deleteError && (
        <p class="error" role="alert">
          {deleteError}
        </p>
      )}
      {!j.enabled && <p class="notice">This job is disabled: its history is kept, it no longer runs.</p>}
      {j.description && <p>{j.description}</p>}
      {j.warnings?.map((w) => (
        <p class="warning">{w}</p>
      ))}
      <div class="two-col">
        <section>
          <h2>Builds</h2>
          {builds.error && <p class="error">{builds.error}</p>}
          {builds.data && !builds.data.length && <p class="muted">No builds yet.</p>}
          {builds.data && builds.data.length > 0 && (
            <table class="table" data-testid="builds">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Status</th>
                  <th class="hide-narrow">Trigger</th>
                  <th class="hide-narrow">Commit</th>
                  <th>Started</th>
                  <th>Duration</th>
                </tr>
              </thead>
              <tbody>
                {builds.data.map((b) => (
                  <tr>
                    <td>
                      <a href={paths.build(b.id)}>#{b.number}</a>
                    </td>
                    <td>
                      <Status status={b.status} />
                    </td>
                    <td class="hide-narrow">
                      {b.trigger.kind}
                      {b.trigger.user ? ` by ${b.trigger.user}` : ''}
                    </td>
                    <td class="hide-narrow mono">{b.commit?.slice(0, 10) ?? ''}</td>
                    <td>{ago(b.startedAt ?? b.createdAt)}</td>
                    <td>{span(b.startedAt, b.finishedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <aside>
          <TriggerForm job={j} />
          <TestTrend job={jobRef(j)} />
          <TriggerHistory job={jobRef(j)} />
          <details class="card">
            <summary>YAML</summary>
            <pre class="yaml">{j.yaml}</pre>
          </details>
          <MoveJob job={j} />
        </aside>
      </div>
    </>
  );
}
