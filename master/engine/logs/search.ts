/**
 * Full-text search over indexed build logs. User input never reaches FTS5 syntax: every whitespace-separated
 * term becomes a quoted phrase, and the phrases are AND-ed, so "foo OR bar*" searches for chunks holding
 * the words foo, or and bar, never for "foo or anything starting with bar".
 */
import type { SearchHit } from '../../../shared/api';
import { badRequest } from '../../../shared/errors';
import type { LogsStore } from '../../store/logs';

export const MAX_QUERY_CHARS = 500;
export const MAX_QUERY_TERMS = 16;
export const MAX_SEARCH_LIMIT = 200;
/** Matching lines returned per chunk. */
export const LINES_PER_HIT = 5;
/** Lines longer than this are cut in a hit (a minified bundle is one line). */
const MAX_LINE_CHARS = 500;

// unicode61 makes tokens of letters, numbers and private-use characters; a term without any is no word.
const WORD_RE = /[\p{L}\p{N}\p{Co}]/u;

export interface SearchQuery {
  /** Raw user text. */
  q: string;
  /** Only visible teams' builds; an empty list finds nothing. */
  teamIds: number[];
  /** Restrict to one job, by id (the route resolves the caller's `name` or `team/name`, master/jobs/resolve.ts). */
  jobId?: number;
  limit: number;
}

/** The terms of a query, each one a literal phrase. Throws invalid_request naming `q` when there is no word. */
export function queryTerms(q: string): string[] {
  if (q.length > MAX_QUERY_CHARS) throw badRequest(`q: at most ${MAX_QUERY_CHARS} characters (got ${q.length})`);
  const terms = q.split(/\s+/).filter((t) => WORD_RE.test(t));
  if (terms.length === 0) throw badRequest('q: give at least one word to search for');
  if (terms.length > MAX_QUERY_TERMS) throw badRequest(`q: at most ${MAX_QUERY_TERMS} words (got ${terms.length})`);
  return terms;
}

/** The FTS5 MATCH expression: each term as a "phrase" (inner quotes doubled), joined by AND. */
export function toMatchExpression(terms: string[]): string {
  return terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' AND ');
}

/** Newest matching chunks first, at most `limit`. */
export function searchLogs(store: LogsStore, query: SearchQuery): SearchHit[] {
  const terms = queryTerms(query.q);
  if (query.teamIds.length === 0) return [];
  const rows = store.search(toMatchExpression(terms), query.teamIds, query.jobId ?? null, query.limit);
  return rows.map(({ content, ...hit }) => ({ ...hit, lines: matchingLines(content, terms) }));
}

/**
 * Lines of a chunk that show the match: lines holding every term (case-insensitive) first, then lines
 * holding any term, at most LINES_PER_HIT. The FTS match is per chunk, so the terms may be on different lines.
 */
export function matchingLines(content: string, terms: string[]): string[] {
  // Compare words as the tokenizer sees them: '"foo' and 'foo*' both search for foo.
  const needles = [...new Set(terms.flatMap((t) => t.toLowerCase().split(/[^\p{L}\p{N}\p{Co}]+/u)).filter(Boolean))];
  const all: string[] = [];
  const some: string[] = [];
  for (const line of content.split(/\r?\n/)) {
    const lower = line.toLowerCase();
    const found = needles.filter((n) => lower.includes(n)).length;
    if (found === needles.length) all.push(cut(line));
    else if (found > 0) some.push(cut(line));
    if (all.length >= LINES_PER_HIT) break;
  }
  return [...all, ...some].slice(0, LINES_PER_HIT);
}

function cut(line: string): string {
  return line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
}
