/**
 * Plugins (admins): the installed plugin packages with their step kinds, version (and the one an update
 * replaced), the version each connected agent runs or why it failed to load; install or update from a package
 * file (.tgz as npm pack writes it: POST /plugins/packages), enable, disable and remove (refused while a job
 * uses one of its kinds, the master says which). Everyone else sees the step kinds and which agents run them
 * (GET /plugins).
 */
import { useState } from 'preact/hooks';
import type { PluginPackageInfo } from '../../../shared/api-plugins';
import { useAction } from '../action';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';

function PackageCard({ p, reload }: { p: PluginPackageInfo; reload: () => void }) {
  const s = session()!;
  const [error, act] = useAction(reload);
  return (
    <li class="card" data-testid={`plugin-${p.name}`}>
      <div class="stage-head">
        <strong>{p.name}</strong> <span class="mono small">{p.version}</span> <Status status={p.enabled ? 'enabled' : 'disabled'} />
        <span class="spacer" />
        <button type="button" class="secondary" onClick={() => act(() => s.client.setPluginEnabled(p.name, !p.enabled))}>
          {p.enabled ? 'Disable' : 'Enable'}
        </button>
        <button type="button" class="link" onClick={() => window.confirm(`Remove plugin ${p.name}?`) && act(() => s.client.removePlugin(p.name))}>
          Remove
        </button>
      </div>
      {p.description && <div class="small">{p.description}</div>}
      {(
        [
          ['step kinds', p.kinds],
          ['scanners', p.scanners ?? []],
          ['notifiers', p.notifiers ?? []],
          ['report formats', p.reportFormats ?? []],
        ] as const
      )
        .filter(([, names]) => names.length)
        .map(([what, names]) => (
          <div class="small">
            <span class="muted">{what} </span>
            {names.map((k) => (
              <span class="tag mono">{k}</span>
            ))}
          </div>
        ))}
      <div class="muted small">
        protocol {p.protocol} · {Math.round(p.bytes / 102.4) / 10} KB · by {p.installedBy} {ago(p.updatedAt)}
        {p.previousVersion ? ` · replaced ${p.previousVersion}` : ''}
      </div>
      <ul class="plain small">
        {p.agents.map((a) => (
          <li>
            {a.agent} <span class="muted">({a.environment})</span> runs {a.version} <Status status={a.state === 'loaded' ? 'ok' : 'failed'} />
            {a.error && <span class="error"> {a.error}</span>}
          </li>
        ))}
        {!p.agents.length && <li class="muted">No connected agent runs it yet.</li>}
      </ul>
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

function Install({ reload }: { reload: () => void }) {
  const s = session()!;
  const [file, setFile] = useState<File | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [error, act] = useAction(reload);
  return (
    <form
      class="card"
      aria-label="Install a plugin"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!file) return;
        setDone(null);
        await act(async () => {
          const out = await s.client.installPlugin(new Uint8Array(await file.arrayBuffer()));
          setDone(`${out.plugin.name} ${out.plugin.version} ${out.result}`);
        });
      }}
    >
      <h2>Install or update a plugin</h2>
      <div class="inline-form">
        <input type="file" accept=".tgz,.tar.gz,application/gzip" aria-label="Plugin package" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
        <button type="submit" disabled={!file}>
          Install
        </button>
      </div>
      <p class="muted small">A package as npm pack writes it; a package of an installed plugin's name updates it.</p>
      {done && <p class="ok">{done}</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

export function Plugins() {
  const s = session()!;
  const admin = s.me.isAdmin;
  const packages = useLoad(() => (admin ? s.client.listPluginPackages() : Promise.resolve([])), [admin]);
  const kinds = useLoad(() => s.client.listPlugins(), [], 10_000);
  return (
    <>
      <h1>Plugins</h1>
      {admin && (
        <>
          {packages.error && <p class="error">{packages.error}</p>}
          {packages.data && !packages.data.length && <p class="muted">No plugin installed.</p>}
          <ul class="cards">
            {(packages.data ?? []).map((p) => (
              <PackageCard key={p.name} p={p} reload={packages.reload} />
            ))}
          </ul>
          <Install reload={packages.reload} />
        </>
      )}
      <section>
        <h2>Step kinds</h2>
        {kinds.error && <p class="error">{kinds.error}</p>}
        <div class="scroll-x">
          <table class="table" data-testid="step-kinds">
            <thead>
              <tr>
                <th>Kind</th>
                <th>Also written</th>
                <th>Needs</th>
                <th>Agents running it</th>
              </tr>
            </thead>
            <tbody>
              {(kinds.data ?? []).map((k) => (
                <tr>
                  <td class="mono">{k.kind}</td>
                  <td class="mono small">{k.aliases.join(', ')}</td>
                  <td class="small">{k.capabilities.join(', ')}</td>
                  <td class="small">{k.agents.map((a) => `${a.agent} (${a.version})`).join(', ') || <span class="muted">none connected</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
