/**
 * Teams (GET /teams: mine; every team for admins). Admins create teams; maintainers (and admins) manage
 * members and roles, the team's secrets and its notification channels. Secrets are write-only: the form sends
 * a value once and the page lists names and dates only, as the API does.
 */
import { useState } from 'preact/hooks';
import type { Role, TeamInfo } from '../../../shared/api';
import { useAction } from '../action';
import { TeamNotifiers } from '../components/TeamNotifiers';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';

const ROLES: Role[] = ['viewer', 'developer', 'maintainer'];

function Secrets({ team }: { team: string }) {
  const s = session()!;
  const secrets = useLoad(() => s.client.listSecrets(team), [team]);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [error, act] = useAction(secrets.reload);
  return (
    <div data-testid={`secrets-${team}`}>
      <h3>Secrets</h3>
      <ul class="plain">
        {(secrets.data ?? []).map((x) => (
          <li>
            <span class="mono">{x.name}</span> <span class="muted small">set {ago(x.updatedAt)}</span>{' '}
            <button type="button" class="link" onClick={() => window.confirm(`Delete secret ${x.name}?`) && act(() => s.client.deleteSecret(team, x.name))}>
              Delete
            </button>
          </li>
        ))}
        {secrets.data && !secrets.data.length && <li class="muted small">No secrets.</li>}
      </ul>
      <form
        class="inline-form"
        autoComplete="off"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await act(() => s.client.setSecret(team, name, value))) {
            setName('');
            setValue('');
          }
        }}
      >
        <input aria-label="Secret name" placeholder="NAME" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input aria-label="Secret value" type="password" autoComplete="new-password" placeholder="value (never shown again)" required value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        <button type="submit">Set secret</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function TeamCard({ team, reload }: { team: TeamInfo; reload: () => void }) {
  const s = session()!;
  const manage = s.me.isAdmin || team.role === 'maintainer';
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const [error, act] = useAction(reload);
  return (
    <section class="card" data-testid={`team-${team.name}`}>
      <h2>
        {team.name} <span class="muted small">your role: {team.role ?? 'none'}</span>
      </h2>
      <h3>Members</h3>
      <table class="table">
        <tbody>
          {(team.members ?? []).map((m) => (
            <tr>
              <td>{m.username}</td>
              <td>
                {manage ? (
                  <select aria-label={`Role of ${m.username}`} value={m.role} onChange={(e) => act(() => s.client.setMember(team.name, m.username, (e.target as HTMLSelectElement).value as Role))}>
                    {ROLES.map((r) => (
                      <option value={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              {manage && (
                <td>
                  <button type="button" class="link" onClick={() => window.confirm(`Remove ${m.username} from ${team.name}?`) && act(() => s.client.removeMember(team.name, m.username))}>
                    Remove
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {manage && (
        <form
          class="inline-form"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await act(() => s.client.setMember(team.name, user, role))) setUser('');
          }}
        >
          <input aria-label="User name" placeholder="user name" required value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
          <select aria-label="Role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
            {ROLES.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
          <button type="submit">Add member</button>
        </form>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {manage && <Secrets team={team.name} />}
      {manage && <TeamNotifiers team={team.name} />}
    </section>
  );
}

export function Teams() {
  const s = session()!;
  const teams = useLoad(() => s.client.listTeams(), []);
  const [name, setName] = useState('');
  const [error, act] = useAction(teams.reload);
  return (
    <>
      <div class="page-head">
        <h1>Teams</h1>
        <span class="spacer" />
        {s.me.isAdmin && (
          <form
            class="inline-form"
            onSubmit={async (e) => {
              e.preventDefault();
              if (await act(() => s.client.createTeam(name))) setName('');
            }}
          >
            <input aria-label="New team name" placeholder="team name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
            <button type="submit">Create team</button>
          </form>
        )}
      </div>
      {(error || teams.error) && (
        <p class="error" role="alert">
          {error ?? teams.error}
        </p>
      )}
      {teams.data && !teams.data.length && <p class="muted">You are in no team yet.</p>}
      {(teams.data ?? []).map((t) => (
        <TeamCard key={t.name} team={t} reload={teams.reload} />
      ))}
    </>
  );
}
