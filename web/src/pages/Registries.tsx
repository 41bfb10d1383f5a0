/**
 * Image registries: the ones granted to your teams (every one for admins), with the teams they are granted to
 * and their repositories and tags. Admins add or replace one (POST /registries: the master checks its address
 * and credentials first) and remove one. Credentials are write-only: the password field is sent once and the
 * page shows only whether a password is set, as the API does. Each grant shows the repository prefixes its team
 * may push to; the form sets them as TEAM=PREFIX items (shared/registry-prefixes.ts).
 */
import { useState } from 'preact/hooks';
import type { RegistryInfo } from '../../../shared/api';
import { parsePrefixes } from '../../../shared/registry-prefixes';
import { useAction } from '../action';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';

function Repositories({ registry }: { registry: string }) {
  const s = session()!;
  const repos = useLoad(() => s.client.listRepositories(registry), [registry]);
  if (repos.error) return <p class="error small">{repos.error}</p>;
  if (!repos.data) return <p class="muted small">Loading…</p>;
  if (!repos.data.length) return <p class="muted small">No repositories.</p>;
  return (
    <ul class="plain small">
      {repos.data.map((r) => (
        <li>
          <span class="mono">{r.name}</span>{' '}
          {r.tags.map((t) => (
            <span class="tag" title={t.digest ?? undefined}>
              {t.tag}
            </span>
          ))}
        </li>
      ))}
    </ul>
  );
}

function RegistryCard({ r, reload }: { r: RegistryInfo; reload: () => void }) {
  const s = session()!;
  const [error, act] = useAction(reload);
  const mine = s.me.isAdmin || r.teams.some((t) => s.me.teams.some((m) => m.name === t));
  return (
    <li class="card" data-testid={`registry-${r.name}`}>
      <div class="stage-head">
        <strong>{r.name}</strong> <span class="mono small">{r.url}</span>
        <span class="spacer" />
        {s.me.isAdmin && (
          <button type="button" class="link" onClick={() => window.confirm(`Remove registry ${r.name}?`) && act(() => s.client.removeRegistry(r.name))}>
            Remove
          </button>
        )}
      </div>
      <div class="small">
        {r.username ? `user ${r.username}, ` : ''}
        {r.hasPassword ? 'password set (never shown)' : 'no password'} · added {ago(r.createdAt)}
      </div>
      <div class="small">
        <span class="muted">granted to </span>
        {r.grants.map((g) => (
          <span class="tag" title={`${g.team} may push to: ${g.prefixes.join(', ')}`}>
            {g.team} <span class="mono">{g.prefixes.join(' ')}</span>
          </span>
        ))}
      </div>
      {mine && (
        <details>
          <summary class="small">Repositories</summary>
          <Repositories registry={r.name} />
        </details>
      )}
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

export function Registries() {
  const s = session()!;
  const list = useLoad(() => s.client.listRegistries(), []);
  const empty = { name: '', url: '', username: '', password: '', teams: '', prefixes: '' };
  const [form, setForm] = useState(empty);
  const [error, act] = useAction(list.reload);
  const field = (k: keyof typeof empty) => ({
    value: form[k],
    onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }),
  });
  const add = async (e: Event) => {
    e.preventDefault();
    const teams = form.teams.split(/[\s,]+/).filter(Boolean);
    const ok = await act(async () => {
      const prefixes = form.prefixes.trim() ? parsePrefixes(form.prefixes.replace(/\s+/g, ',')) : undefined;
      return s.client.putRegistry({
        name: form.name,
        url: form.url,
        teams,
        ...(prefixes ? { prefixes } : {}),
        ...(form.username ? { username: form.username } : {}),
        ...(form.password ? { password: form.password } : {}),
      });
    });
    if (ok) setForm(empty);
  };
  return (
    <>
      <h1>Registries</h1>
      {list.error && <p class="error">{list.error}</p>}
      {list.data && !list.data.length && <p class="muted">No registry is granted to your teams.</p>}
      <ul class="cards">
        {(list.data ?? []).map((r) => (
          <RegistryCard key={r.name} r={r} reload={list.reload} />
        ))}
      </ul>
      {s.me.isAdmin && (
        <form class="card" onSubmit={add} autoComplete="off" aria-label="Add a registry">
          <h2>Add or replace a registry</h2>
          <div class="grid">
            <label>
              Name
              <input required placeholder="local" {...field('name')} />
            </label>
            <label>
              Address (host:port)
              <input required placeholder="127.0.0.1:5000" {...field('url')} />
            </label>
            <label>
              Teams granted
              <input required placeholder="shop, ops" {...field('teams')} />
            </label>
            <label>
              Push prefixes (optional: TEAM=PREFIX, default TEAM/ when shared)
              <input placeholder="shop=shop/, shop=base/, ops=*" {...field('prefixes')} />
            </label>
            <label>
              User name (optional)
              <input {...field('username')} />
            </label>
            <label>
              Password (optional, never shown again)
              <input type="password" autoComplete="new-password" {...field('password')} />
            </label>
          </div>
          <button type="submit">Save registry</button>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
        </form>
      )}
    </>
  );
}
