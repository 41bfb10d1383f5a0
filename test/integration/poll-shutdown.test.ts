/**
 * A poll cut short by the master's shutdown, on a real master process with real git: the master's
 * stopAllGit() kills the poll's diff (the fetch of a job with path filters) before the store closes. The
 * poll must then leave the job's poll heads alone and build nothing, so that the next start polls the same
 * change again and decides it with a real diff (here: a docs-only push that the path filter ignores).
 *
 * Deterministic: a `git` wrapper first on the master's PATH blocks every fetch while a gate file is absent
 * and touches a marker file once it blocks, so the master is stopped exactly while the poll's fetch runs.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { gatedGitBin, git } from '../helpers/git';

let master: TestMaster;
let dir: string;
let work: string;
let gate: string;
let blocked: string;

function commit(file: string): string {
  mkdirSync(join(work, file, '..'), { recursive: true });
  writeFileSync(join(work, file), `${file}\n`);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', `add ${file}`);
  git(work, 'push', '-q', 'origin', 'main');
  return git(work, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-poll-stop-'));
  const bare = join(dir, 'web.git');
  work = join(dir, 'work');
  gate = join(dir, 'gate-open');
  blocked = join(dir, 'fetch-blocked');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  git(work, 'remote', 'add', 'origin', bare);
  const bin = gatedGitBin(dir, gate, blocked);
  writeFileSync(gate, '');
  commit('src/first.ts');
  master = await startMaster({ env: { PATH: `${bin}:${process.env.PATH}` } });
  await master.api.createTeam('pollstop');
  await master.api.applyJob(`name: poll-stop
team: pollstop
repo: { url: 'file://${bare}', branch: main }
triggers: { poll: '* * * * * *', push: { branches: [main], paths: ['src/**'] } }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`);
}, 60_000);

afterAll(async () => {
  // Open the gate so no git process of the master stays blocked on it.
  if (gate) writeFileSync(gate, '');
  await master?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * An API request whose body never finishes: the stopping master waits for it (closeServer's grace) between
 * stopAllGit() and closing the store, as it does for any client still busy at shutdown.
 */
async function holdRequest(): Promise<Socket> {
  const socket = connect(master.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  socket.write(`POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${master.api.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"yaml":`);
  return socket;
}

describe('a poll whose git the shutdown killed', () => {
  it('advances nothing and builds nothing; the next start decides the change with a real diff', async () => {
    await waitFor('the baseline poll', async () => (await master.api.listTriggers('poll-stop')).some((e) => /^first poll/.test(e.reason)));
    rmSync(gate);
    const docs = commit('docs/guide.md');
    await waitFor('the poll of the docs-only push blocked in its fetch', () => existsSync(blocked));

    const held = await holdRequest();
    await master.restart();
    held.destroy();
    writeFileSync(gate, '');

    const e = await waitFor('the poll decision for the docs-only push', async () =>
      (await master.api.listTriggers('poll-stop')).find((t) => t.sha === docs && t.outcome !== 'pending'),
    );
    expect(e).toMatchObject({ provider: 'poll', outcome: 'ignored', reason: 'no changed file matches triggers.push.paths (src/**)', buildId: null });
    expect((await master.api.listTriggers('poll-stop')).filter((t) => t.sha === docs)).toHaveLength(1);
    expect(await master.api.listBuilds('poll-stop')).toEqual([]);
  }, 90_000);
});
