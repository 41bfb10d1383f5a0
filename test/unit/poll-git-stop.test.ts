/**
 * Master shutdown kills git processes still running (a fetch from a remote that never answers), so none
 * outlives the master. Runs in its own test file: stopAllGit() is process-wide and final.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { GitError, gitOk, stopAllGit } from '../../shared/node/git/run';

const sockets: Socket[] = [];
let server: Server;

afterAll(() => {
  for (const s of sockets) s.destroy();
  server?.close();
});

describe('stopAllGit', () => {
  it('kills a running git and refuses new ones', async () => {
    // A git:// server that accepts and never answers: ls-remote would wait for its 60 s timeout.
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const pending = gitOk('git ls-remote', ['ls-remote', `git://127.0.0.1:${port}/repo.git`], { env: { PATH: process.env.PATH, HOME: '/nonexistent' } });
    await new Promise<void>((resolve) => {
      const wait = () => (sockets.length ? resolve() : setTimeout(wait, 10));
      wait();
    });
    stopAllGit();
    const err = await pending.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as Error).message).toMatch(/git ls-remote failed \(the master is stopping\)/);
    await expect(gitOk('git --version', ['--version'], { env: { PATH: process.env.PATH } })).rejects.toThrow(/the master is stopping/);
  });
});
