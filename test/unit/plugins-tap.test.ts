/**
 * The tap-junit plugin's converter on the TAP a real `node --test --test-reporter=tap` writes for the fixture
 * project (test/fixtures/quality/tap-project: one passing, one failing, one skipped test in a suite, one
 * top-level test), on nested suites and TODO points, and the manifest rules of report formats. Scheduling:
 * a stage lists the plugin formats its reports use, and only agents that run the converting plugin (loaded,
 * at the named version, protocol 12 on) match it; the waiting reason names the format and its plugin.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentMatches } from '../../master/engine/scheduler/plan';
import { waitingReason } from '../../master/engine/scheduler/waiting';
import { agentReportFormats } from '../../master/plugins/agent-plugins';
import { builtinStepKinds, parseJobYaml } from '../../shared/job';
import { parseManifest } from '../../shared/plugins/manifest';
import { pluginReportFormats } from '../../shared/plugins/step-kind';
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

  it('makes a stage with a TAP report need an agent that runs tap-junit at the named version', () => {
    const m = parseManifest({ name: 'tap-junit', version: '1.0.0', protocol: '>=12', entry: { agent: 'a.mjs' }, provides: { reportFormats: [{ name: 'tap', to: 'junit' }] } }, 'm');
    const kinds = builtinStepKinds();
    for (const d of pluginReportFormats(m)) kinds.reportFormats.register(d);
    const job = (step: string) => `name: j\nteam: t\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - ${step}\n`;
    expect(parseJobYaml(job('test: { run: "true", junit: { path: out.tap, format: tap } }'), 'j.yml', kinds).stages[0].reportFormats).toEqual(['tap']);
    expect(parseJobYaml(job('test: { run: "true", junit: out.xml }'), 'j.yml', kinds).stages[0].reportFormats).toEqual([]);

    const wanted = [{ name: 'tap-junit', version: '1.0.0', sha256: '0'.repeat(64), bytes: 1 }];
    const formatsOf = (p: string) => (p === 'tap-junit' ? ['tap'] : []);
    const loaded = [{ name: 'tap-junit', version: '1.0.0', state: 'loaded' as const }];
    expect(agentReportFormats(loaded, wanted, formatsOf, 12)).toEqual(['tap']);
    // Failed to load there, another version than the master names, not named at all (disabled), or an agent
    // before protocol 12 (no converters): the agent converts nothing.
    expect(agentReportFormats([{ ...loaded[0], state: 'failed', error: 'x' }], wanted, formatsOf, 12)).toEqual([]);
    expect(agentReportFormats([{ ...loaded[0], version: '0.9.0' }], wanted, formatsOf, 12)).toEqual([]);
    expect(agentReportFormats(loaded, [], formatsOf, 12)).toEqual([]);
    expect(agentReportFormats(loaded, wanted, formatsOf, 11)).toEqual([]);

    const run = { environment: 'ci', labels: [], kinds: ['shell'], reportFormats: ['tap'] };
    const agent = { agentId: 1, environment: 'ci', labels: [], kinds: ['shell'], capabilities: [], free: 1 };
    expect(agentMatches(run, { ...agent, reportFormats: ['tap'] })).toBe(true);
    expect(agentMatches(run, agent)).toBe(false);
    expect(agentMatches({ ...run, reportFormats: [] }, agent)).toBe(true);
    expect(waitingReason(run, [agent], undefined, undefined, (f) => `plugin tap-junit@1.0.0 converts ${f}`)).toBe('waiting: no agent of environment ci with report format tap (plugin tap-junit@1.0.0 converts tap)');
    expect(waitingReason(run, [{ ...agent, reportFormats: ['tap'] }])).toBe('waiting: for the scheduler');
  });
});
