/**
 * App logs: the container logs of deployed apps from the log center (GET /app-logs: words and "phrases", app,
 * environment, stream, time range; newest first, older pages by cursor) with the words highlighted, and a live
 * tail of one app (GET /app-logs/tail, Server-Sent Events read with fetch, every event checked with the shared
 * schema). Only apps of your teams (the master answers others as unknown). Lines are shown as text, ANSI
 * escapes removed: a log line never becomes markup.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AppLogHit, AppLogLine } from '../../../shared/api-logs';
import { searchAppLogs, tailAppLogs } from '../../../shared/client/app-logs-client';
import { stripAnsi } from '../ansi';
import { useLoad } from '../data';
import { session } from '../session';
import { splitMatches } from './Search';

const SINCE: Record<string, number | undefined> = { '15 min': 15 * 60_000, '1 h': 3600_000, '24 h': 86_400_000, '7 days': 7 * 86_400_000, 'all time': undefined };
const TAIL_KEEP = 2000;

/** The plain words of a query (phrases split too): what is highlighted. */
const wordsOf = (q: string) => q.replace(/"/g, ' ').split(/\s+/).filter(Boolean);

function Line({ l, words }: { l: AppLogLine; words: string[] }) {
  return (
    <tr>
      <td class="small mono">{new Date(l.ts).toLocaleString()}</td>
      <td class="small">
        {l.environment} <span class="mono">{l.instance}</span>
        {l.stream === 'stderr' && <span class="tag bad">stderr</span>}
      </td>
      <td>
        <pre class="applog">{splitMatches(stripAnsi(l.text), words).map((part, i) => (i % 2 ? <mark>{part}</mark> : part))}</pre>
      </td>
    </tr>
  );
}

function Tail({ app, environment, q, stream }: { app: string; environment: string; q: string; stream: string }) {
  const s = session()!;
  const [lines, setLines] = useState<AppLogLine[]>([]);
  const [state, setState] = useState('connecting…');
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const ctrl = new AbortController();
    setLines([]);
    tailAppLogs(
      s.client,
      { app, environment: environment || undefined, q: q || undefined, stream: (stream || undefined) as 'stdout' | 'stderr' | undefined, lines: 50 },
      (ev) => {
        if (ev.type === 'lines') {
          setState('live');
          setLines((old) => [...old, ...ev.lines].slice(-TAIL_KEEP));
        }
      },
      ctrl.signal,
    ).then(
      (end) => end && setState(`ended: ${end.message}`),
      (err: Error) => setState(`ended: ${err.message}`),
    );
    return () => ctrl.abort();
  }, [app, environment, q, stream]);
  // Keep the newest line in view.
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  return (
    <section data-testid="app-log-tail">
      <h2>
        Live: {app} <span class="muted small">{state}</span>
      </h2>
      <div class="applog-tail" ref={box}>
        <table class="table">
          <tbody>
            {lines.map((l) => (
              <Line l={l} words={wordsOf(q)} />
            ))}
          </tbody>
        </table>
        {!lines.length && <p class="muted small">No lines yet.</p>}
      </div>
    </section>
  );
}

export function AppLogs() {
  const s = session()!;
  const apps = useLoad(() => s.client.listDeployments({ limit: 500 }).then((l) => [...new Set(l.map((d) => d.app))].sort()), []);
  const [form, setForm] = useState({ app: '', environment: '', q: '', stream: '', since: '24 h' });
  const [query, setQuery] = useState<typeof form | null>(null);
  const [hits, setHits] = useState<AppLogHit[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(false);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  const run = async (f: typeof form, more?: string) => {
    setError(null);
    try {
      const since = SINCE[f.since];
      const page = await searchAppLogs(s.client, {
        app: f.app || undefined,
        environment: f.environment || undefined,
        q: f.q || undefined,
        stream: (f.stream || undefined) as 'stdout' | 'stderr' | undefined,
        from: since ? Date.now() - since : undefined,
        limit: 200,
        cursor: more,
      });
      setHits((old) => (more ? [...old, ...page.hits] : page.hits));
      setCursor(page.nextCursor);
      setQuery(f);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <>
      <h1>App logs</h1>
      <form
        class="inline-form"
        aria-label="Search app logs"
        onSubmit={(e) => {
          e.preventDefault();
          void run(form);
        }}
      >
        <input aria-label="App" placeholder="app (all of yours)" list="applog-apps" value={form.app} onInput={set('app')} />
        <datalist id="applog-apps">
          {(apps.data ?? []).map((a) => (
            <option value={a} />
          ))}
        </datalist>
        <input aria-label="Environment" placeholder="environment" value={form.environment} onInput={set('environment')} />
        <input aria-label="Words" placeholder='words or "a phrase"' value={form.q} onInput={set('q')} />
        <select aria-label="Stream" value={form.stream} onChange={set('stream')}>
          <option value="">stdout and stderr</option>
          <option value="stdout">stdout</option>
          <option value="stderr">stderr</option>
        </select>
        <select aria-label="Since" value={form.since} onChange={set('since')}>
          {Object.keys(SINCE).map((k) => (
            <option value={k}>{k === 'all time' ? k : `last ${k}`}</option>
          ))}
        </select>
        <button type="submit">Search</button>
        <label class="check" title={form.app ? '' : 'choose an app to follow'}>
          <input type="checkbox" checked={follow} disabled={!form.app} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow live
        </label>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {follow && form.app && <Tail app={form.app} environment={form.environment} q={form.q} stream={form.stream} />}
      {query && (
        <section data-testid="app-log-hits">
          <h2>
            {hits.length} line{hits.length === 1 ? '' : 's'}
            {cursor ? ' (more older)' : ''} <span class="muted small">newest first</span>
          </h2>
          <div class="scroll-x">
            <table class="table">
              <tbody>
                {hits.map((h) => (
                  <Line l={h} words={wordsOf(query.q)} />
                ))}
              </tbody>
            </table>
          </div>
          {cursor && (
            <button type="button" class="secondary" onClick={() => run(query, cursor)}>
              Older lines
            </button>
          )}
        </section>
      )}
    </>
  );
}
