/**
 * The CLI's stored login: `{ url, token, user }` in ~/.config/slipway/config.json (mode 0600, the token is a
 * credential), or the path in SLIPWAY_CONFIG. SLIPWAY_URL and SLIPWAY_TOKEN override the stored values, so
 * scripts and CI need no file at all.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SlipwayError, unauthenticated } from '../../shared/errors';

export interface CliConfig {
  url?: string;
  token?: string;
  user?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_CONFIG || join(env.HOME || homedir(), '.config', 'slipway', 'config.json');
}

/** The stored config, or {} when there is none. Throws when the file exists but is not a JSON object. */
export function readConfig(path: string): CliConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SlipwayError('invalid_request', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SlipwayError('invalid_request', `${path} is not valid JSON; run 'slipway login' again or delete it`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SlipwayError('invalid_request', `${path} must hold a JSON object`);
  }
  const c = parsed as Record<string, unknown>;
  const str = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
  return { url: str('url'), token: str('token'), user: str('user') };
}

/** Writes the config with mode 0600 (also tightening an existing file) in a 0700 directory it creates. */
export function writeConfig(path: string, config: CliConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // writeFileSync's mode applies only when it creates the file.
  chmodSync(path, 0o600);
}

/** URL and token to use: env overrides the file. Throws 'unauthenticated' naming what is missing. */
export function resolveSession(env: NodeJS.ProcessEnv = process.env, path = configPath(env)): { url: string; token: string } {
  const stored = readConfig(path);
  const url = env.SLIPWAY_URL || stored.url;
  const token = env.SLIPWAY_TOKEN || stored.token;
  if (!url) throw unauthenticated(`no master URL: run 'slipway login --url URL --user NAME' or set SLIPWAY_URL`);
  if (!token) throw unauthenticated(`not logged in to ${url}: run 'slipway login' or set SLIPWAY_TOKEN`);
  return { url, token };
}
