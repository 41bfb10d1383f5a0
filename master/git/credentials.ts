/**
 * Credentials for the master's git calls, given to git through its environment only: never in argv (every
 * user of the host can read it) and never in a config file.
 *  - HTTP(S) token: an `Authorization: Basic` header set with GIT_CONFIG_COUNT/KEY/VALUE for that origin
 *    only (`http.<origin>/.extraHeader`), so a redirect to another host does not receive it.
 *  - SSH private key (a value starting with "-----BEGIN"): ssh can only read a key from a file or an agent,
 *    so it is the one exception: a 0600 file in a private 0700 temp dir, removed by cleanup() right after the
 *    git call. GIT_SSH_COMMAND points ssh at it in batch mode (never prompts).
 * Every call also gets GIT_TERMINAL_PROMPT=0 (a missing credential fails instead of waiting on a tty) and
 * GIT_ALLOW_PROTOCOL (no ext::/fd:: transports, even through submodules or redirects).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GitAuth {
  env: NodeJS.ProcessEnv;
  /** Values that must be masked wherever git output is logged. */
  secrets: string[];
  /** Removes what the credential needed on disk (SSH keys); idempotent. */
  cleanup(): void;
}

/** The environment for one git call against `url`, with `credential` (a team secret value) when given. */
export function gitAuth(url: string, credential?: string): GitAuth {
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
  if (value && value.startsWith('-----BEGIN')) {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-ssh-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${value}\n`, { mode: 0o600 });
    env.GIT_SSH_COMMAND = `ssh -i '${keyFile}' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`;
    secrets.push(value);
    cleanup = () => rmSync(dir, { recursive: true, force: true });
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
