import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, startCheckpointer } from '../../master/store/db';
import { waitFor } from '../helpers/wait';

describe('WAL checkpointer thread', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('moves committed pages into the database file without the writer checkpointing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-store-'));
    dirs.push(dir);
    const db = openDb(dir);
    const file = join(dir, 'slipway.db');
    db.exec('CREATE TABLE blobs (data BLOB)');
    const insert = db.prepare('INSERT INTO blobs VALUES (?)');
    const blob = Buffer.alloc(64 * 1024, 7);
    db.transaction(() => {
      for (let i = 0; i < 160; i++) insert.run(blob);
    })();
    // 10 MB sit in the WAL: below the writer's own (fallback) checkpoint threshold.
    expect(statSync(file).size).toBeLessThan(1 << 20);
    const errors: string[] = [];
    const cp = startCheckpointer(db, 50, (m) => errors.push(m));
    await waitFor('checkpointed pages in the database file', () => statSync(file).size > 10 << 20, { timeoutMs: 10_000 });
    await cp.stop();
    expect(errors).toEqual([]);
    expect((db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }).n).toBe(160);
    db.close();
  });
});
