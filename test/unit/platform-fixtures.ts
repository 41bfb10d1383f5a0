/** Shared setup for platform unit tests: a real SQLite store in a fresh temp dir and a silent logger. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openDb, type Db } from '../../master/store/db';

export const silentLog = pino({ level: 'silent' });

export function tempStore(): { dir: string; db: Db; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-platform-'));
  const db = openDb(join(dir, 'data'));
  return {
    dir,
    db,
    cleanup() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
