/**
 * User input of a log search, checked and turned into what the store runs: the FTS5 MATCH expression (user
 * text can never be FTS5 syntax), the limits, and the paging cursor. Pure functions; errors are
 * invalid_request naming the field.
 */
import { badRequest } from '../../shared/errors';
import type { LogQuery } from './types';

export const MAX_QUERY_CHARS = 1000;
export const MAX_QUERY_TERMS = 32;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const MAX_CONTEXT = 20;

// unicode61 makes tokens of letters, numbers and private-use characters; a term without any is no word.
const WORD_RE = /[\p{L}\p{N}\p{Co}]/u;

/**
 * The terms of a query: "quoted phrases" and whitespace-separated keywords, in order. Returns [] for a blank
 * query (all lines). Throws for an unclosed quote, a query over MAX_QUERY_CHARS, more than MAX_QUERY_TERMS
 * terms, or a non-blank query without a single word (e.g. `*** --`).
 */
export function parseQueryTerms(q: string): string[] {
  if (q.length > MAX_QUERY_CHARS) throw badRequest(`q: at most ${MAX_QUERY_CHARS} characters (got ${q.length})`);
  const terms: string[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const end = q.indexOf('"', i + 1);
      if (end === -1) throw badRequest(`q: unclosed quote at character ${i + 1}`);
      terms.push(q.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = i;
      while (end < q.length && !/\s/.test(q[end]) && q[end] !== '"') end++;
      terms.push(q.slice(i, end));
      i = end;
    }
  }
  const words = terms.filter((t) => WORD_RE.test(t));
  if (words.length === 0 && q.trim() !== '') throw badRequest('q: give at least one word to search for (letters or digits)');
  if (words.length > MAX_QUERY_TERMS) throw badRequest(`q: at most ${MAX_QUERY_TERMS} words or phrases (got ${words.length})`);
  return words;
}

/**
 * The FTS5 MATCH expression: each term as one FTS5 "string" (inner quotes doubled) searched in the `text`
 * column only, joined by AND. Inside a string FTS5 reads no operator, column filter or prefix mark: the
 * tokenizer splits it into words that must appear next to each other, so a keyword like `user_id=42` or
 * `NEAR(a` is a phrase of its words.
 */
export function toMatchExpression(terms: string[]): string {
  return terms.map((t) => `{text}: "${t.replace(/"/g, '""')}"`).join(' AND ');
}

/** The MATCH expression for lines of these label ids (the `lbl` column holds the token `l<id>`). */
export function labelsExpression(ids: number[]): string {
  return `{lbl}: (${ids.map((id) => `l${id}`).join(' OR ')})`;
}

export interface CheckedQuery {
  apps: string[];
  environment?: string;
  instance?: string;
  stream?: 'stdout' | 'stderr';
  /** FTS5 MATCH expression, absent for all lines. */
  match?: string;
  from: number;
  to: number;
  limit: number;
  context: number;
  cursor?: Cursor;
}

/** Where a page ended: the last hit's (bucket, key, partition) in the newest-first order. */
export interface Cursor {
  bucket: number;
  key: number;
  partition: number;
}

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`${field}: must be a string`);
  return v;
}

function intIn(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badRequest(`${field}: must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return v;
}

/** Checks every field of a LogQuery; throws invalid_request naming the first bad one. */
export function checkQuery(q: LogQuery): CheckedQuery {
  if (!q || typeof q !== 'object') throw badRequest('query: must be an object');
  if (!Array.isArray(q.apps) || q.apps.some((a) => typeof a !== 'string')) throw badRequest('apps: must be a list of app names');
  const stream = optionalString(q.stream, 'stream');
  if (stream !== undefined && stream !== 'stdout' && stream !== 'stderr') throw badRequest(`stream: must be stdout or stderr (got ${JSON.stringify(stream)})`);
  const qText = optionalString(q.q, 'q');
  const terms = qText === undefined ? [] : parseQueryTerms(qText);
  const from = intIn(q.from, 'from', 0, Number.MAX_SAFE_INTEGER, 0);
  const to = intIn(q.to, 'to', 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (from >= to) throw badRequest(`from: must be before to (from ${from}, to ${to})`);
  const cursorText = optionalString(q.cursor, 'cursor');
  return {
    apps: q.apps,
    environment: optionalString(q.environment, 'environment'),
    instance: optionalString(q.instance, 'instance'),
    stream: stream as 'stdout' | 'stderr' | undefined,
    match: terms.length ? toMatchExpression(terms) : undefined,
    from,
    to,
    limit: intIn(q.limit, 'limit', 1, MAX_LIMIT, DEFAULT_LIMIT),
    context: intIn(q.context, 'context', 0, MAX_CONTEXT, 0),
    cursor: cursorText === undefined ? undefined : decodeCursor(cursorText),
  };
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`v1:${c.bucket}:${c.key}:${c.partition}`).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  const m = /^v1:(-?\d{1,16}):(\d{1,16}):(\d{1,16})$/.exec(Buffer.from(s, 'base64url').toString());
  const c = m && { bucket: Number(m[1]), key: Number(m[2]), partition: Number(m[3]) };
  if (!c || !Number.isSafeInteger(c.bucket) || !Number.isSafeInteger(c.key) || !Number.isSafeInteger(c.partition)) {
    throw badRequest('cursor: not a cursor of this log center (take nextCursor of the previous page)');
  }
  return c;
}
