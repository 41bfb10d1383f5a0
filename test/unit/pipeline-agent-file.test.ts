/** The agent config file: validation naming file:line:col and field; CLI flags merged into it; the JUnit parser. */
import { describe, expect, it } from 'vitest';
import { parseAgentFile } from '../../agent/agent-file';
import { probeCapabilities } from '../../agent/capabilities/probes';
import { resolveConfig } from '../../agent/config';
import { parseJunit } from '../../master/reports/junit';

describe('agent config file', () => {
  it('reads docker, etcd, declared capabilities, executors and services', () => {
    const f = parseAgentFile(
      'docker: { socket: /run/docker.sock, registryCredentials: REG_AUTH }\netcd: { endpoints: [http://127.0.0.1:2379] }\ncapabilities: { declare: [gpu] }\nexecutors: { shell: { x: 1 } }\nservices:\n  disk-space:\n',
      'agent.yml',
    );
    expect(f).toMatchObject({ docker: { socket: '/run/docker.sock', minApiVersion: '1.41', registryCredentials: 'REG_AUTH' }, capabilities: { declare: ['gpu'] }, services: { 'disk-space': {} } });
  });

  it('names file, line, column and field of each problem', () => {
    const err = (t: string) => {
      try {
        parseAgentFile(t, 'agent.yml');
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    expect(err('docker:\n  sockett: /x\n')).toBe('agent.yml:2:3: docker.sockett: unknown field (allowed: socket, minApiVersion, registryCredentials)');
    expect(err('docker: { registryCredentials: "user:pass" }\n')).toMatch(/^agent\.yml:1:32: docker\.registryCredentials: must be a variable or secret name/);
    expect(err('etcd:\n  endpoints: []\n')).toMatch(/^agent\.yml:2:14: etcd\.endpoints: list at least one endpoint/);
    expect(err('nope: 1\n')).toMatch(/^agent\.yml:1:1: nope: unknown field/);
  });

  it('merges --capability and --service into the file', () => {
    const c = resolveConfig({ url: 'http://m:1', token: 't', name: 'a', environment: 'ci', capabilities: ['docker'], services: ['disk-space'] });
    expect(c.file.capabilities.declare).toEqual(['docker']);
    expect(c.file.services).toEqual({ 'disk-space': {} });
    expect(() => resolveConfig({ url: 'http://m:1', token: 't', name: 'a', environment: 'ci', configFile: '/nonexistent/agent.yml' })).toThrow(/\/nonexistent\/agent\.yml: cannot read/);
  });

  it('probes declare, and report a capability without a probe as missing', async () => {
    const file = parseAgentFile('docker: { socket: /nonexistent/docker.sock }\ncapabilities: { declare: [gpu] }\n', 'a.yml');
    const caps = await probeCapabilities(['tpu'], file);
    const by = new Map(caps.map((c) => [c.name, c]));
    expect(by.get('gpu')).toEqual({ name: 'gpu', ok: true, detail: 'declared in the agent config file' });
    expect(by.get('docker')).toMatchObject({ ok: false, detail: expect.stringMatching(/not reachable at \/nonexistent\/docker\.sock/) });
    expect(by.get('etcd')).toMatchObject({ ok: false, detail: expect.stringMatching(/no etcd endpoints configured/) });
    expect(by.get('tpu')).toMatchObject({ ok: false, detail: expect.stringMatching(/no probe/) });
  });
});

describe('JUnit parser', () => {
  it('counts cases of nested suites and cases directly under <testsuites> (node --test)', () => {
    const r = parseJunit(`<?xml version="1.0"?>
<testsuites>
  <testcase name="top" time="0.5" classname="test"/>
  <testsuite name="outer" tests="9" failures="9">
    <testsuite name="inner">
      <testcase name="a" classname="x" time="0.001"><failure message="expected 1 &lt; 2" type="AssertionError">stack
line</failure></testcase>
      <testcase name="b"><error>boom</error></testcase>
      <testcase name="c"><skipped message="todo"/></testcase>
    </testsuite>
  </testsuite>
</testsuites>`);
    expect(r).toMatchObject({ tests: 4, failures: 1, errors: 1, skipped: 1, durationMs: 501 });
    expect(r.cases[0]).toMatchObject({ suite: '', name: 'top', status: 'passed', durationMs: 500 });
    expect(r.cases[1]).toMatchObject({ suite: 'inner', classname: 'x', status: 'failed', message: 'expected 1 < 2', details: 'stack\nline' });
    expect(r.cases[2]).toMatchObject({ status: 'error', message: 'boom', durationMs: null });
    expect(r.cases[3]).toMatchObject({ status: 'skipped', message: 'todo' });
  });

  it('accepts a single <testsuite> root and refuses what is not JUnit, with a clear message', () => {
    expect(parseJunit('<testsuite name="s"><testcase name="t"/></testsuite>').tests).toBe(1);
    expect(() => parseJunit('<testsuites><testcase></testsuites>')).toThrow(/not well-formed XML: .*line 1/);
    expect(() => parseJunit('<html/>')).toThrow(/root element is <html>, expected <testsuites> or <testsuite>/);
    expect(() => parseJunit('')).toThrow(/not a JUnit report|not well-formed/);
  });
});

describe('executor settings', () => {
  it('refuses settings for a kind the agent has not, and for an executor that takes none, naming file and field', async () => {
    const { builtinExecutors, executorSettings } = await import('../../agent/executors/registry');
    expect(() => executorSettings(builtinExecutors(), { lint: {} }, 'agent.yml')).toThrow(/^agent\.yml: executors\.lint: no step executor of that kind on this agent \(has: shell, checkout, image, deploy, scan\)/);
    expect(() => executorSettings(builtinExecutors(), { shell: { x: 1 } }, 'agent.yml')).toThrow('agent.yml: executors.shell.x: the shell executor takes no settings');
    expect(executorSettings(builtinExecutors(), { shell: {} }, 'agent.yml')).toEqual({});
  });
});

describe('report parse pool', () => {
  it('parses like the parser, passes format errors through, and falls back to this thread without a worker', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createReportParsePool } = await import('../../master/reports/parse-pool');
    const { reportParsers, ReportFormatError } = await import('../../master/reports');
    const dir = mkdtempSync(join(tmpdir(), 'slipway-pool-'));
    writeFileSync(join(dir, 'ok.xml'), '<testsuites><testcase name="a"/><testcase name="b"><failure message="x"/></testcase></testsuites>');
    writeFileSync(join(dir, 'bad.xml'), '<html/>');
    const reasons: string[] = [];
    // Under vitest the worker cannot load TypeScript: the pool says so once and parses here.
    for (const pool of [createReportParsePool(reportParsers(), { onFallback: (r) => reasons.push(r) }), createReportParsePool(reportParsers(), { useWorker: false })]) {
      expect(await pool.parse('junit', join(dir, 'ok.xml'))).toMatchObject({ tests: 2, failures: 1 });
      await expect(pool.parse('junit', join(dir, 'bad.xml'))).rejects.toBeInstanceOf(ReportFormatError);
      await pool.close();
    }
    expect(reasons.length).toBeLessThanOrEqual(1);
  });
});
