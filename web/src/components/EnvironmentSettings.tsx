/**
 * Environments: which are protected and which teams may approve their stages (the deploy permission of a
 * protected environment), and what compose files deployed there may do. Admins change protection and approver
 * teams (PUT /environments/:env); everyone else sees the settings.
 */
import { useState } from 'preact/hooks';
import type { EnvironmentInfo } from '../../../shared/api';
import { useAction } from '../action';
import { useLoad } from '../data';
import { session } from '../session';

const splitList = (v: string) =>
  v
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function EnvironmentRow({ env, reload }: { env: EnvironmentInfo; reload: () => void }) {
  const s = session()!;
  const [isProtected, setProtected] = useState(env.protected);
  const [teams, setTeams] = useState(env.teams.join(', '));
  const [error, act] = useAction(reload);
  const policy = Object.entries(env.deployPolicy)
    .filter(([, v]) => v)
    .map(([k]) => k.replace(/^allow/, '').toLowerCase());
  return (
    <tr data-testid={`environment-${env.name}`}>
      <td>
        <strong>{env.name}</strong>
        {env.description && <div class="muted small">{env.description}</div>}
      </td>
      {s.me.isAdmin ? (
        <td>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act(() => s.client.updateEnvironment(env.name, { protected: isProtected, teams: splitList(teams) }));
            }}
          >
            <label class="check">
              <input type="checkbox" checked={isProtected} onChange={(e) => setProtected((e.target as HTMLInputElement).checked)} /> protected
            </label>
            <input aria-label={`Approver teams of ${env.name}`} placeholder="approver teams, e.g. ops, leads" value={teams} onInput={(e) => setTeams((e.target as HTMLInputElement).value)} />
            <button type="submit">Save</button>
          </form>
          {error && (
            <p class="error small" role="alert">
              {error}
            </p>
          )}
        </td>
      ) : (
        <td>{env.protected ? `protected; approvers: ${env.teams.join(', ') || 'admins only'}` : 'not protected'}</td>
      )}
      <td class="small">{policy.length ? `allows ${policy.join(', ')}` : 'default policy'}</td>
    </tr>
  );
}

export function EnvironmentSettings() {
  const s = session()!;
  const envs = useLoad(() => s.client.listEnvironments(), []);
  if (!envs.data?.length) return null;
  return (
    <section>
      <h2>Environments</h2>
      <div class="scroll-x">
        <table class="table" data-testid="environments">
          <tbody>
            {envs.data.map((e) => (
              <EnvironmentRow key={`${e.name}:${e.protected}:${e.teams.join()}`} env={e} reload={envs.reload} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
