/**
 * Ids and counts given as text (route parameters, query strings, CLI arguments). One parser for every
 * wing, so `/builds/99999999999999999999` can never be rounded to another build: only decimal integers
 * from 1 to Number.MAX_SAFE_INTEGER pass; anything else is invalid_request naming the parameter.
 */
import { badRequest } from './errors';

/** Longest decimal text of a safe integer (9007199254740991 has 16 digits). */
const MAX_DIGITS = String(Number.MAX_SAFE_INTEGER).length;

/** The positive safe integer written in `value`, or undefined (never a rounded or partial number). */
export function positiveIntOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length > MAX_DIGITS || !/^[1-9][0-9]*$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Like positiveIntOf, but throws invalid_request naming `name` (and the value, cut short) otherwise. */
export function parsePositiveInt(value: unknown, name: string): number {
  const n = positiveIntOf(value);
  if (n === undefined) {
    const shown = typeof value === 'string' && value.length > 40 ? `${value.slice(0, 40)}...` : value;
    throw badRequest(`${name}: must be a positive integer up to ${Number.MAX_SAFE_INTEGER} (got ${JSON.stringify(shown ?? '')})`);
  }
  return n;
}
