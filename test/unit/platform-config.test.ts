import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../master/config';

describe('master config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies defaults and persists the JWT secret and master key (0600) across loads', () => {
    const c = loadConfig({ dataDir: dir }, {});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, heartbeatIntervalMs: 5000, agentLostAfterMs: 30_000, maxFrameBytes: 1024 * 1024 });
    expect(c.retention).toEqual({ builds: 100, logsDays: 30 });
    expect(c.secretHistoryDays).toBe(30);
    expect(c.loginRateLimit).toEqual({ max: 10, windowMs: 60_000 });
    expect(c.masterKey.length).toBe(32);
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'jwt.secret')).mode & 0o777).toBe(0o600);
    const again = loadConfig({ dataDir: dir }, {});
    expect(again.masterKey.equals(c.masterKey)).toBe(true);
    expect(again.jwtSecret).toBe(c.jwtSecret);
  });

  it('lets flags override env and env override defaults', () => {
    const key = 'ab'.repeat(32);
    const c = loadConfig({ dataDir: dir, port: 0 }, { SLIPWAY_PORT: '9999', SLIPWAY_HOST: '0.0.0.0', SLIPWAY_MASTER_KEY: key, SLIPWAY_LOGIN_MAX: '3' });
    expect(c.port).toBe(0);
    expect(c.host).toBe('0.0.0.0');
    expect(c.masterKey.toString('hex')).toBe(key);
    expect(c.loginRateLimit.max).toBe(3);
  });

  it('names every bad variable and flag', () => {
    expect(() => loadConfig({ dataDir: dir }, { SLIPWAY_PORT: 'eighty', SLIPWAY_MASTER_KEY: 'short' })).toThrow(
      /SLIPWAY_PORT: must be a whole number \(got "eighty"\)[\s\S]*SLIPWAY_MASTER_KEY: must be 64 hex characters/,
    );
    expect(() => loadConfig({ dataDir: dir, port: 70000 }, {})).toThrow(/--port: .*65535/);
    expect(() => loadConfig({ dataDir: dir }, { SLIPWAY_PUBLIC_URL: 'ftp://x' })).toThrow(/SLIPWAY_PUBLIC_URL: must be an http/);
    expect(() => loadConfig({ dataDir: dir }, { SLIPWAY_SECRET_HISTORY_DAYS: '-1' })).toThrow(/SLIPWAY_SECRET_HISTORY_DAYS: must be a whole number \(got "-1"\)/);
    expect(loadConfig({ dataDir: dir }, { SLIPWAY_SECRET_HISTORY_DAYS: '0' }).secretHistoryDays).toBe(0);
    expect(() => loadConfig({ dataDir: dir, tlsCert: join(dir, 'c.pem') }, {})).toThrow(/--tls-cert and --tls-key must be given together/);
  });

  it('refuses a corrupt persisted master key instead of replacing it', () => {
    loadConfig({ dataDir: dir }, {});
    const file = join(dir, 'master.key');
    expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    writeFileSync(file, 'garbage');
    expect(() => loadConfig({ dataDir: dir }, {})).toThrow(/master\.key: corrupt/);
  });
});
