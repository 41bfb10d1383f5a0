/**
 * The tap-junit plugin's converter on the TAP a real `node --test --test-reporter=tap` writes for the fixture
 * project (test/fixtures/quality/tap-project: one passing, one failing, one skipped test in a suite, one
 * top-level test), on nested suites and TODO points, and the manifest rules of report formats.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../shared/plugins/manifest';
// @ts-expect-error: the plugin is plain JavaScript without type declarations.
import { tapToJunit } from '../../plugins/tap-junit/tap.mjs';

const convert = tapToJunit as (text: string, suite?: string) => string;
const cases = (xml: string) => [...xml.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"[^>]*?(\/>|><(failure|skipped))/g)].map((m) => `${m[1].replace(/&gt;/g, '>')} > ${m[2]}: ${m[4] ?? 'passed'}`);

describe('tap-junit', () => {
  it('converts what node --test --test-reporter=tap writes', () => {
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'test/'], { cwd: join(import.meta.dirname, '..', 'fixtures', 'quality', 'tap-project'), encoding: 'utf8' });
    expect(run.status).toBe(1);
    const xml = convert(run.stdout, 'out.tap');
    expect(cases(xml).sort()).toEqual(['math > adds: passed', 'math > divides later: skipped', 'math > multiplies: failure', 'out.tap > top-level ok: passed']);
    expect(xml).toMatch(/<testsuite name="out\.tap" tests="4" failures="1" errors="0" skipped="1"/);
    expect(xml).toContain('<failure message="two times three">');
  });

  it('names nested suites outer > inner, and counts TODO points as skipped', () => {
    const tap = ['TAP version 13', '# Subtest: outer', '    # Subtest: inner', '        ok 1 - leaf', '        1..1', '    ok 1 - inner', '    not ok 2 - later # TODO not yet', '    1..2', 'ok 1 - outer', '1..1', ''].join('\n');
    expect(cases(convert(tap))).toEqual(['outer > inner > leaf: passed', 'outer > later: skipped']);
  });

  it('reads report formats from a manifest, refusing a built-in name and a missing agent entry', () => {
    const m = { name: 'conv', version: '1.0.0', protocol: '>=12', entry: { agent: 'a.mjs' }, provides: { reportFormats: [{ name: 'tap', to: 'junit' }] } };
    expect(parseManifest(m, 'm').provides.reportFormats).toEqual([{ name: 'tap', to: 'junit' }]);
    expect(() => parseManifest({ ...m, provides: { reportFormats: [{ name: 'junit', to: 'junit' }] } }, 'm')).toThrow("m: provides.reportFormats[0].name: report format 'junit' is built in");
    expect(() => parseManifest({ ...m, entry: {} }, 'm')).toThrow('m: entry.agent: a plugin with step kinds, scanners or report formats needs entry.agent');
  });
});
