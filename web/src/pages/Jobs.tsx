/** Jobs of the caller's teams (the master filters by team; the UI narrows further by one team). */
import { useState } from 'preact/hooks';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ago } from '../format';
import { jobPath, paths } from '../router';
import { session } from '../session';

export function Jobs() {
  const s = session()!;
  const jobs = useLoad(() => s.client.listJobs(), [], 10_000);
  const [team, setTeam] = useState('');
  const teams = [...new Set((jobs.data ?? []).map((j) => j.team))].sort();
  const shown = (jobs.data ?? []).filter((j) => !team || j.team === team);
  return (
    <>
      <div class="page-head">
        <h1>Jobs</h1>
        <label class="inline">
          Team{' '}
          <select value={team} onChange={(e) => setTeam((e.target as HTMLSelectElement).value)} aria-label="Filter by team">
            <option value="">all my teams</option>
            {teams.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </label>
        <span class="spacer" />
        <a class="button" href={paths.newJob()}>
          New job
        </a>
      </div>
      {jobs.error && <p class="error">{jobs.error}</p>}
      {jobs.data && !shown.length && <p class="muted">No jobs in your teams yet. Apply one with <code>slipway apply -f job.yml</code>.</p>}
      {shown.length > 0 && (
        <table class="table" data-testid="jobs">
          <thead>
            <tr>
              <th>Job</th>
              <th>Team</th>
              <th>Last build</th>
              <th class="hide-narrow">Stages</th>
              <th class="hide-narrow">Defined</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((j) => (
              <tr>
                <td>
                  <a href={jobPath(j, jobs.data ?? [])}>{j.name}</a>
                  {!j.enabled && <span class="muted"> (disabled)</span>}
                  {j.description && <div class="muted small">{j.description}</div>}
                  {j.warnings?.map((w) => (
                    <div class="warning small">{w}</div>
                  ))}
                </td>
                <td>{j.team}</td>
                <td>
                  {j.lastBuild ? (
                    <a href={paths.build(j.lastBuild.id)}>
                      #{j.lastBuild.number} <Status status={j.lastBuild.status} /> <span class="muted small">{ago(j.lastBuild.createdAt)}</span>
                    </a>
                  ) : (
                    <span class="muted">never built</span>
                  )}
                </td>
                <td class="hide-narrow">{j.stages.map((st) => `${st.name} (${st.environment})`).join(' → ')}</td>
                <td class="hide-narrow">{j.source === 'file' ? <span title={j.filePath ?? ''}>as code (read-only here)</span> : 'in the API'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
