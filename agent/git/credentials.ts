/**
 * The environment every checkout git command runs with, built from scratch (nothing of the agent's own
 * environment, no user or system git config) plus the job's credentials:
 *  - HTTP(S) token: an `Authorization: Basic` extra header scoped to the repository's origin, passed through
 *    GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n: never on argv (visible in ps) nor in a
 *    .git/config on disk. User name `oauth2` for GitLab hosts, `x-access-token` otherwise (GitHub, Gitea).
 *  - SSH private key ("-----BEGIN ..."): a 0600 file in a private 0700 temp dir outside the workspace, used
 *    through GIT_SSH_COMMAND with IdentitiesOnly. cleanup() removes the dir (call it in a finally).
 * The temp dir is also git's HOME, so ssh's known_hosts and the like never land in the workspace.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GitEnvOptions {
  /** Repository URL (already checked with unsafeRepoUrl). */
  url: string;
  /** Value of the credentials secret, if any. */
  credential?: string;
  /** Extra `-c` style config entries (key, value), passed the same way as the credential. */
  config?: [string, string][];
}

export interface GitEnv {
  env: Record<string, string>;
  /** Removes the private temp dir (key file, HOME). Idempotent. */
  cleanup(): Promise<void>;
}

/** Transports git may use. file:// only when the job's repository itself is local (CVE-2022-39253: submodules must not read other local repositories). */
export function allowedProtocols(url: string): string {
  const local = url.startsWith('/') || url.startsWith('file:');
  return local ? 'file:git:http:https:ssh' : 'git:http:https:ssh';
}

function httpOrigin(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  const u = new URL(url);
  return `${u.protocol}//${u.host}/`;
}

export async function gitEnv(opts: GitEnvOptions): Promise<GitEnv> {
  const home = await mkdtemp(join(tmpdir(), 'slipway-git-'));
  await chmod(home, 0o700);
  const config: [string, string][] = [
    // Git refuses repositories owned by another user (the workspace belongs to the build user).
    ['safe.directory', '*'],
    ['advice.detachedHead', 'false'],
    ['core.askPass', ''],
    // Parallel checkout: writing the files is most of a warm checkout's time.
    ['checkout.workers', '0'],
    // A reused workspace's .git was writable by the previous build: none of its hooks or an fsmonitor may run.
    ['core.hooksPath', '/dev/null'],
    ['core.fsmonitor', 'false'],
    ...(opts.config ?? []),
  ];
  const env: Record<string, string> = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: allowedProtocols(opts.url),
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
  };
  const cred = opts.credential;
  if (cred) {
    if (cred.trimStart().startsWith('-----BEGIN')) {
      const keyFile = join(home, 'id');
      // A key without its final newline is refused by OpenSSH ("invalid format").
      await writeFile(keyFile, cred.endsWith('\n') ? cred : `${cred}\n`, { mode: 0o600 });
      env.GIT_SSH_COMMAND = `ssh -i ${keyFile} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`;
    } else {
      const origin = httpOrigin(opts.url);
      if (origin) {
        const user = /gitlab/i.test(new URL(opts.url).hostname) ? 'oauth2' : 'x-access-token';
        const basic = Buffer.from(`${user}:${cred}`).toString('base64');
        config.push([`http.${origin}.extraHeader`, `Authorization: Basic ${basic}`]);
      }
    }
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  let cleaned = false;
  return {
    env,
    cleanup: async () => {
      if (cleaned) return;
      cleaned = true;
      await rm(home, { recursive: true, force: true });
    },
  };
}
