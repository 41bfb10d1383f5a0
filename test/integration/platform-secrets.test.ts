/**
 * Team secrets end to end: stored encrypted, injected into the step's environment by name, and masked
 * in the stored log; the value is never returned by the API nor printed by the master.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const VALUE = 'pl4tform-secret-Value-77';

describe('team secrets in builds', () => {
  let master: TestMaster;
  beforeAll(async () => {
    master = await startMaster();
  });
  afterAll(async () => {
    await master?.stop();
  });

  it('injects the secret into the step and masks it in the log', async () => {
    await master.api.createTeam('vault');
    await master.api.setSecret('vault', 'API_KEY', VALUE);
    await startAgent(master, { environment: 'ci' });
    await master.api.applyJob(`name: uses-secret
team: vault
secrets: [API_KEY]
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'echo "key=$API_KEY"; echo "length=\${#API_KEY}"'
`);
    const build = await master.api.trigger('uses-secret');
    const done = await waitFor('build finished', async () => {
      const b = await master.api.getBuild(build.id);
      return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
    });
    expect(done.status).toBe('success');
    const log = await master.api.buildLog(build.id);
    expect(log).toContain('key=***');
    expect(log).toContain(`length=${VALUE.length}`);
    expect(log).not.toContain(VALUE);
    expect(JSON.stringify(await master.api.listSecrets('vault'))).not.toContain(VALUE);
    expect(master.output()).not.toContain(VALUE);
  });
});
