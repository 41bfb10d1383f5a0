/**
 * Repository namespaces of a shared registry, with a real master, a real ci agent, the real Docker engine and
 * the real registry: a registry granted to two teams lets each team push only under its own prefix (default
 * TEAM/), checked when a job is saved (invalid_job naming file, line and field) and again when a stage is
 * dispatched (grants change after a save); listing shows a member only their teams' repositories; explicit
 * prefixes and `*`; a registry granted to one team stays unrestricted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../agent/docker/image-build';
import { pushImage } from '../../agent/docker/image-push';
import type { ApiClient } from '../../shared/client/api-client';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { busyboxContext, registryDigest, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let dir: string;
let memberA: ApiClient;
let memberB: ApiClient;
const ns = uniqueName('rns');
const teamA = `${ns}-a`;
const teamB = `${ns}-b`;
const reg = `${ns}-reg`;
const images: string[] = [];

/** A job of `team` whose image step pushes `name` (a dockerfile over team A's base image, pulled cross-team). */
const pushJob = (job: string, team: string, name: string, extra = '') => `name: ${job}
team: ${team}
stages:
  - name: build
    environment: ci
    steps:
      - compile: mkdir -p ctx && printf 'FROM ${env.registry}/${teamA}/base:1\\nCOPY hello.txt /hello.txt\\n' > ctx/Dockerfile && echo hi > ctx/hello.txt
      - image:
          name: ${name}
          dockerfile: Dockerfile
          context: ctx
          registry: ${reg}${extra}
`;

const finished = (api: ApiClient, id: number) =>
  waitFor('build ends', async () => {
    const b = await api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 120_000 });

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-rns-'));
  // Team A's base image in the shared registry; team B may pull it (only pushes are restricted).
  busyboxContext(join(dir, 'base'));
  const baseRef = `${env.registry}/${teamA}/base:1`;
  await buildImage(env.docker, { context: join(dir, 'base'), tags: [baseRef], log: () => undefined });
  images.push(baseRef);
  await pushImage(env.docker, baseRef, { log: () => undefined });
  master = await startMaster();
  await startAgent(master, { environment: 'ci' });
  for (const t of [teamA, teamB]) await master.api.createTeam(t);
  for (const [user, t] of [[`${ns}-alice`, teamA], [`${ns}-bob`, teamB]]) {
    await master.api.createUser({ username: user, password: 'member-password-1' });
    await master.api.setMember(t, user, 'maintainer');
  }
  memberA = await master.login(`${ns}-alice`, 'member-password-1');
  memberB = await master.login(`${ns}-bob`, 'member-password-1');
  // Shared by two teams, no prefixes given: each team gets its own name as the first path segment.
  const r = await master.api.putRegistry({ name: reg, url: env.registry, teams: [teamA, teamB] });
  expect(r.grants).toEqual([
    { team: teamA, prefixes: [`${teamA}/`] },
    { team: teamB, prefixes: [`${teamB}/`] },
  ]);
}, 180_000);

afterAll(async () => {
  await master?.stop();
  if (env) {
    const built = await env.docker.listImages({ filters: { reference: [`*/${ns}-*/*`] } });
    await removeImages(env.docker, [...images, ...built.flatMap((i) => i.RepoTags ?? [])]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a team pushes only to its own repositories of a shared registry', () => {
  it("refuses at save a job of team B that pushes under team A's prefix, naming file, line and field", async () => {
    const err = await memberB.applyJob(pushJob(`${ns}-hostile`, teamB, `${teamA}/base`)).catch((e) => e);
    expect(err.code).toBe('invalid_job');
    expect(err.message).toBe(
      `job.yml:9:17: stages[0].steps[1].image.name: team '${teamB}' may not push '${teamA}/base' to registry '${reg}': its repositories there are ${teamB}/ (an admin sets them with slipway registry add --prefixes; push: false builds without pushing)`,
    );
    expect(err.issues).toEqual([expect.objectContaining({ file: 'job.yml', line: 9, field: 'stages[0].steps[1].image.name' })]);
    expect((await memberB.listJobs()).map((j) => j.name)).not.toContain(`${ns}-hostile`);
    // A name that only starts with the other team's name is no way around it.
    await expect(memberB.applyJob(pushJob(`${ns}-hostile2`, teamB, `${teamB}x/web`))).rejects.toThrow(/may not push/);
    // The registry is named as written: an output reference could pick a registry the master never checked.
    const viaOutput = pushJob(`${ns}-hostile3`, teamB, `${teamA}/base`)
      .replace('      - image:', `      - id: pick\n        compile: { run: echo "reg=${reg}" >> "$SLIPWAY_OUTPUT", outputs: [reg] }\n      - image:`)
      .replace(`registry: ${reg}`, 'registry: ${{ steps.pick.outputs.reg }}');
    await expect(memberB.applyJob(viaOutput)).rejects.toThrow(/stages\[0\]\.steps\[2\]\.image\.registry: registry is the name of a registry granted to the team, written out/);
    // Moving team A's job to team B takes its pushes along: refused as if team B had saved it.
    await master.api.applyJob(pushJob(`${ns}-a-job`, teamA, `${teamA}/web`));
    const moved = await master.api.request('POST', `/api/v1/jobs/${ns}-a-job/move`, { team: teamB }).catch((e: Error) => e);
    expect((moved as Error).message).toMatch(new RegExp(`^job\\.yml:\\d+:\\d+: stages\\[0\\]\\.steps\\[1\\]\\.image\\.name: team '${teamB}' may not push '${teamA}/web'`));
    // Building without pushing is not restricted.
    await memberB.applyJob(pushJob(`${ns}-nopush`, teamB, `${teamA}/base`, '\n          push: false'));
  });

  it("pushes under the team's own prefix, pulling the other team's base image", async () => {
    await memberB.applyJob(pushJob(`${ns}-ok`, teamB, `${teamB}/web`));
    const b = await finished(memberB, (await memberB.trigger(`${ns}-ok`)).id);
    expect(b.status, JSON.stringify(b)).toBe('success');
    expect(await registryDigest(env.registry, `${teamB}/web`, 'b1')).toMatch(/^sha256:[0-9a-f]{64}$/);
  }, 180_000);

  it('fails the build at dispatch when the grant changed after the job was saved, pushing nothing', async () => {
    await master.api.putRegistry({ name: reg, url: env.registry, teams: [teamA, teamB], prefixes: { [teamB]: [`${teamB}/other/`] } });
    const b = await finished(memberB, (await memberB.trigger(`${ns}-ok`)).id);
    expect(b.status).toBe('failed');
    expect(b.error).toBe(
      `job.yml:9:17: stages[0].steps[1].image.name: team '${teamB}' may not push '${teamB}/web' to registry '${reg}': its repositories there are ${teamB}/other/ (an admin sets them with slipway registry add --prefixes; push: false builds without pushing)`,
    );
    expect(await registryDigest(env.registry, `${teamB}/web`, 'b2')).toBeNull();
    // The stage never reached an agent: no step ran.
    const detail = await memberB.getBuild(b.id);
    expect(JSON.stringify(detail)).not.toContain('"status":"success"');
  }, 180_000);

  it("lists to a member only the repositories under their teams' prefixes; admins see all", async () => {
    await master.api.putRegistry({ name: reg, url: env.registry, teams: [teamA, teamB] });
    const names = (list: { name: string }[]) => list.map((r) => r.name).filter((n) => n.startsWith(`${ns}-`));
    expect(names(await memberB.listRepositories(reg))).toEqual([`${teamB}/web`]);
    expect(names(await memberA.listRepositories(reg))).toEqual([`${teamA}/base`]);
    expect(names(await memberA.listRepositories(reg, `${teamB}/`))).toEqual([]);
    expect(names(await master.api.listRepositories(reg)).sort()).toEqual([`${teamA}/base`, `${teamB}/web`]);
    const cli = await runCli(['images', reg], { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: memberB.token!, SLIPWAY_CONFIG: join(dir, 'none.json') } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`${teamB}/web`);
    expect(cli.stdout).not.toContain(`${teamA}/base`);
  });

  it('takes explicit prefixes and * from the API and the CLI, and refuses a bad one naming it', async () => {
    const admin = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'none.json') };
    const add = await runCli(['registry', 'add', reg, '--url', env.registry, '--teams', `${teamA},${teamB}`, '--prefixes', `${teamA}=*,${teamB}=${teamB}/,${teamB}=shared/base`], { env: admin });
    expect(add.stderr).toBe('');
    expect(add.stdout).toBe(`registry ${reg} (${env.registry}) granted to ${teamA} (*), ${teamB} (${teamB}/ shared/base)\n`);
    expect((await memberB.listRegistries()).find((r) => r.name === reg)?.grants).toEqual([
      { team: teamA, prefixes: ['*'] },
      { team: teamB, prefixes: [`${teamB}/`, 'shared/base'] },
    ]);
    // `shared/base` is that repository and those below it, not every name that starts with it.
    await memberB.applyJob(pushJob(`${ns}-shared`, teamB, 'shared/base'));
    await memberB.applyJob(pushJob(`${ns}-shared`, teamB, 'shared/base/slim'));
    await expect(memberB.applyJob(pushJob(`${ns}-shared`, teamB, 'shared/basement'))).rejects.toThrow(/may not push 'shared\/basement'/);
    // `*`: team A may push anywhere, team B's namespace included.
    await memberA.applyJob(pushJob(`${ns}-anywhere`, teamA, `${teamB}/from-a`));
    // Team A with * sees every repository.
    expect((await memberA.listRepositories(reg)).map((r) => r.name)).toContain(`${teamB}/web`);

    await expect(master.api.putRegistry({ name: reg, url: env.registry, teams: [teamA, teamB], prefixes: { [teamB]: ['Shop/'] } })).rejects.toThrow(
      `prefixes: team '${teamB}': 'Shop/' is not a repository prefix`,
    );
    await expect(master.api.putRegistry({ name: reg, url: env.registry, teams: [teamA], prefixes: { [teamB]: ['x/'] } })).rejects.toThrow(
      `prefixes.${teamB}: '${teamB}' is not one of the teams the registry is granted to`,
    );
    const bad = await runCli(['registry', 'add', reg, '--url', env.registry, '--teams', teamA, '--prefixes', 'nonsense'], { env: admin });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--prefixes: 'nonsense' is not TEAM=PREFIX");
  });

  it('leaves a registry granted to one team unrestricted', async () => {
    const solo = `${ns}-solo`;
    const r = await master.api.putRegistry({ name: `${ns}-own`, url: env.registry, teams: [teamA] });
    expect(r.grants).toEqual([{ team: teamA, prefixes: ['*'] }]);
    await master.api.createTeam(solo);
    await master.api.putRegistry({ name: `${ns}-own`, url: env.registry, teams: [solo] });
    await master.api.applyJob(pushJob(`${ns}-solo-job`, solo, 'anything/at-all').replace(`registry: ${reg}`, `registry: ${ns}-own`));
  });
});
