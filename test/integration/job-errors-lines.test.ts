/**
 * Errors raised after parsing, against a real master: a job with a `repo:` gets an implicit checkout step its
 * file does not show, yet the app-ownership refusal names the deploy step as written, at the line and column
 * of its `app`, through the API (save and move) and the CLI, like every other invalid_job error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { owner, withRepo } from '../helpers/app-owner-jobs';

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const games = `games-${suffix}`;
const dir = mkdtempSync(join(tmpdir(), 'slipway-job-lines-'));

const taken = (app: string, file = 'job.yml') => `${file}:14:16: stages[1].steps[1].deploy.app: app '${app}' is deployed by jobs of another team; choose another app name`;

async function failure(p: Promise<unknown>): Promise<SlipwayError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SlipwayError);
  return err as SlipwayError;
}

beforeAll(async () => {
  master = await startMaster();
  for (const t of [shop, games]) await master.api.createTeam(t);
  await master.api.applyJob(owner('web', shop, `web-${suffix}`));
}, 60_000);

afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('app-ownership errors name the step as written, with its line', () => {
  it('on save through the API and the CLI', async () => {
    const err = await failure(master.api.applyJob(withRepo('rival', games, `web-${suffix}`)));
    expect([err.code, err.message]).toEqual(['invalid_job', taken(`web-${suffix}`)]);

    const file = join(dir, 'rival.yml');
    writeFileSync(file, withRepo('rival', games, `web-${suffix}`));
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'none.json') };
    const cli = await runCli(['apply', '-f', file], { env });
    expect(cli.code).toBe(1);
    // The CLI sends the path it was given: the master names that file, not job.yml.
    expect(cli.stderr).toContain(taken(`web-${suffix}`, file));
  });

  it('on move to another team', async () => {
    await master.api.applyJob(owner('arcade', games, `arcade-${suffix}`));
    await master.api.applyJob(withRepo('arcade-2', games, `arcade-${suffix}`));
    const err = await failure(master.api.moveJob(`${games}/arcade-2`, shop));
    expect([err.code, err.message]).toEqual(['invalid_job', taken(`arcade-${suffix}`)]);
    expect(await master.api.getJob(`${games}/arcade-2`)).toMatchObject({ team: games });
  });
});
