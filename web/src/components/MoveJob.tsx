/**
 * Moving a job to another team (POST /api/v1/jobs/:job/move): shown to whoever may take the job out of its team
 * (a maintainer of it, or an admin) when a file does not manage it. The targets are the teams where the caller may
 * edit jobs (developer or maintainer; every team for an admin). The job keeps its builds and history; the page
 * follows it to its new `team/name`.
 */
import { useState } from 'preact/hooks';
import type { JobInfo } from '../../../shared/api';
import { useLoad } from '../data';
import { jobRef, navigate, paths } from '../router';
import { session } from '../session';

export function MoveJob({ job }: { job: JobInfo }) {
  const s = session()!;
  const me = s.me;
  const mayManage = me.isAdmin || me.teams.some((t) => t.name === job.team && t.role === 'maintainer');
  const teams = useLoad(
    async () =>
      me.isAdmin ? (await s.client.listTeams()).map((t) => t.name) : me.teams.filter((t) => t.role === 'developer' || t.role === 'maintainer').map((t) => t.name),
    [job.team],
  );
  const [target, setTarget] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const targets = (teams.data ?? []).filter((t) => t !== job.team).sort();
  if (!mayManage || (job.source === 'file' && job.enabled) || !targets.length) return null;

  const move = async (e: Event) => {
    e.preventDefault();
    const to = target || targets[0];
    if (!window.confirm(`Move job ${job.name} from team ${job.team} to team ${to}? Its builds and history go with it.`)) return;
    setBusy(true);
    setError(null);
    try {
      const moved = await s.client.moveJob(jobRef(job), to);
      navigate(paths.job(jobRef(moved)));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={move} aria-label="Move job">
      <h2>Move to another team</h2>
      <label>
        Team
        <select name="team" value={target || targets[0]} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
          {targets.map((t) => (
            <option value={t}>{t}</option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>
        {busy ? 'Moving…' : 'Move job'}
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
