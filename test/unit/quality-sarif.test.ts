/** SARIF 2.1.0 parsing (master/reports/sarif.ts) and findings storage with "new since the previous build" (store/findings.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReportFormatError } from '../../master/reports/junit';
import { parseSarif } from '../../master/reports/sarif';
import { openDb } from '../../master/store/db';
import { createReportsStore } from '../../master/store/reports';

const sarif = (runs: unknown[]) => JSON.stringify({ $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs });
const result = (ruleId: string, level: string | undefined, text: string, uri: string, line: number) => ({
  ruleId,
  ...(level ? { level } : {}),
  message: { text },
  locations: [{ physicalLocation: { artifactLocation: { uri }, region: { startLine: line } } }],
});

describe('SARIF parser', () => {
  it('reads rule, level, severity, message, file and line of every run', () => {
    const r = parseSarif(
      sarif([
        {
          tool: { driver: { name: 'eslint', rules: [{ id: 'no-eval', defaultConfiguration: { level: 'error' } }, { id: 'sec', properties: { 'security-severity': '8.1' } }] } },
          results: [
            { ruleIndex: 0, message: { text: 'eval is evil' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'file:///src/a%20b.js' }, region: { startLine: 3 } } }] },
            result('sec', 'note', 'escalated by security-severity', 'src/b.js', 9),
            { ruleId: 'x', kind: 'pass', message: { text: 'passing check' } },
          ],
        },
        {
          tool: { driver: { name: 'other', rules: [{ id: 'T1', messageStrings: { m: { text: 'found {0} in {1}' } } }] } },
          results: [{ ruleId: 'T1', message: { id: 'm', arguments: ['x', 'y'] }, locations: [{ physicalLocation: { artifactLocation: { uri: '%SRCROOT%/c.txt', uriBaseId: 'SRCROOT' } } }] }],
        },
      ]),
    );
    expect(r.tests).toBe(0);
    expect(r.findings!.map(({ fingerprint, ...f }) => f)).toEqual([
      { tool: 'eslint', ruleId: 'no-eval', level: 'error', severity: 'high', message: 'eval is evil', file: '/src/a b.js', line: 3 },
      { tool: 'eslint', ruleId: 'sec', level: 'note', severity: 'high', message: 'escalated by security-severity', file: 'src/b.js', line: 9 },
      { tool: 'eslint', ruleId: 'x', level: 'none', severity: 'low', message: 'passing check', file: null, line: null },
      { tool: 'other', ruleId: 'T1', level: 'warning', severity: 'medium', message: 'found x in y', file: 'c.txt', line: null },
    ]);
  });

  it('fingerprints ignore the line, so moved code is the same finding', () => {
    const a = parseSarif(sarif([{ tool: { driver: { name: 't' } }, results: [result('r', 'error', 'm', 'f.js', 1)] }])).findings![0];
    const b = parseSarif(sarif([{ tool: { driver: { name: 't' } }, results: [result('r', 'error', 'm', 'f.js', 40)] }])).findings![0];
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  it('refuses what is not SARIF 2.1.0, saying why', () => {
    expect(() => parseSarif('{')).toThrow(ReportFormatError);
    expect(() => parseSarif('{"version":"2.0.0","runs":[]}')).toThrow(/version "2.0.0" is not supported/);
    expect(() => parseSarif('{"version":"2.1.0"}')).toThrow(/no "runs" array/);
    expect(() => parseSarif('{"version":"2.1.0","runs":[{"results":[3]}]}')).toThrow(/runs\[0\]\.results\[0\]/);
  });
});

describe('findings store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-sarif-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'data'));
  const store = createReportsStore(db);
  const now = Date.now();
  db.prepare("INSERT INTO teams (name, created_at) VALUES ('t', ?)").run(now);
  db.prepare("INSERT INTO jobs (name, team_id, yaml, source, created_at, updated_at) VALUES ('j', 1, '', 'api', ?, ?)").run(now, now);
  const build = (branch: string) => {
    const id = Number(db.prepare("INSERT INTO builds (job_id, number, status, yaml, created_at, branch) VALUES (1, (SELECT COUNT(*) + 1 FROM builds), 'running', '', ?, ?)").run(now, branch).lastInsertRowid);
    const sr = Number(db.prepare("INSERT INTO stage_runs (build_id, stage_index, name, environment, status) VALUES (?, 0, 's', 'ci', 'running')").run(id).lastInsertRowid);
    return { id, sr };
  };
  const put = (b: { id: number; sr: number }, results: unknown[]) =>
    store.put(
      { buildId: b.id, stageRunId: b.sr, stepIndex: 1, format: 'sarif', path: 'scan.sarif', artifactId: null, status: 'parsed', error: null },
      parseSarif(sarif([{ tool: { driver: { name: 'scan' } }, results }])),
      now,
    );

  const finish = (b: { id: number }, status: string) => db.prepare('UPDATE builds SET status = ? WHERE id = ?').run(status, b.id);

  it('marks findings new against the latest successful build of the same branch only', () => {
    const b1 = build('main');
    const first = put(b1, [result('a', 'error', 'one', 'x.js', 1), result('b', 'warning', 'two', 'y.js', 2)]);
    expect(first.findingsSummary).toMatchObject({ previousBuildId: null, total: { high: 1, medium: 1, low: 0 }, new: { high: 1, medium: 1, low: 0 } });
    finish(b1, 'success');
    const other = build('feature');
    expect(put(other, [result('a', 'error', 'one', 'x.js', 1)]).findingsSummary!.previousBuildId).toBeNull();
    // A failed build (a gate said no) is no baseline: its findings stay new for the next build too.
    const failed = build('main');
    expect(put(failed, [result('c', 'error', 'three', 'z.js', 3)]).findingsSummary).toMatchObject({ previousBuildId: b1.id, new: { high: 1 } });
    finish(failed, 'failed');
    const b2 = build('main');
    const second = put(b2, [result('a', 'error', 'one', 'x.js', 7), result('c', 'error', 'three', 'z.js', 3)]);
    expect(second).toMatchObject({ findings: 2, newFindings: 1 });
    expect(second.findingsSummary).toMatchObject({ previousBuildId: b1.id, total: { high: 2 }, new: { high: 1, medium: 0 } });
    // The baseline is kept with the report: a build finishing later does not change what was compared.
    finish(failed, 'success');
    const page = store.findings(b2.id);
    expect(page.previousBuildId).toBe(b1.id);
    expect(page.findings.map((f) => [f.ruleId, f.isNew, f.line])).toEqual([
      ['a', false, 7],
      ['c', true, 3],
    ]);
    expect(store.findings(b2.id, { onlyNew: true }).findings.map((f) => f.ruleId)).toEqual(['c']);
    expect(store.findings(b2.id, { severity: 'medium' }).findings).toEqual([]);
  });

  it('stores 100,000 findings, none lost, and a replayed upload replaces them', () => {
    const b = build('big');
    const many = Array.from({ length: 100_000 }, (_, i) => result(`r${i % 50}`, i % 3 === 0 ? 'error' : 'warning', `finding ${i}`, `src/f${i % 1000}.js`, i + 1));
    expect(put(b, many).findings).toBe(100_000);
    expect(put(b, many).findings).toBe(100_000);
    const page = store.findings(b.id, { limit: 100_000 });
    expect(page.findings).toHaveLength(100_000);
    expect(page.total.high + page.total.medium).toBe(100_000);
  });
});
