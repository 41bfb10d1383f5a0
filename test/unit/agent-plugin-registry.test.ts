/** The agent's executor registry as plugins use it: built-ins as the 'builtin' plugin, whole-plugin registration, snapshots. */
import { describe, expect, it } from 'vitest';
import { builtinExecutors, ExecutorRegistry } from '../../agent/executors/registry';
import { defineExecutor } from '../../agent/executors/types';
import { pluginStepKinds } from '../../shared/plugins/step-kind';
import { parseManifest } from '../../shared/plugins/manifest';

const kinds = (version: string, ...names: string[]) =>
  pluginStepKinds(
    parseManifest(
      { name: 'p', version, protocol: '>=11', entry: { agent: 'a.mjs' }, provides: { stepKinds: names.map((kind) => ({ kind, config: { type: 'object' } })) } },
      'm',
    ),
  ).map((d) => defineExecutor(d, version, () => Promise.resolve({ status: 'success', exitCode: 0 })));

describe('executor registry with plugins', () => {
  it('lists the built-ins as the plugin builtin', () => {
    expect(builtinExecutors().list().map((e) => `${e.plugin}:${e.kind}${e.scanner ? ' (scanner)' : ''}`)).toEqual([
      'builtin:shell',
      'builtin:checkout',
      'builtin:image',
      'builtin:deploy',
      'builtin:scan',
      'builtin:secrets (scanner)',
      'builtin:dockerfile (scanner)',
    ]);
  });

  it('registers, snapshots and removes a plugin\'s scanners with its executors', () => {
    const scanner = (name: string) => ({ name, version: '2.0.0', run: () => Promise.reject(new Error('not run here')) });
    const r = builtinExecutors();
    r.registerPlugin({ name: 'lint-pack', version: '2.0.0', executors: [], scanners: [scanner('tslint')] });
    expect(r.list().find((e) => e.kind === 'tslint')).toEqual({ kind: 'tslint', version: '2.0.0', plugin: 'lint-pack', scanner: true });
    expect(() => r.registerPlugin({ name: 'other', version: '1.0.0', executors: [], scanners: [scanner('tslint')] })).toThrow("scanner 'tslint' is registered twice (plugin 'lint-pack' provides it)");
    expect(() => r.registerPlugin({ name: 'other', version: '1.0.0', executors: [], scanners: [scanner('secrets')] })).toThrow(/scanner 'secrets' is registered twice \(plugin 'builtin'/);
    const snap = r.snapshot();
    r.removePlugin('lint-pack');
    expect(r.scanner('tslint')).toBeUndefined();
    expect(snap.scanner('tslint')?.version).toBe('2.0.0');
    expect(r.scannerNames()).toEqual(['secrets', 'dockerfile']);
  });

  it('registers a plugin whole or not at all, naming the owner of a taken kind', () => {
    const r = builtinExecutors();
    expect(() => r.registerPlugin({ name: 'p', version: '1.0.0', executors: kinds('1.0.0', 'lint', 'shell') })).toThrow("step executor 'shell' is registered twice (plugin 'builtin' provides it)");
    expect(r.get('lint')).toBeUndefined();
  });

  it('replaces a plugin version; a snapshot taken before keeps the old executors', () => {
    const r = new ExecutorRegistry().registerPlugin({ name: 'p', version: '1.0.0', executors: kinds('1.0.0', 'lint') });
    const before = r.snapshot();
    r.removePlugin('p');
    r.registerPlugin({ name: 'p', version: '2.0.0', executors: kinds('2.0.0', 'lint') });
    expect(r.list()).toEqual([{ kind: 'lint', version: '2.0.0', plugin: 'p' }]);
    expect(before.list()).toEqual([{ kind: 'lint', version: '1.0.0', plugin: 'p' }]);
    r.removePlugin('p');
    expect(r.get('lint')).toBeUndefined();
  });
});
