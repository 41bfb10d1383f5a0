/**
 * Agent tokens of one environment (admins): list, create (the token is shown once, with the command that
 * starts an agent with it) and revoke (which disconnects the agents using it).
 */
import { useState } from 'preact/hooks';
import type { CreatedToken } from '../../../shared/api';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';

export function startCommand(origin: string, environment: string, name: string): string {
  return [
    `node --import tsx bin/slipway.ts agent start --url ${origin} \\`,
    `  --token-file /etc/slipway/agent.token --name ${name} --environment ${environment} \\`,
    '  --work-dir /var/lib/slipway-agent',
  ].join('\n');
}

export function AgentTokens({ environment }: { environment: string }) {
  const s = session()!;
  const tokens = useLoad(() => s.client.listAgentTokens(environment), [environment]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [error, setError] = useState<string | null>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setCreated(await s.client.createAgentToken(environment, name));
      setName('');
      tokens.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const revoke = async (id: number, tokenName: string) => {
    if (!window.confirm(`Revoke agent token ${tokenName}? Agents using it are disconnected.`)) return;
    setError(null);
    try {
      await s.client.revokeAgentToken(id);
      tokens.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <details class="card" data-testid={`tokens-${environment}`}>
      <summary>Agent tokens of {environment}</summary>
      {tokens.error && <p class="error">{tokens.error}</p>}
      <ul class="plain">
        {(tokens.data ?? []).map((t) => (
          <li>
            <span class="mono">{t.name}</span> <span class="muted small">created {ago(t.createdAt)}</span>{' '}
            {t.revokedAt ? (
              <span class="muted small">revoked {ago(t.revokedAt)}</span>
            ) : (
              <button type="button" class="link" onClick={() => revoke(t.id, t.name)}>
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      <form class="inline-form" onSubmit={create}>
        <input aria-label="New agent name" placeholder="agent name, e.g. ci-host-2" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit">Create token</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <div class="notice" data-testid="created-token">
          <p>
            Token for <strong>{created.name}</strong>, shown only now. Save it on the agent host in a file only root can read
            (/etc/slipway/agent.token), then start the agent:
          </p>
          <input class="mono wide" readOnly value={created.token} aria-label="Agent token" onFocus={(e) => (e.target as HTMLInputElement).select()} />
          <pre class="output">{startCommand(window.location.origin, environment, created.name)}</pre>
        </div>
      )}
    </details>
  );
}
