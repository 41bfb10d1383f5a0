/**
 * The environment every git command of master and agent runs with (run.ts), built from scratch (nothing
 * of the process's own environment, no user or system git config) plus the job's credentials:
 *  - HTTP(S) token: an `Authorization: Basic` extra header scoped to the repository's origin, passed through
 *    GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n: never on argv (visible in ps) nor in a
 *    .git/config on disk. User name: the URL's own when it names one, else `oauth2` for GitLab hosts and
 *    `x-access-token` otherwise (GitHub, Gitea).
 *  - SSH private key ("-----BEGIN ..."): a 0600 file in a private 0700 temp dir outside the workspace, used
 *    with IdentitiesOnly. cleanup() removes the dir (call it in a finally).
 * SSH (the repository's, or a submodule's) always verifies host keys strictly: GIT_SSH_COMMAND runs the
 * wrapper of shared/ssh-host-keys.ts, which trusts only `knownHosts` (the job's repo.knownHosts) plus this
 * host's own known_hosts files, copied into a known_hosts file in the same private dir. An unknown or
 * changed key fails the git command with a message naming the host and the repo.knownHosts fix.
 * The temp dir is also git's HOME, so nothing of ssh or git lands in the workspace.
 * `secrets` lists the values to mask wherever git's output is shown (run.ts GitRun.secrets).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { hostKnownHostsFiles, shellQuote, sshWrapperScript } from '../../ssh-host-keys';

export interface GitEnvOptions {
  /** Repository URL (already checked with unsafeRepoUrl). */
  url: string;
  /** Value of the credentials secret, if any. */
  credential?: string;
  /** Extra `-c` style config entries (key, value), passed the same way as the credential. */
  config?: [string, string][];
  /** known_hosts lines trusted for SSH (source.knownHosts, from the job's repo.knownHosts). */
  knownHosts?: string;
  /**
   * This host's known_hosts files, trusted too (missing or unreadable ones are skipped). Default: OpenSSH's
   * global files and those of the agent's user (home from the password database, as ssh itself does).
   */
  hostKnownHostsFiles?: string[];
}

export interface GitEnv {
  env: Record<string, string>;
  /** Credential values (token, Basic header, key) to mask in git's output. */
  secrets: string[];
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
    // The wrapper is run through sh (a noexec /tmp cannot stop it), so git must be told it speaks OpenSSH's options.
    GIT_SSH_VARIANT: 'ssh',
  };
  const cred = opts.credential;
  const sshKey = cred?.trimStart().startsWith('-----BEGIN') ? cred : undefined;
  const keyFile = sshKey ? join(home, 'id') : undefined;
  // A key without its final newline is refused by OpenSSH ("invalid format").
  if (sshKey && keyFile) await writeFile(keyFile, sshKey.endsWith('\n') ? sshKey : `${sshKey}\n`, { mode: 0o600 });
  const knownHostsFile = join(home, 'known_hosts');
  await writeFile(knownHostsFile, await knownHostsText(opts), { mode: 0o600 });
  const wrapper = join(home, 'ssh');
  await writeFile(wrapper, sshWrapperScript({ dir: home, knownHostsFile, keyFile }), { mode: 0o600 });
  env.GIT_SSH_COMMAND = `sh ${shellQuote(wrapper)}`;
  const origin = cred && !sshKey ? httpOrigin(opts.url) : undefined;
  const secrets: string[] = cred ? [cred] : [];
  if (cred && origin) {
    const u = new URL(opts.url);
    const user = u.username ? decodeURIComponent(u.username) : /gitlab/i.test(u.hostname) ? 'oauth2' : 'x-access-token';
    const basic = Buffer.from(`${user}:${cred}`).toString('base64');
    config.push([`http.${origin}.extraHeader`, `Authorization: Basic ${basic}`]);
    secrets.push(basic);
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  let cleaned = false;
  return {
    env,
    secrets,
    cleanup: async () => {
      if (cleaned) return;
      cleaned = true;
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** The job's lines first, then this host's files: ssh accepts a host when any line's key matches. */
async function knownHostsText(opts: GitEnvOptions): Promise<string> {
  const files = opts.hostKnownHostsFiles ?? hostKnownHostsFiles(userInfo().homedir);
  const parts = [opts.knownHosts ?? ''];
  for (const f of files) parts.push(await readFile(f, 'utf8').catch(() => ''));
  return parts.map((p) => (p && !p.endsWith('\n') ? `${p}\n` : p)).join('');
}
