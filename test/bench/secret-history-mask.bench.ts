/**
 * What keeping rotated secret values masked costs the log center's ingest (master/app-logs/secret-mask.ts with the
 * secret store's history, master/secrets/store.ts). The masker of one app deployed by a job with 4 team secrets
 * masks 500-entry batches of realistic container lines (none holds a secret: the common case, the whole scan and
 * no hit), with a real secret store (SQLite, AES-256-GCM), in three set-ups measured in the same run, interleaved:
 * - baseline: the masker with current values only (previousValues answers [] without a query), i.e. without the
 *   history's work (the same masking code otherwise, including its one-regex "any needle?" filter);
 * - no_rotation: with the history lookup (4 indexed queries per batch, nothing found);
 * - full_history: every secret rotated 11 times, so each has MAX_PREVIOUS_PER_SECRET old values kept (44 + 4 to mask).
 * Figures: ns per entry of each (median of ROUNDS rounds) and the ratios to the baseline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAppLogMasker, type AppLogMasker } from '../../master/app-logs/secret-mask';
import type { JobRecord, Secrets } from '../../master/context';
import { MAX_PREVIOUS_PER_SECRET, SecretStore } from '../../master/secrets/store';
import { openDb } from '../../master/store/db';
import { createTeam } from '../../master/store/teams';
import { reportBench } from '../helpers/bench';
import { round } from './common';

const BATCH = 500;
const BATCHES = Number(process.env.SECRET_MASK_BENCH_BATCHES ?? 200);
const ROUNDS = Number(process.env.SECRET_MASK_BENCH_ROUNDS ?? 5);
const NAMES = ['DB_PASSWORD', 'API_TOKEN', 'SMTP_PASSWORD', 'SIGNING_KEY'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Container lines of a web app: about 120 bytes, varied enough that no needle is found early. */
function batches(): string[][] {
  const out: string[][] = [];
  for (let b = 0; b < BATCHES; b++) {
    const batch: string[] = [];
    for (let i = 0; i < BATCH; i++) {
      const n = b * BATCH + i;
      batch.push(`2026-12-03T18:00:${String(n % 60).padStart(2, '0')}.${n % 1000}Z INFO http GET /api/v1/orders/${n} 200 ${n % 97}ms user=u${n % 1013} trace=${(n * 2654435761) % 2 ** 32}`);
    }
    out.push(batch);
  }
  return out;
}

function store(dir: string, rotations: number): SecretStore {
  const db = openDb(dir);
  const secrets = new SecretStore(db, randomBytes(32));
  const teamId = createTeam(db, 'bench').id;
  for (const name of NAMES) for (let r = 0; r <= rotations; r++) secrets.set(teamId, name, `${name.toLowerCase()}-${r}-${randomBytes(12).toString('hex')}`);
  return secrets;
}

function masker(secrets: Secrets): AppLogMasker {
  const job = {
    id: 1, name: 'bench', teamId: 1, team: 'bench', yaml: '', source: 'api', filePath: null, enabled: true,
    config: { secrets: NAMES, stages: [{ environment: 'prod', steps: [{ kind: 'deploy', config: { app: 'web' } }] }] },
  } as unknown as JobRecord;
  return createAppLogMasker({ jobs: { all: () => [job], onChange: () => undefined } as never, secrets });
}

/** ns per entry of one pass over every batch; throws if anything was masked (no line holds a secret). */
function pass(m: AppLogMasker, data: string[][]): number {
  const t0 = process.hrtime.bigint();
  let masked = 0;
  for (const b of data) if (m.mask('web', b) !== b) masked++;
  const ns = Number(process.hrtime.bigint() - t0);
  if (masked) throw new Error(`${masked} batches masked: the generated lines hold no secret`);
  return ns / (BATCHES * BATCH);
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-secret-mask-bench-'));
try {
  const data = batches();
  const current = store(join(dir, 'current'), 0);
  const rotated = store(join(dir, 'rotated'), MAX_PREVIOUS_PER_SECRET + 1);
  const before: Secrets = { resolve: (t, n) => current.resolve(t, n), previousValues: () => [] };
  const setups: [string, AppLogMasker][] = [
    ['baseline', masker(before)],
    ['no_rotation', masker(current)],
    ['full_history', masker(rotated)],
  ];
  if (rotated.previousValues(1, NAMES).length !== NAMES.length * MAX_PREVIOUS_PER_SECRET) throw new Error('the rotated store does not hold a full history');
  for (const [, m] of setups) pass(m, data.slice(0, 20)); // warm-up
  const ns: Record<string, number[]> = Object.fromEntries(setups.map(([k]) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [k, m] of setups) ns[k].push(pass(m, data));
  const [base, none, full] = setups.map(([k]) => median(ns[k]));
  process.stdout.write(
    `secret masking per entry (${BATCHES} x ${BATCH} entries, 4 secrets, median of ${ROUNDS}): baseline ${round(base)} ns, ` +
      `with the history lookup ${round(none)} ns (${round(none / base, 2)}x), with ${MAX_PREVIOUS_PER_SECRET} old values per secret ${round(full)} ns (${round(full / base, 2)}x)\n`,
  );
  reportBench({
    secret_history_mask_baseline_ns_per_entry: round(base),
    secret_history_mask_no_rotation_ns_per_entry: round(none),
    secret_history_mask_full_history_ns_per_entry: round(full),
    secret_history_mask_no_rotation_ratio: round(none / base, 2),
    secret_history_mask_full_history_ratio: round(full / base, 2),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
