/**
 * Log search across builds (GET /api/v1/logs/search: full-text over the stored logs of the teams one sees),
 * optionally within one job. Each hit links to its build; the query's words are highlighted as <mark>
 * around text nodes (never HTML built from the log).
 */
import { useState } from 'preact/hooks';
import type { SearchHit } from '../../../shared/api';
import { useLoad } from '../data';
import { jobRef, paths } from '../router';
import { session } from '../session';

/** Splits `text` around case-insensitive occurrences of any of the words; odd indexes are matches. */
export function splitMatches(text: string, words: string[]): string[] {
  const ws = words.filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!ws.length) return [text];
  return text.split(new RegExp(`(${ws.join('|')})`, 'gi'));
}

function Highlighted({ text, words }: { text: string; words: string[] }) {
  return <>{splitMatches(text, words).map((part, i) => (i % 2 ? <mark>{part}</mark> : part))}</>;
}

export function Search() {
  const s = session()!;
  const jobs = useLoad(() => s.client.listJobs(), []);
  const [q, setQ] = useState('');
  const [job, setJob] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [words, setWords] = useState<string[]>([]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      setHits(await s.client.searchLogs(q, { job: job || undefined, limit: 100 }));
      setWords(q.replace(/["*()]/g, ' ').split(/\s+/).filter((w) => w && !/^(AND|OR|NOT|NEAR)$/.test(w)));
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <>
      <h1>Log search</h1>
      <form class="inline-form card" onSubmit={submit} role="search">
        <input type="search" aria-label="Search all logs" placeholder="words in build logs" required value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <select aria-label="Job" value={job} onChange={(e) => setJob((e.target as HTMLSelectElement).value)}>
          <option value="">all jobs</option>
          {(jobs.data ?? []).map((j, _i, all) => (
            <option value={jobRef(j)}>{all.filter((o) => o.name === j.name).length > 1 ? jobRef(j) : j.name}</option>
          ))}
        </select>
        <button type="submit">Search</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {hits && !hits.length && <p class="muted">No match.</p>}
      {hits && hits.length > 0 && (
        <ul class="plain hits" data-testid="search-hits">
          {hits.map((h) => (
            <li class="card">
              <a href={paths.build(h.buildId)}>
                {h.job} #{h.number}
              </a>{' '}
              <span class="muted small">
                team {h.team}, stage {h.stage}
              </span>
              <pre class="output">
                {h.lines.map((l) => (
                  <div>
                    <Highlighted text={l} words={words} />
                  </div>
                ))}
              </pre>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
