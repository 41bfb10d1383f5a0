/**
 * Container logs of deployed apps (the log center, shared/api-logs.ts): search one app's logs by words and
 * "phrases", environment and instance, newest first with "Older" paging; or follow the app live across its
 * instances (Server-Sent Events, every event checked with the shared zod schema). Log text is rendered as text
 * nodes only, never as HTML. Only apps of the caller's teams answer (others: not found). Admins also see the
 * log center's state (components/LogCenterStats.tsx).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AppLogLine } from '../../../shared/api-logs';
import { searchAppLogs, tailAppLogs } from '../../../shared/client/app-logs-client';
import { LogCenterStats } from '../components/LogCenterStats';
import { session } from '../session';

function Line({ l }: { l: AppLogLine }) {
  return (
    <div class={`log-entry ${l.stream}`} data-testid="app-log-line">
      <span class="muted small">
        {new Date(l.ts).toISOString()} {l.environment} {l.instance} {l.stream}
      </span>{' '}
      <pre class="output inline">{l.text}</pre>
    </div>
  );
}

export function AppLogs() {
  const s = session()!;
  const [app, setApp] = useState('');
  const [q, setQ] = useState('');
  const [environment, setEnvironment] = useState('');
  const [instance, setInstance] = useState('');
  const [lines, setLines] = useState<AppLogLine[] | null>(null);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [following, setFollowing] = useState(false);
  const tail = useRef<AbortController | null>(null);
  useEffect(() => () => tail.current?.abort(), []);

  const filters = () => ({ app, q: q || undefined, environment: environment || undefined, instance: instance || undefined });

  const search = async (more?: string) => {
    setError(null);
    try {
      const page = await searchAppLogs(s.client, { ...filters(), limit: 200, cursor: more });
      // Newest first from the API; shown oldest first, older pages above.
      const got = [...page.hits].reverse();
      setLines((prev) => (more && prev ? [...got, ...prev] : got));
      setCursor(page.nextCursor);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const stop = () => {
    tail.current?.abort();
    tail.current = null;
    setFollowing(false);
  };

  const follow = () => {
    stop();
    setError(null);
    setLines([]);
    setCursor(undefined);
    const ac = new AbortController();
    tail.current = ac;
    setFollowing(true);
    tailAppLogs(s.client, { ...filters(), lines: 50 }, (e) => e.type === 'lines' && setLines((prev) => [...(prev ?? []), ...e.lines].slice(-5000)), ac.signal).then(
      (end) => {
        if (end) setError(`live tail ended: ${end.message}`);
        if (tail.current === ac) setFollowing(false);
      },
      (err: Error) => {
        setError(err.message);
        if (tail.current === ac) setFollowing(false);
      },
    );
  };

  const input = (label: string, value: string, set: (v: string) => void, extra: Record<string, unknown> = {}) => (
    <input aria-label={label} placeholder={label} value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} {...extra} />
  );

  return (
    <>
      <h1>App logs</h1>
      {s.me.isAdmin && <LogCenterStats />}
      <form
        class="inline-form card"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          stop();
          void search();
        }}
      >
        {input('App', app, setApp, { required: true })}
        {input('Words', q, setQ, { type: 'search' })}
        {input('Environment', environment, setEnvironment)}
        {input('Instance', instance, setInstance)}
        <button type="submit">Search</button>
        {following ? (
          <button type="button" onClick={stop}>
            Stop following
          </button>
        ) : (
          <button type="button" onClick={follow} disabled={!app}>
            Follow live
          </button>
        )}
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {cursor && !following && (
        <button type="button" onClick={() => void search(cursor)}>
          Older
        </button>
      )}
      {lines && !lines.length && <p class="muted">{following ? 'Waiting for new lines...' : 'No match.'}</p>}
      {lines && lines.length > 0 && (
        <div class="card app-log" data-testid="app-log">
          {lines.map((l) => (
            <Line key={l.id} l={l} />
          ))}
        </div>
      )}
    </>
  );
}
