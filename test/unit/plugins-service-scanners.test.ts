/**
 * The master's plugin service (real SQLite) with scanner plugins: eslint and shellcheck were built-in
 * scanners before they became plugins, so a job or build stored with `tools: [eslint]` still reads while no
 * plugin provides it (its stage needs the scanner and waits, naming the plugin), and apply refuses it; once
 * plugins/eslint-sarif is installed its scanner is the plugin's, and disabling it refuses it by name.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PluginService } from '../../master/plugins/service';
import { openDb } from '../../master/store/db';
import { parseJobYaml } from '../../shared/job';

const dir = mkdtempSync(join(tmpdir(), 'slipway-plugin-service-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const job = `name: j\nteam: t\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - scan: { tools: [secrets, eslint] }\n`;
const pack = (src: string) => {
  const out = join(dir, 'p.tgz');
  execFileSync('tar', ['-czf', out, '-C', src, '--transform', 's,^\\.,package,', '.']);
  return readFileSync(out);
};

describe('plugin service scanners', () => {
  it('reads stored jobs that list a former built-in scanner, refuses it at apply, and hands it to the plugin once installed', async () => {
    const service = new PluginService(openDb(join(dir, 'data')), join(dir, 'data'));
    const missing = "no enabled plugin provides scanner 'eslint' (known: dockerfile, secrets); the plugin 'eslint-sarif' provides it (slipway plugin install plugins/eslint-sarif)";
    expect(parseJobYaml(job, 'stored', service.allKinds()).stages[0].scanners).toEqual(['eslint']);
    expect(service.enabledScanners().refusal('eslint')).toBe(missing);
    expect(() => parseJobYaml(job, 'j.yml', service.enabledKinds())).toThrow(`j.yml:7:34: stages[0].steps[0].scan.tools[1]: ${missing}`);

    const installed = await service.install(pack(join(import.meta.dirname, '..', '..', 'plugins', 'eslint-sarif')), 'admin');
    expect(installed).toMatchObject({ result: 'installed', plugin: { name: 'eslint-sarif', version: '1.0.0' } });
    expect(parseJobYaml(job, 'j.yml', service.enabledKinds()).stages[0].scanners).toEqual(['eslint']);
    expect(service.allKinds().get('scan')).not.toBe(undefined);
    // Another plugin may not take the scanner over, nor a built-in one.
    const other = join(dir, 'other');
    cpSync(join(import.meta.dirname, '..', '..', 'plugins', 'eslint-sarif'), other, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(other, 'package.json'), 'utf8')) as { name: string; slipway: { provides: { scanners: { kind: string }[] } } };
    writeFileSync(join(other, 'package.json'), JSON.stringify({ ...pkg, name: 'other-eslint' }));
    await expect(service.install(pack(other), 'admin')).rejects.toThrow("plugin other-eslint: scanner 'eslint' is provided by plugin 'eslint-sarif'");
    pkg.slipway.provides.scanners[0].kind = 'secrets';
    writeFileSync(join(other, 'package.json'), JSON.stringify({ ...pkg, name: 'other-eslint' }));
    await expect(service.install(pack(other), 'admin')).rejects.toThrow("plugin other-eslint: scanner 'secrets' is built in");

    service.setEnabled('eslint-sarif', false);
    expect(() => parseJobYaml(job, 'j.yml', service.enabledKinds())).toThrow("scanner 'eslint' is provided by plugin 'eslint-sarif', which is disabled (slipway plugin enable eslint-sarif)");
    expect(parseJobYaml(job, 'stored', service.allKinds()).stages[0].scanners).toEqual(['eslint']);
  });
});
