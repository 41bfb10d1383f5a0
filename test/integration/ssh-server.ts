/**
 * A real OpenSSH server on loopback for the SSH host key tests: `/usr/sbin/sshd -D` on a free port with
 * its own ed25519 host key and config in a temp dir, letting the current user (root in CI) log in with a
 * generated key only, so that git over ssh://<user>@127.0.0.1:<port>/<abs path> serves the test's
 * repositories through the user's git-upload-pack. Needs the openssh-server package (scripts/test.sh
 * installs it); SSHD_PATH tells whether it is there.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD_PATH = '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  /** The server's host key as a known_hosts line, as `ssh-keyscan -p PORT 127.0.0.1` prints it. */
  hostLine: string;
  /** A known_hosts line for the same host with another key: what a man in the middle would look like. */
  wrongHostLine: string;
  /** Private key (OpenSSH format) the server accepts for the current user. */
  userKey: string;
  /** ssh:// URL of an absolute path on this machine. */
  url(path: string): string;
  stop(): Promise<void>;
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'slipway-test', '-f', file], { stdio: 'ignore' });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts sshd; throws with its output when it does not listen within 10 s. */
export async function startSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-sshd-'));
  keygen(join(dir, 'host'));
  keygen(join(dir, 'other-host'));
  keygen(join(dir, 'user'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user.pub')));
  // sshd refuses to start without its privilege separation directory.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `HostKey ${join(dir, 'host')}`,
      'ListenAddress 127.0.0.1',
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      // The key files live in a temp dir, not in a home the strict mode checks would accept.
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // git asks for protocol v2 through this variable.
      'AcceptEnv GIT_PROTOCOL',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const proc: ChildProcess = spawn(SSHD_PATH, ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  proc.stderr!.on('data', (b: Buffer) => (output += b.toString('utf8')));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`sshd did not start on 127.0.0.1:${port}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const keyOf = (file: string) => readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const user = userInfo().username;
  return {
    port,
    hostLine: `[127.0.0.1]:${port} ${keyOf(join(dir, 'host'))}`,
    wrongHostLine: `[127.0.0.1]:${port} ${keyOf(join(dir, 'other-host'))}`,
    userKey: readFileSync(join(dir, 'user'), 'utf8'),
    url: (path) => `ssh://${user}@127.0.0.1:${port}${path}`,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Repositories served over ssh are plain test repositories. */
export { git, TestRepo as SshTestRepo } from '../helpers/git';

export const sshdAvailable = existsSync(SSHD_PATH);
