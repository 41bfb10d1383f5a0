/** The API client for the stored (or env-given) session; commands call this instead of building one. */
import { ApiClient } from '../../shared/client/api-client';
import { positiveIntOf } from '../../shared/ids';
import { resolveSession } from './config-file';

export function sessionClient(): ApiClient {
  return new ApiClient(resolveSession());
}

/** Parses a positive integer argument (build ids), naming the argument when it is not one. */
export function parseId(what: string, value: string): number {
  const n = positiveIntOf(value);
  if (n === undefined) throw new Error(`${what} must be a positive integer up to ${Number.MAX_SAFE_INTEGER}, got '${value}'`);
  return n;
}
