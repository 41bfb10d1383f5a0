import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configPath, readConfig, resolveSession, writeConfig } from '../../bin/lib/config-file';
import { resolveAgentToken } from '../../bin/commands/serve';
import { SlipwayError, ValidationError } from '../../shared/errors';
import { errorText } from '../../bin/lib/output';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('cli config file', () => {
  it('uses SLIPWAY_CONFIG, else ~/.config/slipway/config.json', () => {
    expect(configPath({ SLIPWAY_CONFIG: '/x/c.json' })).toBe('/x/c.json');
    expect(configPath({ HOME: '/home/u' })).toBe('/home/u/.config/slipway/config.json');
  });

  it('writes the session with mode 0600 in a new 0700 directory and reads it back', () => {
    const path = join(dir, 'nested', 'config.json');
    writeConfig(path, { url: 'http://m:8080', token: 'jwt-1', user: 'ann' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(readConfig(path)).toEqual({ url: 'http://m:8080', token: 'jwt-1', user: 'ann' });
  });

  it('tightens an existing world-readable file to 0600', () => {
    const path = join(dir, 'config.json');
    writeFileSync(path, '{}', { mode: 0o644 });
    writeConfig(path, { url: 'http://m', token: 't' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('treats a missing file as empty and rejects a corrupt one naming the path', () => {
    expect(readConfig(join(dir, 'none.json'))).toEqual({});
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{not json');
    expect(() => readConfig(bad)).toThrow(`${bad} is not valid JSON`);
    writeFileSync(bad, '[1]');
    expect(() => readConfig(bad)).toThrow('must hold a JSON object');
  });

  it('lets SLIPWAY_URL and SLIPWAY_TOKEN override the stored session', () => {
    const path = join(dir, 'config.json');
    writeConfig(path, { url: 'http://stored', token: 'stored-token' });
    expect(resolveSession({}, path)).toEqual({ url: 'http://stored', token: 'stored-token' });
    expect(resolveSession({ SLIPWAY_URL: 'http://env' }, path)).toEqual({ url: 'http://env', token: 'stored-token' });
    expect(resolveSession({ SLIPWAY_TOKEN: 'env-token' }, path)).toEqual({ url: 'http://stored', token: 'env-token' });
  });

  it('says how to log in when the URL or token is missing', () => {
    const none = join(dir, 'none.json');
    expect(() => resolveSession({}, none)).toThrow(/no master URL: run 'slipway login/);
    try {
      resolveSession({ SLIPWAY_URL: 'http://m' }, none);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SlipwayError);
      expect((err as SlipwayError).code).toBe('unauthenticated');
      expect((err as Error).message).toContain('not logged in to http://m');
    }
  });
});

describe('agent token resolution', () => {
  it('prefers --token, then --token-file (trimmed), then SLIPWAY_AGENT_TOKEN', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'from-file\n');
    expect(resolveAgentToken({ token: 'flag', tokenFile: file }, { SLIPWAY_AGENT_TOKEN: 'env' })).toBe('flag');
    expect(resolveAgentToken({ tokenFile: file }, { SLIPWAY_AGENT_TOKEN: 'env' })).toBe('from-file');
    expect(resolveAgentToken({}, { SLIPWAY_AGENT_TOKEN: 'env' })).toBe('env');
  });

  it('names the missing or unreadable token source', () => {
    expect(() => resolveAgentToken({}, {})).toThrow('an agent token is required: --token, --token-file or SLIPWAY_AGENT_TOKEN');
    expect(() => resolveAgentToken({ tokenFile: join(dir, 'nope') }, {})).toThrow(/cannot read --token-file .*nope: ENOENT/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(() => resolveAgentToken({ tokenFile: empty }, {})).toThrow('is empty');
  });
});

describe('error text', () => {
  it('prints each validation issue on its own line with file:line:col', () => {
    const err = new ValidationError('invalid_job', [
      { file: 'job.yml', line: 3, column: 5, field: 'stages[0].name', message: 'bad name' },
      { file: 'job.yml', line: 9, field: 'team', message: 'required' },
    ]);
    expect(errorText(err).split('\n')).toEqual(['job.yml:3:5: stages[0].name: bad name', 'job.yml:9: team: required']);
  });

  it('never includes a stack trace', () => {
    const text = errorText(new SlipwayError('not_found', "job 'x' not found"));
    expect(text).toBe("job 'x' not found");
    expect(errorText(new Error('plain failure'))).toBe('plain failure');
  });
});
