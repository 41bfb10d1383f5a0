/**
 * The fault matrix, short form (run by `npm test`): every case of cases.ts with 250 ms heartbeats and a
 * 4 s lease, two cases at once, each with its own real master and agent processes. The full form, with the
 * master's default timings and the 40 s / 60 s freezes, is `npm run faults`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { casesFor, SHORT } from './cases';
import { runMatrix, table } from './matrix';
import type { FaultResult } from './run-case';

const cases = casesFor(SHORT);
let results: FaultResult[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  results = await runMatrix(SHORT, cases);
  console.log(`fault matrix (short form, ${((Date.now() - t0) / 1000).toFixed(1)} s)\n${table(results)}`);
}, 240_000);

describe('fault matrix (short form)', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    const r = results[i];
    expect(r, 'the case ran').toBeDefined();
    expect(r.problems).toEqual([]);
    expect(r.passed).toBe(true);
  });
});
