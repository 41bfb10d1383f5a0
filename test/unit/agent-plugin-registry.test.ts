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
    expect(builtinExecutors().list().map((e) => `${e.plugin}:${e.kind}`)).toEqual(['builtin:shell', 'builtin:checkout', 'builtin:image', 'builtin:deploy', 'builtin:scan']);
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
