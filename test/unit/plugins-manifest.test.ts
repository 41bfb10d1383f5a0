/**
 * Plugin manifests, protocol ranges, plugin step kinds in job validation, the tarball checks and which
 * executors the scheduler counts: the pure parts of the plugin mechanism (the flow is test/integration/plugins.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveExecutors } from '../../master/plugins/agent-plugins';
import { builtinScannerKinds, builtinStepKinds, parseJobYaml } from '../../shared/job';
import { manifestFromFiles, parseManifest, protocolProblem } from '../../shared/plugins/manifest';
import { parseProtocolRange, protocolInRange } from '../../shared/plugins/protocol-range';
import { pluginNotifierKinds, pluginScannerKinds, pluginStepKinds } from '../../shared/plugins/step-kind';
import { agentMatches } from '../../master/engine/scheduler/plan';
import { waitingReason } from '../../master/engine/scheduler/waiting';
import { checkTarball } from '../../shared/node/tarball';

const manifest = (over: Record<string, unknown> = {}) => ({
  name: 'lint',
  version: '1.2.3',
  protocol: '>=10 <12',
  entry: { agent: 'agent.mjs' },
  provides: { stepKinds: [{ kind: 'lint', config: { type: 'object', additionalProperties: false, properties: { level: { enum: ['low', 'high'] }, paths: { type: 'array', items: { type: 'string' } } } }, outputs: { count: 'number' } }] },
  ...over,
});

describe('protocol ranges', () => {
  it('accepts integer comparators, all of a set, any set', () => {
    expect(protocolInRange('>=10 <12', 11)).toBe(true);
    expect(protocolInRange('>=10 <12', 12)).toBe(false);
    expect(protocolInRange('11', 11)).toBe(true);
    expect(protocolInRange('=11', 10)).toBe(false);
    expect(protocolInRange('<=9 || >=11', 10)).toBe(false);
    expect(protocolInRange('<=9 || >=11', 12)).toBe(true);
    expect(protocolInRange('>10', 10)).toBe(false);
  });
  it('names what is not a comparator', () => {
    expect(parseProtocolRange('>=10 <1x')).toBe(`'<1x' in '>=10 <1x' is not a comparator (>=N, >N, <=N, <N, =N or N with N an integer protocol version)`);
    expect(parseProtocolRange('|| 10')).toMatch(/is not a protocol range/);
    expect(protocolInRange('^1.0', 1)).toBe(false);
  });
});

describe('manifests', () => {
  it('names the file and every bad field', () => {
    expect(() => parseManifest(manifest({ name: 'Bad', protocol: 'x', entry: { agent: '../agent.mjs' } }), 'slipway-plugin.json')).toThrow(
      [
        'slipway-plugin.json: name: plugin names are lower-case letters, digits and -, starting with a letter (max 63)',
        `slipway-plugin.json: protocol: 'x' in 'x' is not a comparator (>=N, >N, <=N, <N, =N or N with N an integer protocol version)`,
        'slipway-plugin.json: entry.agent: entry.agent must be a relative path inside the package',
      ].join('\n'),
    );
  });
  it('refuses kinds declared twice, an unusable config schema and a report format named like a built-in one', () => {
    const m = manifest();
    const k = (m.provides as { stepKinds: Record<string, unknown>[] }).stepKinds[0];
    const bad = { ...m, provides: { stepKinds: [k, { ...k, config: { type: 'object', properties: { x: { type: 'nope' } } } }], reportFormats: [{ name: 'junit', to: 'junit' }] } };
    const err = (() => {
      try {
        parseManifest(bad, 'package.json');
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toContain("package.json: provides.stepKinds[1].kind: step kind 'lint' is declared twice");
    expect(err).toContain('package.json: provides.stepKinds[1].config: not a usable JSON Schema');
    expect(err).toContain("package.json: provides.reportFormats[0].name: report format 'junit' is built in");
  });
  it('reads slipway-plugin.json first, else package.json with its name and version', () => {
    const { name, version, ...slipway } = manifest();
    const pkg = JSON.stringify({ name, version, slipway });
    expect(manifestFromFiles({ 'package.json': pkg })).toMatchObject({ name: 'lint', version: '1.2.3' });
    expect(manifestFromFiles({ 'slipway-plugin.json': JSON.stringify(manifest({ version: '2.0.0' })), 'package.json': pkg }).version).toBe('2.0.0');
    expect(() => manifestFromFiles({ 'package.json': JSON.stringify({ name }) })).toThrow(/^package\.json: slipway: missing/);
    expect(() => manifestFromFiles({})).toThrow(/^no manifest/);
    expect(() => manifestFromFiles({ 'slipway-plugin.json': '{' })).toThrow(/^slipway-plugin\.json: not valid JSON/);
  });
  it('says when the protocol range excludes a version', () => {
    const m = parseManifest(manifest(), 'm');
    expect(protocolProblem(m, 11, 'this master')).toBeUndefined();
    expect(protocolProblem(m, 12, 'this agent')).toBe("plugin lint@1.2.3: protocol: '>=10 <12' does not include this agent's protocol version 12");
  });
});

describe('plugin step kinds in job files', () => {
  const kinds = builtinStepKinds();
  for (const d of pluginStepKinds(parseManifest(manifest(), 'm'))) kinds.register(d);
  const job = (step: string) => `name: j\nteam: t\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - ${step}\n`;

  it('validates with the manifest JSON Schema, errors at file:line:col', () => {
    expect(parseJobYaml(job('lint: { level: high }'), 'j.yml', kinds).stages[0].steps[0]).toMatchObject({ kind: 'lint', config: { level: 'high' } });
    expect(parseJobYaml(job('lint:'), 'j.yml', kinds).stages[0].steps[0].config).toEqual({});
    expect(() => parseJobYaml(job('lint: { level: medium }'), 'j.yml', kinds)).toThrow(/^j\.yml:7:24: stages\[0\]\.steps\[0\]\.lint\.level: /);
    expect(() => parseJobYaml(job('lint: { paths: [1] }'), 'j.yml', kinds)).toThrow(/^j\.yml:7:25: stages\[0\]\.steps\[0\]\.lint\.paths\[0\]: /);
  });
  it('exports the manifest schema as the editor schema, and refuses a disabled kind with the reason', () => {
    expect(kinds.jsonSchema().lint).toEqual(manifest().provides.stepKinds[0].config);
    const off = builtinStepKinds().refuse('lint', "step kind 'lint' is provided by plugin 'lint', which is disabled");
    expect(() => parseJobYaml(job('lint: {}'), 'j.yml', off)).toThrow("j.yml:7:15: stages[0].steps[0].lint: step kind 'lint' is provided by plugin 'lint', which is disabled");
  });
  it('checks outputs against the declared types', () => {
    const def = kinds.get('lint')!;
    expect(def.outputs.safeParse({ count: 3 }).success).toBe(true);
    expect(def.outputs.safeParse({ count: 'three' }).success).toBe(false);
    expect(def.outputs.safeParse({ other: 1 }).success).toBe(false);
  });
});

describe('plugin scanners', () => {
  const scannerManifest = (over: Record<string, unknown> = {}) =>
    manifest({
      name: 'sc',
      provides: { scanners: [{ kind: 'tslint', config: { type: 'object', additionalProperties: false, properties: { strict: { type: 'boolean' } } } }], ...over },
    });
  const job = (step: string) => `name: j\nteam: t\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - ${step}\n`;
  const scanners = builtinScannerKinds();
  for (const d of pluginScannerKinds(parseManifest(scannerManifest(), 'm'))) scanners.register(d);
  const kinds = builtinStepKinds(scanners);

  it('reads a manifest with scanners only, refusing one with neither kinds nor scanners and scanners declared twice', () => {
    expect(parseManifest(scannerManifest(), 'm').provides).toMatchObject({ stepKinds: [], scanners: [{ kind: 'tslint' }] });
    expect(() => parseManifest(manifest({ provides: {} }), 'package.json')).toThrow('package.json: provides.stepKinds: a plugin provides at least one step kind, scanner, notifier or report format');
    const twice = { scanners: [{ kind: 'tslint' }, { kind: 'tslint', config: { type: 'string' } }] };
    const err = (() => {
      try {
        parseManifest(scannerManifest(twice), 'package.json');
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toContain("package.json: provides.scanners[1].kind: scanner 'tslint' is declared twice");
    expect(err).toContain('package.json: provides.scanners[1].config: the config JSON Schema must have "type": "object"');
  });

  it('validates a scan step\'s tools and their settings at file:line:col, and says which stage needs which plugin scanner', () => {
    const ok = parseJobYaml(job('scan: { tools: [secrets, tslint], config: { tslint: { strict: true } } }'), 'j.yml', kinds);
    expect(ok.stages[0].steps[0].config).toMatchObject({ tools: ['secrets', 'tslint'], config: { tslint: { strict: true } } });
    expect(ok.stages[0].scanners).toEqual(['tslint']);
    expect(parseJobYaml(job('scan: { tools: [secrets] }'), 'j.yml', kinds).stages[0].scanners).toEqual([]);
    expect(() => parseJobYaml(job('scan: { tools: [tslint], config: { tslint: { strict: 1 } } }'), 'j.yml', kinds)).toThrow(/^j\.yml:7:62: stages\[0\]\.steps\[0\]\.scan\.config\.tslint\.strict: /);
    expect(() => parseJobYaml(job('scan: { tools: [secrets], config: { tslint: {} } }'), 'j.yml', kinds)).toThrow(/stages\[0\]\.steps\[0\]\.scan\.config\.tslint: settings for 'tslint', which tools does not list/);
  });

  it('refuses a scanner no enabled plugin provides, naming the plugin that does when it is known', () => {
    expect(() => parseJobYaml(job('scan: { tools: [secrets, eslint] }'), 'j.yml')).toThrow(
      "j.yml:7:34: stages[0].steps[0].scan.tools[1]: no enabled plugin provides scanner 'eslint' (known: dockerfile, secrets); the plugin 'eslint-sarif' provides it (slipway plugin install plugins/eslint-sarif)",
    );
    expect(() => parseJobYaml(job('scan: { tools: [nope] }'), 'j.yml')).toThrow("j.yml:7:25: stages[0].steps[0].scan.tools[0]: unknown scanner 'nope' (known: dockerfile, secrets)");
    const off = builtinScannerKinds().refuse('tslint', "scanner 'tslint' is provided by plugin 'sc', which is disabled (slipway plugin enable sc)");
    expect(() => parseJobYaml(job('scan: { tools: [tslint] }'), 'j.yml', builtinStepKinds(off))).toThrow("j.yml:7:25: stages[0].steps[0].scan.tools[0]: scanner 'tslint' is provided by plugin 'sc', which is disabled (slipway plugin enable sc)");
  });

  it('places a stage only on an agent running its plugin scanners, and names the missing one while it waits', () => {
    const run = { environment: 'ci', labels: [], kinds: ['scan'], scanners: ['tslint'] };
    const agent = { agentId: 1, environment: 'ci', labels: [], kinds: ['scan'], capabilities: [], free: 1 };
    expect(agentMatches(run, { ...agent, scanners: ['secrets', 'tslint'] })).toBe(true);
    expect(agentMatches(run, { ...agent, scanners: ['secrets'] })).toBe(false);
    expect(agentMatches({ ...run, scanners: [] }, agent)).toBe(true);
    expect(waitingReason(run, [{ ...agent, scanners: ['secrets'] }], undefined, (s) => `scanner '${s}' is provided by plugin 'sc', which is disabled`)).toBe(
      "waiting: no agent of environment ci with scanner tslint (scanner 'tslint' is provided by plugin 'sc', which is disabled)",
    );
  });
});

describe('plugin notifiers', () => {
  const notifierManifest = () =>
    manifest({
      name: 'chat',
      entry: { master: 'master.mjs' },
      provides: { notifiers: [{ kind: 'chat', secrets: ['url'], config: { type: 'object', additionalProperties: false, required: ['url'], properties: { url: { type: 'string' }, room: { type: 'string', minLength: 1 } } } }] },
    });
  const job = (channel: string) => `name: j\nteam: t\nnotify:\n  - ${channel}\nstages:\n  - name: s\n    environment: ci\n    steps: [ { sh: 'true' } ]\n`;
  const kinds = builtinStepKinds();
  for (const d of pluginNotifierKinds(parseManifest(notifierManifest(), 'm'))) kinds.notifiers.register(d);

  it('needs entry.master for notifiers and entry.agent for step kinds', () => {
    expect(() => parseManifest({ ...notifierManifest(), entry: { agent: 'a.mjs' } }, 'm')).toThrow('m: entry.master: a plugin with notifiers needs entry.master');
    expect(() => parseManifest({ ...manifest(), entry: { master: 'm.mjs' } }, 'm')).toThrow('m: entry.agent: a plugin with step kinds, scanners or report formats needs entry.agent');
  });

  it('validates a plugin channel at file:line:col and normalises it; built-in channels keep their own errors', () => {
    expect(parseJobYaml(job('chat: { url: CHAT_HOOK, room: ci }'), 'j.yml', kinds).notify).toEqual([{ notifier: 'chat', config: { url: 'CHAT_HOOK', room: 'ci' }, on: ['failure', 'fixed'] }]);
    expect(() => parseJobYaml(job('chat: { url: CHAT_HOOK, room: "" }'), 'j.yml', kinds)).toThrow(/^j\.yml:4:35: notify\[0\]\.chat\.room: /);
    expect(() => parseJobYaml(job('chat: { url: "https://x/y" }'), 'j.yml', kinds)).toThrow('j.yml:4:18: notify[0].chat.url: the name of a team secret (the value is a credential: keep it in a secret)');
    expect(() => parseJobYaml(job('chat: { url: X }'), 'j.yml')).toThrow("j.yml:4:11: notify[0].chat: unknown notification channel 'chat' (known: webhook, slack, dingtalk, feishu, email; plugins add more)");
    expect(() => parseJobYaml(job('webhook: not-a-url'), 'j.yml', kinds)).toThrow('j.yml:4:14: notify[0].webhook: Invalid URL');
    const off = builtinStepKinds();
    off.notifiers.refuse('chat', "notifier 'chat' is provided by plugin 'chat', which is disabled");
    expect(() => parseJobYaml(job('chat: { url: X }'), 'j.yml', off)).toThrow("j.yml:4:11: notify[0].chat: notifier 'chat' is provided by plugin 'chat', which is disabled");
  });
});

describe('executors the scheduler counts', () => {
  it('counts a plugin kind or scanner only at the version the master names', () => {
    const reported = [
      { kind: 'shell', version: '1.1.0', plugin: 'builtin' },
      { kind: 'lint', version: '1.0.0', plugin: 'lint' },
      { kind: 'old', version: '1.0.0' },
      { kind: 'lint-scan', version: '1.0.0', plugin: 'lint', scanner: true },
    ];
    const ref = (version: string) => ({ name: 'lint', version, sha256: 'a'.repeat(64), bytes: 1 });
    expect(effectiveExecutors(reported, [ref('1.0.0')]).map((e) => e.kind)).toEqual(['shell', 'lint', 'old', 'lint-scan']);
    expect(effectiveExecutors(reported, [ref('1.1.0')]).map((e) => e.kind)).toEqual(['shell', 'old']);
    expect(effectiveExecutors(reported, []).map((e) => e.kind)).toEqual(['shell', 'old']);
  });
});

describe('package tarballs', () => {
  const root = mkdtempSync(join(tmpdir(), 'slipway-tarball-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const pack = (name: string, fill: (dir: string) => void, transform = 's,^\\.,package,') => {
    const dir = join(root, name);
    mkdirSync(dir);
    fill(dir);
    const tgz = join(root, `${name}.tgz`);
    execFileSync('tar', ['-czf', tgz, '-C', dir, '--transform', transform, '.']);
    return tgz;
  };

  it('accepts regular files under one top directory', async () => {
    expect(await checkTarball(pack('ok', (d) => writeFileSync(join(d, 'a.mjs'), 'x')))).toBe('package');
  });
  it('refuses links, names outside the top directory, and bytes that are no tarball', async () => {
    await expect(checkTarball(pack('link', (d) => symlinkSync('/etc/passwd', join(d, 'p'))))).rejects.toThrow("entry 'package/p' is a symbolic link");
    await expect(checkTarball(pack('flat', (d) => writeFileSync(join(d, 'a.mjs'), 'x'), 's,^\\./,,'))).rejects.toThrow(/outside the package's top directory/);
    writeFileSync(join(root, 'junk.tgz'), 'not a tarball');
    await expect(checkTarball(join(root, 'junk.tgz'))).rejects.toThrow(/^not a readable \.tgz/);
  });
});
