/** The demo job as `npm run up` serves it: loaded from jobs/, built on a ci agent, deployed by a pre agent. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { REPO_ROOT } from '../helpers/process';

let master: TestMaster;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-demo-'));
  master = await startMaster({ jobsDir: join(REPO_ROOT, 'jobs') });
  await startAgent(master, { environment: 'ci' });
  await startAgent(master, { environment: 'pre' });
});

afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('trigger demo --follow builds on ci, deploys the same artifact on pre and exits 0', async () => {
  const env = { SLIPWAY_CONFIG: join(dir, 'none.json'), SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };
  const r = await runCli(['trigger', 'demo', '-p', 'GREETING=bonjour', '--follow'], { env });
  expect(r.stdout).toContain('compiling demo-app (greeting: bonjour)');
  expect(r.stdout).toContain('ok 1 - greeting is right');
  expect(r.stdout).toContain('dist/app.sh: OK');
  expect(r.stdout).toMatch(/deployed demo-app to pre:\nbonjour from demo-app/);
  expect(r.code).toBe(0);
  const build = (await master.api.listBuilds('demo'))[0];
  expect(build.status).toBe('success');
  const artifacts = await master.api.listArtifacts(build.id);
  expect(artifacts.map((a) => a.path).sort()).toEqual(['dist/app.sh', 'dist/app.sha256']);
});
