/**
 * Shared helpers of the provider payload parsers: defensive field access on untrusted JSON, and the
 * outcome type every parser returns (an event for the pipeline, or a reason the delivery builds nothing).
 */
import { badRequest } from '../../shared/errors';
import { SHA_RE, ZERO_SHA_RE, unsafeRef } from '../../shared/git';
import type { PushEvent } from './pipeline';

/** A parsed delivery: a push-like event (credential check still to come), or nothing to build. */
export type ParsedDelivery =
  | { kind: 'event'; event: Omit<PushEvent, 'verify'> }
  | { kind: 'ignore'; event: string; reason: string; ref?: string; sha?: string };

export type Json = Record<string, unknown>;

export function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The body as a JSON object, or invalid_request naming the provider. */
export function parseJsonBody(body: Buffer, provider: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`${provider} webhook: body is not valid JSON (${(err as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${provider} webhook: body must be a JSON object`);
  return v as Json;
}

/** A required string field, or invalid_request naming it. */
export function need(v: unknown, field: string, provider: string): string {
  const s = str(v);
  if (s === undefined) throw badRequest(`${provider} webhook: ${field} is missing or not a string`);
  return s;
}

/** Refuses refs that could inject git options and shas that are not hex commit ids. */
export function checkRefAndSha(ref: string, sha: string, provider: string): void {
  const why = unsafeRef(ref);
  if (why) throw badRequest(`${provider} webhook: ref: ${why}`);
  if (!SHA_RE.test(sha) && !ZERO_SHA_RE.test(sha)) throw badRequest(`${provider} webhook: commit '${sha.slice(0, 80)}' is not a 40 or 64 hex sha`);
}

/** Union of added/modified/removed over commits, in first-seen order. */
export function changedFilesOf(commits: unknown[]): string[] {
  const seen = new Set<string>();
  for (const c of commits) {
    const o = obj(c);
    for (const key of ['added', 'modified', 'removed']) {
      for (const f of arr(o[key])) if (typeof f === 'string') seen.add(f);
    }
  }
  return [...seen];
}

/** Distinct non-empty URLs. */
export function urls(...values: unknown[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}
