/**
 * Credentials for the master's git calls, given to git through its environment only: never in argv (every
 * user of the host can read it) and never in a config file.
 *  - HTTP(S) token: an `Authorization: Basic` header set with GIT_CONFIG_COUNT/KEY/VALUE for that origin
 *    only (`http.<origin>/.extraHeader`), so a redirect to another host does not receive it.
 *  - SSH private key (a value starting with "-----BEGIN"): ssh can only read a key from a file or an agent,
 *    so it is the one exception: a 0600 file in a private 0700 temp dir, removed by cleanup() right after the
 *    git call.
 * SSH URLs always verify the host key strictly (shared/ssh-host-keys.ts): GIT_SSH_COMMAND runs a wrapper
 * written in that same private dir, trusting only the job's repo.knownHosts lines plus the master host's
 * own known_hosts files (copied into one known_hosts file there), in batch mode (never prompts). An unknown
 * or changed key fails with git's last line naming the host and the repo.knownHosts fix.
 * Every call also gets GIT_TERMINAL_PROMPT=0 (a missing credential fails instead of waiting on a tty) and
 * GIT_ALLOW_PROTOCOL (no ext::/fd:: transports, even through submodules or redirects).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { hostKnownHostsFiles, isSshRepoUrl, shellQuote, sshWrapperScript } from '../../shared/ssh-host-keys';

export interface GitAuth {
  env: NodeJS.ProcessEnv;
  /** Values that must be masked wherever git output is logged. */
  secrets: string[];
  /** Removes what the credential needed on disk (SSH keys); idempotent. */
  cleanup(): void;
}

export interface GitAuthOptions {
  /** known_hosts lines trusted for SSH (the job's repo.knownHosts). */
  knownHosts?: string;
  /** This host's known_hosts files, trusted too; default OpenSSH's global ones and the master user's. */
  hostKnownHostsFiles?: string[];
}

/** The environment for one git call against `url`, with `credential` (a team secret value) when given. */
export function gitAuth(url: string, credential?: string, opts: GitAuthOptions = {}): GitAuth {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'http:https:ssh:git:file',
    GCM_INTERACTIVE: 'never',
  };
  // A credential of the operator's own shell must not leak into a job's repository.
  delete env.GIT_ASKPASS;
  delete env.SSH_ASKPASS;
  const secrets: string[] = [];
  let cleanup = () => {};
  const value = credential?.trim();
  const sshKey = value?.startsWith('-----BEGIN') ? value : undefined;
  if (sshKey || isSshRepoUrl(url)) {
    // mkdtemp creates the directory 0700: only the master's user can read the key and the trusted keys.
    const dir = mkdtempSync(join(tmpdir(), 'slipway-ssh-'));
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    const keyFile = sshKey ? join(dir, 'key') : undefined;
    if (sshKey && keyFile) {
      writeFileSync(keyFile, `${sshKey}\n`, { mode: 0o600 });
      secrets.push(sshKey);
    }
    const knownHostsFile = join(dir, 'known_hosts');
    writeFileSync(knownHostsFile, knownHostsText(opts), { mode: 0o600 });
    const wrapper = join(dir, 'ssh');
    writeFileSync(wrapper, sshWrapperScript({ dir, knownHostsFile, keyFile }), { mode: 0o600 });
    env.GIT_SSH_COMMAND = `sh ${shellQuote(wrapper)}`;
    // Run through sh, the wrapper's name says nothing to git: it takes OpenSSH's options (-p for the port).
    env.GIT_SSH_VARIANT = 'ssh';
    delete env.GIT_SSH;
  } else if (value) {
    const origin = httpOrigin(url);
    if (origin) {
      const user = usernameOf(url) ?? 'oauth2';
      const basic = Buffer.from(`${user}:${value}`).toString('base64');
      env.GIT_CONFIG_COUNT = '1';
      env.GIT_CONFIG_KEY_0 = `http.${origin}/.extraHeader`;
      env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
      secrets.push(value, basic);
    }
  }
  return { env, secrets, cleanup };
}

/** The job's lines first, then this host's files: ssh accepts a host when any line's key matches. */
function knownHostsText(opts: GitAuthOptions): string {
  const files = opts.hostKnownHostsFiles ?? hostKnownHostsFiles(userInfo().homedir);
  const parts = [opts.knownHosts ?? ''];
  for (const f of files) {
    try {
      parts.push(readFileSync(f, 'utf8'));
    } catch {
      // Missing or unreadable: that file trusts nothing.
    }
  }
  return parts.map((p) => (p && !p.endsWith('\n') ? `${p}\n` : p)).join('');
}

/** scheme://host[:port] of an http(s) URL, else null. */
function httpOrigin(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? `${u.protocol}//${u.host}` : null;
  } catch {
    return null;
  }
}

function usernameOf(url: string): string | null {
  try {
    return new URL(url).username || null;
  } catch {
    return null;
  }
}

/** Replaces every occurrence of each secret (and of user:password in URLs) with ***. */
export function maskSecrets(text: string, secrets: string[]): string {
  let out = text.replace(/(\/\/[^/\s:@]+):[^@\s/]+@/g, '$1:***@');
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}
