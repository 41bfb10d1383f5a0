/**
 * A rotated team secret's old value stays masked in the log center across a master restart (regression: the
 * masker remembered old values only in memory, so after a restart a container still running with the old value
 * had it stored as is). Real master processes on one data dir, a real agent shipping a real container that keeps
 * printing the value it was started with, the real log center store and search.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAppLogs } from '../../shared/client/app-logs-client';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { buildLogImage, containerLogsConfig, runLabelled, storedEntries, type LabelledContainer } from '../helpers/logcenter';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let image: string;
const dir = mkdtempSync(join(tmpdir(), 'slipway-logrotate-'));
const ns = uniqueName('lrot');
const team = ns;
const environment = `${ns}-env`;
const app = `${ns}-web`;
// Values with words of their own, so a search for one would find it if it were stored.
const oldValue = `old${Math.random().toString(36).slice(2, 10)}Qx7`;
const newValue = `new${Math.random().toString(36).slice(2, 10)}Qx7`;
const containers: LabelledContainer[] = [];

/** A job that deploys the app with the secret (never run: the masker goes by the jobs that deploy an app). */
const jobYaml = `name: ${ns}-job
team: ${team}
secrets: [API_TOKEN]
stages:
  - name: deploy
    environment: ${environment}
    steps:
      - deploy: { app: ${app}, image: x, composeInline: "services: { web: { image: 'x' } }" }
`;

beforeAll(async () => {
  env = await requireDocker();
  image = await buildLogImage(env.docker, dir);
  master = await startMaster();
  await master.api.createTeam(team);
  await master.api.setSecret(team, 'API_TOKEN', oldValue);
  await master.api.applyJob(jobYaml);
}, 120_000);

afterAll(async () => {
  for (const c of containers) await c.container.remove({ force: true }).catch(() => undefined);
  await master?.stop();
  if (env) await removeImages(env.docker, [image]);
  rmSync(dir, { recursive: true, force: true });
});

const ticks = async () =>
  (await storedEntries(master.api, app))
    .map((e) => ({ text: e.text, n: Number(/^tick (\d+) /.exec(e.text)?.[1]) }))
    .filter((t) => t.n > 0)
    .sort((a, b) => a.n - b.n);

describe('a rotated secret in container logs', () => {
  it('keeps the old value masked after the master restarts', async () => {
    const config = containerLogsConfig(join(dir, 'cfg'), { spool: { dir: join(dir, 'spool') }, batch: { flushMs: 20 } });
    await startAgent(master, { environment, name: `${ns}-agent`, args: ['--config', config] });
    // The container was started with the old value and prints it until it is replaced (as a deployed app would).
    const c = await runLabelled(env.docker, image, {
      app,
      environment,
      name: `${app}-1`,
      script: `i=0; while true; do i=$((i+1)); echo "tick $i token=${oldValue} end"; sleep 0.2; done`,
    });
    containers.push(c);
    const stored = (after: number, what: string) =>
      waitFor(what, async () => ((await ticks()).filter((t) => t.n > after).length >= 3 ? ticks() : undefined), { timeoutMs: 30_000, intervalMs: 200 });

    const before = await stored(0, 'ticks stored with the old value current');
    expect(before.every((t) => t.text === `tick ${t.n} token=*** end`), JSON.stringify(before.slice(0, 3))).toBe(true);

    await master.api.setSecret(team, 'API_TOKEN', newValue);
    const rotated = await stored(before[before.length - 1].n, 'ticks stored after the rotation');
    const lastBeforeRestart = rotated[rotated.length - 1].n;

    await master.restart();
    const after = await stored(lastBeforeRestart + 2, 'ticks stored by the restarted master');
    const late = after.filter((t) => t.n > lastBeforeRestart);
    expect(late.length).toBeGreaterThanOrEqual(3);
    expect(late.filter((t) => t.text !== `tick ${t.n} token=*** end`).map((t) => t.text)).toEqual([]);
    expect(after.filter((t) => t.text.includes(oldValue)).map((t) => t.text)).toEqual([]);
    // Searched: the old value finds nothing; the masked lines are found by their words.
    expect((await searchAppLogs(master.api, { app, q: oldValue })).hits).toEqual([]);
    expect((await searchAppLogs(master.api, { app, q: 'token end' })).hits.length).toBeGreaterThan(0);
    // The old value is never handed out: the API lists names only, the master's log does not hold it.
    expect(JSON.stringify(await master.api.listSecrets(team))).not.toMatch(new RegExp(`${oldValue}|${newValue}`));
    expect(master.output()).not.toContain(oldValue);
  }, 120_000);
});
