/** Agents per environment: state, slots in use, labels, step kinds, probed capabilities and agent services. */
import { useState } from 'preact/hooks';
import type { AgentInfo } from '../../../shared/api';
import { AgentTokens } from '../components/AgentTokens';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';

export function groupByEnvironment(agents: AgentInfo[], environments: string[]): [string, AgentInfo[]][] {
  const names = [...new Set([...environments, ...agents.map((a) => a.environment)])].sort();
  return names.map((env) => [env, agents.filter((a) => a.environment === env)]);
}

function AgentCard({ a, onDrain }: { a: AgentInfo; onDrain?: () => void }) {
  return (
    <li class="card agent">
      <div class="stage-head">
        <strong>{a.name}</strong> <Status status={a.state} />
        <span class="muted small">
          {a.running}/{a.capacity} slots
        </span>
        {onDrain && (a.state === 'connected' || a.state === 'busy') && (
          <button type="button" class="link small" onClick={onDrain} title="Finish current work, take no more">
            Drain
          </button>
        )}
      </div>
      <div class="muted small">
        {a.version ? `v${a.version} · ` : ''}seen {ago(a.lastSeenAt) || 'never'}
      </div>
      {a.labels.length > 0 && (
        <div>
          {a.labels.map((l) => (
            <span class="tag">{l}</span>
          ))}
        </div>
      )}
      <div class="small">
        <span class="muted">kinds </span>
        {a.kinds.join(', ') || 'none'}
      </div>
      {a.capabilities.length > 0 && (
        <div class="small">
          <span class="muted">capabilities </span>
          {a.capabilities.map((c) => (
            <span class={`tag ${c.ok ? 'ok' : 'bad'}`} title={c.detail}>
              {c.ok ? '✓' : '✗'} {c.name}
            </span>
          ))}
        </div>
      )}
      {(a.plugins ?? []).filter((p) => p.name !== 'builtin').length > 0 && (
        <div class="small">
          <span class="muted">plugins </span>
          {(a.plugins ?? [])
            .filter((p) => p.name !== 'builtin')
            .map((p) => (
              <span class={`tag ${p.state === 'loaded' ? 'ok' : 'bad'}`} title={p.error}>
                {p.state === 'loaded' ? '✓' : '✗'} {p.name}@{p.version}
              </span>
            ))}
        </div>
      )}
      {a.services.length > 0 && (
        <ul class="plain small">
          {a.services.map((sv) => (
            <li>
              <span class="muted">service </span>
              {sv.name} <Status status={sv.state} /> <span class="muted">{sv.detail}</span>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

export function Agents() {
  const s = session()!;
  const agents = useLoad(() => s.client.listAgents(), [], 5000);
  const envs = useLoad(() => s.client.listEnvironments(), []);
  const [error, setError] = useState<string | null>(null);
  const admin = s.me.isAdmin;
  const drain = async (a: AgentInfo) => {
    if (!window.confirm(`Drain ${a.name}? It finishes its current work and takes no more.`)) return;
    try {
      await s.client.drainAgent(a.id);
      agents.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const [envName, setEnvName] = useState('');
  const [envProtected, setEnvProtected] = useState(false);
  const createEnv = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await s.client.createEnvironment(envName, { protected: envProtected });
      setEnvName('');
      setEnvProtected(false);
      envs.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  if (agents.error) return <p class="error">{agents.error}</p>;
  if (!agents.data) return <p class="muted">Loading…</p>;
  const groups = groupByEnvironment(agents.data, (envs.data ?? []).map((e) => e.name));
  return (
    <>
      <div class="page-head">
        <h1>Agents</h1>
        <span class="spacer" />
        {admin && (
          <form class="inline-form" onSubmit={createEnv} aria-label="New environment">
            <input aria-label="New environment name" placeholder="environment, e.g. prod" required value={envName} onInput={(e) => setEnvName((e.target as HTMLInputElement).value)} />
            <label class="check">
              <input type="checkbox" checked={envProtected} onChange={(e) => setEnvProtected((e.target as HTMLInputElement).checked)} /> protected
            </label>
            <button type="submit">Create environment</button>
          </form>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {!groups.length && <p class="muted">No environments or agents yet.</p>}
      {groups.map(([env, list]) => {
        const info = envs.data?.find((e) => e.name === env);
        return (
          <section data-testid={`env-${env}`}>
            <h2>
              {env} {info?.protected && <span class="tag">protected</span>}{' '}
              <span class="muted small">
                {list.filter((a) => a.state === 'connected' || a.state === 'busy').length} of {list.length} online
              </span>
            </h2>
            {info?.description && <p class="muted">{info.description}</p>}
            {list.length ? (
              <ul class="cards">
                {list.map((a) => (
                  <AgentCard a={a} onDrain={admin ? () => drain(a) : undefined} />
                ))}
              </ul>
            ) : (
              <p class="muted small">No agent in this environment.</p>
            )}
            {admin && info && <AgentTokens environment={env} />}
          </section>
        );
      })}
    </>
  );
}
