/**
 * CLI output into a pipe whose reader goes away early (`slipway builds J | head -1`): the command stops
 * quietly, with no EPIPE stack trace, and a build's long parameter values are shown cut short.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/process';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { runCli } from '../helpers/cli';

const suffix = Math.random().toString(36).slice(2, 8);
const job = `pipe-${suffix}`;
let master: TestMaster;
let env: Record<string, string>;

/** Runs `slipway ARGS | READER` in bash with pipefail; returns the pipeline's exit code and the CLI's stderr. */
function piped(args: string[], reader: string): Promise<{ code: number | null; stderr: string }> {
  const quoted = [process.execPath, '--import', 'tsx', CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${quoted} | ${reader} >/dev/null`], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

beforeAll(async () => {
  master = await startMaster();
  env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: `/nonexistent-${suffix}/config.json` };
  await master.api.createTeam(`cli-out-${suffix}`);
  await master.api.applyJob(
    `name: ${job}\nteam: cli-out-${suffix}\nparams:\n  - name: NOTE\n    default: x\nstages:\n  - name: build\n    environment: nowhere\n    steps:\n      - sh: echo hi\n`,
  );
  // No agent serves 'nowhere': the builds stay queued, which is all a listing needs.
  for (let i = 0; i < 40; i++) await master.api.trigger(job, { params: { NOTE: `note ${i} ${'y'.repeat(i === 0 ? 4000 : 1)}` } });
});

afterAll(async () => {
  await master?.stop();
});

describe('CLI output', () => {
  it('stops quietly when the reader of its output has gone (EPIPE), for tables and JSON alike', async () => {
    for (const [args, reader] of [
      [['builds', job], 'true'],
      [['builds', job, '--json'], 'true'],
      [['builds', job], 'head -1'],
      [['jobs'], 'true'],
    ] as const) {
      const r = await piped([...args], reader);
      expect({ args, stderr: r.stderr }).toEqual({ args, stderr: '' });
      expect(r.code).toBe(0);
    }
  });

  it('shows a long parameter value cut short in `slipway build`', async () => {
    const first = (await master.api.listBuilds(job, { limit: 500 })).at(-1)!;
    const r = await runCli(['build', String(first.id)], { env });
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.includes('params'))!;
    expect(line.length).toBeLessThan(200);
    expect(line).toMatch(/NOTE=note 0 y+\.\.\. \(4007 bytes\)/);
  });
});
