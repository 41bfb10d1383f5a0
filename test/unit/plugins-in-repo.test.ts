/**
 * The plugins shipped in plugins/ against the protocol policy (README, Plugins): a plugin's `protocol` range
 * is `>=N` with N the first agent protocol that has everything it uses (11: step kinds; 12: scanners,
 * notifiers, report formats) and no upper bound, because a protocol bump changes the master <-> agent wire,
 * not the plugin contract. So every in-repo plugin is accepted by the current PROTOCOL_VERSION (the next bump
 * cannot silently strand one) and by no agent protocol that lacks its features. A bump that does change the
 * plugin contract must give the affected plugins an upper bound and change this test with it.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_AGENT_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../../shared/protocol';
import { manifestFromFiles, protocolProblem, type PluginManifest } from '../../shared/plugins/manifest';
import { parseProtocolRange, protocolInRange } from '../../shared/plugins/protocol-range';

const PLUGINS = join(import.meta.dirname, '..', '..', 'plugins');

function manifestOf(dir: string): PluginManifest {
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  return manifestFromFiles({ 'slipway-plugin.json': read('slipway-plugin.json'), 'package.json': read('package.json') });
}

/** The first protocol that has every feature the manifest uses. */
function needs(m: PluginManifest): number {
  const p = m.provides;
  return (p.scanners?.length ?? 0) + (p.notifiers?.length ?? 0) + (p.reportFormats?.length ?? 0) > 0 ? 12 : 11;
}

const dirs = readdirSync(PLUGINS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

describe('in-repo plugins and the protocol', () => {
  it('finds the plugins', () => {
    expect(dirs).toEqual(expect.arrayContaining(['dockerfile-lint', 'eslint-sarif', 'mattermost-notify', 'shellcheck-sarif', 'tap-junit']));
  });

  for (const dir of dirs) {
    it(`${dir}: accepted by the current protocol ${PROTOCOL_VERSION}, no upper bound, no earlier protocol than its features need`, () => {
      const m = manifestOf(join(PLUGINS, dir));
      expect(protocolProblem(m, PROTOCOL_VERSION, 'the master')).toBeUndefined();
      const sets = parseProtocolRange(m.protocol);
      if (typeof sets === 'string') throw new Error(sets);
      expect(sets.flat().filter((c) => c.op !== '>=' && c.op !== '>'), `${dir}: protocol '${m.protocol}' has an upper bound`).toEqual([]);
      expect(m.protocol).toBe(`>=${needs(m)}`);
      // Far future protocols too, and no protocol that lacks what it uses.
      expect(protocolInRange(m.protocol, PROTOCOL_VERSION + 100)).toBe(true);
      expect(protocolInRange(m.protocol, needs(m) - 1)).toBe(false);
      // The oldest agents the master accepts run it when they have its features.
      expect(protocolInRange(m.protocol, MIN_AGENT_PROTOCOL_VERSION)).toBe(MIN_AGENT_PROTOCOL_VERSION >= needs(m));
    });
  }
});
