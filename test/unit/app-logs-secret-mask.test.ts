/**
 * The master's masking of team secrets in container logs (master/app-logs/secret-mask.ts) with a real secret
 * store (its own control database in a temp dir) and parsed job files: which values are masked for which app,
 * the rules shared with the agent's build-log masker, and a rotated secret's old value staying masked.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, Jobs } from '../../master/context';
import { createAppLogMasker, maskTexts, secretNeedles } from '../../master/app-logs/secret-mask';
import { SecretStore } from '../../master/secrets/store';
import { openDb, type Db } from '../../master/store/db';
import { createTeam } from '../../master/store/teams';
import { parseJobYaml } from '../../shared/job';

let dir: string;
let db: Db;
let secrets: SecretStore;
let key: Buffer;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-mask-'));
  db = openDb(dir);
  key = randomBytes(32);
  secrets = new SecretStore(db, key);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The job list the master's job service would hold, from job files. */
function jobsOf(records: JobRecord[]): Jobs & { change(): void } {
  const listeners: (() => void)[] = [];
  return {
    byId: (id) => records.find((r) => r.id === id),
    all: () => records.filter((r) => r.enabled),
    onChange: (l) => void listeners.push(() => l(undefined, 0)),
    change: () => listeners.forEach((l) => l()),
  };
}

function record(id: number, teamId: number, yaml: string): JobRecord {
  const config = parseJobYaml(yaml);
  return { id, name: config.name, teamId, team: 't', yaml, source: 'api', filePath: null, enabled: true, config };
}

const deployJob = (name: string, team: string, app: string, secretsList: string) => `name: ${name}
team: ${team}
secrets: [${secretsList}]
stages:
  - name: deploy
    environment: prod
    steps:
      - deploy: { app: ${app}, image: x, composeInline: "services: { web: { image: 'x' } }" }
`;

describe('secret needles and masking', () => {
  it('masks each value and each line of a multi-line value, longest first, nothing under 3 bytes', () => {
    const needles = secretNeedles(['ab', 'abc', 'abcdef', 'line-one\nline-two']);
    expect(needles).toEqual(['line-one\nline-two', 'line-one', 'line-two', 'abcdef', 'abc']);
    expect(maskTexts(['x abcdef y', 'ab only', 'key: line-two', 'x abcz'], needles)).toEqual(['x *** y', 'ab only', 'key: ***', 'x ***z']);
  });

  it('takes needles literally and never leaves part of a longer needle behind a shorter one', () => {
    const needles = secretNeedles(['p@ss.w(rd)+|x', 'a.c', 'bcdefg', 'abc']);
    expect(maskTexts(['pw p@ss.w(rd)+|x', 'abc a.c', 'not abc: a-c axc', 'abcdefg'], needles)).toEqual(['pw ***', '*** ***', 'not ***: a-c axc', 'a***']);
    // The same needles over many batches (the compiled filter is cached per needle list).
    for (let i = 0; i < 3; i++) expect(maskTexts([`${i} a.c`, `${i} a-c`], needles)).toEqual([`${i} ***`, `${i} a-c`]);
  });

  it('masks with more needles than one regular expression may hold (256 remembered values of 64 KiB)', () => {
    const big = Array.from({ length: 256 }, () => randomBytes(32 * 1024).toString('hex'));
    const needles = secretNeedles(big);
    expect(maskTexts([`a ${big[200]} b`, 'plain', big[0]], needles)).toEqual(['a *** b', 'plain', '***']);
  });

  it('returns the same array when no text holds a secret', () => {
    const texts = ['nothing here', 'nor here'];
    expect(maskTexts(texts, secretNeedles(['s3cret-value']))).toBe(texts);
  });
});

describe('the app log masker', () => {
  it("masks the secrets of the jobs that deploy the app, not another app's, and keeps a rotated value masked", () => {
    const shop = createTeam(db, 'shop').id;
    const other = createTeam(db, 'other').id;
    secrets.set(shop, 'API_TOKEN', 'shop-token-1');
    secrets.set(shop, 'UNUSED', 'never-applied');
    secrets.set(other, 'API_TOKEN', 'other-token');
    const jobs = jobsOf([record(1, shop, deployJob('shop-cd', 'shop', 'web', 'API_TOKEN')), record(2, other, deployJob('other-cd', 'other', 'api', 'API_TOKEN'))]);
    const masker = createAppLogMasker({ jobs, secrets });
    expect(masker.mask('web', ['token shop-token-1', 'token other-token', 'never-applied'])).toEqual(['token ***', 'token other-token', 'never-applied']);
    expect(masker.mask('api', ['token other-token'])).toEqual(['token ***']);
    expect(masker.mask('legacy', ['shop-token-1'])).toEqual(['shop-token-1']);
    // Rotated: the new value is masked at once, and the old one too (a running container may still print it).
    secrets.set(shop, 'API_TOKEN', 'shop-token-2');
    expect(masker.mask('web', ['new shop-token-2', 'old shop-token-1'])).toEqual(['new ***', 'old ***']);
  });

  it("keeps a rotated and a deleted secret's old values masked for a masker started afresh (a master restart)", () => {
    const shop = createTeam(db, 'shop').id;
    secrets.set(shop, 'API_TOKEN', 'shop-token-1');
    secrets.set(shop, 'DB_PASSWORD', 'db-pass-1');
    const jobs = jobsOf([record(1, shop, deployJob('shop-cd', 'shop', 'web', 'API_TOKEN, DB_PASSWORD'))]);
    expect(createAppLogMasker({ jobs, secrets }).mask('web', ['t shop-token-1 p db-pass-1'])).toEqual(['t *** p ***']);
    secrets.set(shop, 'API_TOKEN', 'shop-token-2');
    secrets.delete(shop, 'DB_PASSWORD');
    // Nothing remembered in memory: the store and masker a restarted master opens on the same data.
    const restarted = createAppLogMasker({ jobs, secrets: new SecretStore(db, key) });
    expect(restarted.mask('web', ['old shop-token-1', 'new shop-token-2', 'gone db-pass-1'])).toEqual(['old ***', 'new ***', 'gone ***']);
    // Only for the apps of the jobs that name the secret.
    expect(restarted.mask('other-app', ['old shop-token-1'])).toEqual(['old shop-token-1']);
  });

  it('follows job changes: a job that starts deploying the app brings its secrets', () => {
    const shop = createTeam(db, 'shop').id;
    secrets.set(shop, 'DB_PASSWORD', 'pw-123456');
    const records = [record(1, shop, deployJob('shop-cd', 'shop', 'web', ''))];
    const jobs = jobsOf(records);
    const masker = createAppLogMasker({ jobs, secrets });
    expect(masker.mask('web', ['pw-123456'])).toEqual(['pw-123456']);
    records[0] = record(1, shop, deployJob('shop-cd', 'shop', 'web', 'DB_PASSWORD'));
    jobs.change();
    expect(masker.mask('web', ['pw-123456'])).toEqual(['***']);
  });
});
