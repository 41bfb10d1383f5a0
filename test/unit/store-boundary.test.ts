/**
 * The store boundary: SQL lives in master/store/ only (and master/logcenter/, which has its own store). Any
 * other file of the master that prepares a statement, runs SQL, opens a transaction or sets a pragma on a
 * database, imports better-sqlite3, or holds an SQL statement in a string fails this test, naming the file
 * and line. Code outside the store uses the store modules' interfaces and inTransaction (store/db.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { violations } from '../helpers/store-boundary';

const ROOT = join(__dirname, '..', '..');
const ALLOWED = ['master/store/', 'master/logcenter/'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('store boundary', () => {
  it('finds each kind of SQL access (the check itself works)', () => {
    const sample = [
      "const q = db.prepare('SELECT 1');",
      "ctx.db.exec('VACUUM');",
      'this.db.transaction(() => 1)();',
      "db.pragma('user_version');",
      "import Database from 'better-sqlite3';",
      'const sql = `DELETE FROM builds WHERE id = ?`;',
      'const sql = `SELECT id',
      '  FROM builds`;',
    ].join('\n');
    expect(violations('x.ts', sample).map((v) => v.split(': ')[0])).toEqual(['x.ts:1', 'x.ts:2', 'x.ts:3', 'x.ts:4', 'x.ts:5', 'x.ts:6', 'x.ts:7']);
    // Ordinary uses of the names stay allowed.
    expect(violations('y.ts', "const m = /a(b)/.exec(s);\nengine.transaction((create) => create(nb));\nthrow badRequest('select a job from the list');")).toEqual([]);
  });

  it('no file of the master outside master/store/ (and master/logcenter/) touches the database directly', () => {
    const files = tsFiles(join(ROOT, 'master'))
      .map((f) => relative(ROOT, f).split('\\').join('/'))
      .filter((f) => !ALLOWED.some((a) => f.startsWith(a)));
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((f) => violations(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(found).toEqual([]);
  });
});
