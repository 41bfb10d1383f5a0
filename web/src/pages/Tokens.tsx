/**
 * Your personal API tokens (GET/POST /tokens, DELETE /tokens/:id): for automation, used as SLIPWAY_TOKEN or a
 * Bearer header. A new token is shown once (only its hash is stored); scopes never exceed your own.
 */
import { useState } from 'preact/hooks';
import type { CreatedToken } from '../../../shared/api';
import { useAction } from '../action';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';

const SCOPES = ['read', 'write', 'admin'] as const;

export function Tokens() {
  const s = session()!;
  const tokens = useLoad(() => s.client.listTokens(), []);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<(typeof SCOPES)[number][]>(['read']);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [error, act] = useAction(tokens.reload);
  return (
    <>
      <h1>API tokens</h1>
      <p class="muted">Personal tokens for scripts and CI: use one as SLIPWAY_TOKEN, or as Authorization: Bearer TOKEN.</p>
      <table class="table" data-testid="tokens">
        <thead>
          <tr>
            <th>Name</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(tokens.data ?? []).map((t) => (
            <tr>
              <td>{t.name}</td>
              <td>{t.scopes.join(', ')}</td>
              <td class="small">{ago(t.createdAt)}</td>
              <td class="small">{t.lastUsedAt ? ago(t.lastUsedAt) : 'never'}</td>
              <td>
                {t.revokedAt ? (
                  <span class="muted small">revoked {ago(t.revokedAt)}</span>
                ) : (
                  <button type="button" class="link" onClick={() => window.confirm(`Revoke token ${t.name}?`) && act(() => s.client.revokeToken(t.id))}>
                    Revoke {t.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="inline-form"
        aria-label="New API token"
        onSubmit={async (e) => {
          e.preventDefault();
          setCreated(null);
          await act(async () => {
            setCreated(await s.client.createToken({ name, scopes }));
            setName('');
          });
        }}
      >
        <input aria-label="Token name" placeholder="name, e.g. ci-deploy" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        {SCOPES.filter((sc) => sc !== 'admin' || s.me.isAdmin).map((sc) => (
          <label class="check">
            <input type="checkbox" checked={scopes.includes(sc)} onChange={(e) => setScopes((e.target as HTMLInputElement).checked ? [...scopes, sc] : scopes.filter((x) => x !== sc))} /> {sc}
          </label>
        ))}
        <button type="submit">Create token</button>
      </form>
      {created && (
        <div class="notice" data-testid="created-api-token">
          Token <strong>{created.name}</strong>, shown only now:
          <input class="wide mono" readOnly aria-label="New API token value" value={created.token} onFocus={(e) => (e.target as HTMLInputElement).select()} />
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
