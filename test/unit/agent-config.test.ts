import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, toWsUrl } from '../../agent/config';
import { backoffMs, reconnectDelayMs } from '../../agent/connection';

const base = { url: 'http://127.0.0.1:8080', token: 't', name: 'a1', environment: 'ci' };

describe('agent config', () => {
  it('derives the WebSocket URL from the master URL', () => {
    expect(toWsUrl('http://m:8080')).toBe('ws://m:8080/ws/agent');
    expect(toWsUrl('https://m.example/slipway/')).toBe('wss://m.example/slipway/ws/agent');
  });

  it('names the bad option', () => {
    expect(() => resolveConfig({ ...base, url: 'ftp://x' })).toThrow(/--url: must be http/);
    expect(() => resolveConfig({ ...base, url: 'nope' })).toThrow(/--url: not a URL/);
    expect(() => resolveConfig({ ...base, token: undefined }, {})).toThrow(/--token: missing/);
    expect(() => resolveConfig({ ...base, name: 'a b' })).toThrow(/--name/);
    expect(() => resolveConfig({ ...base, capacity: '0' })).toThrow(/--capacity: must be an integer from 1 to 256, got 0/);
    expect(() => resolveConfig({ ...base, caFile: '/nonexistent/ca.pem' })).toThrow(/--ca-file: cannot read/);
  });

  it('takes labels as a list or a comma string and the token from env or file', () => {
    expect(resolveConfig({ ...base, labels: 'a, b,,c' }).labels).toEqual(['a', 'b', 'c']);
    expect(resolveConfig({ ...base, token: undefined }, { SLIPWAY_AGENT_TOKEN: 'from-env' }).token).toBe('from-env');
    const dir = mkdtempSync(join(tmpdir(), 'slipway-cfg-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'from-file\n', { mode: 0o644 });
      expect(resolveConfig({ ...base, token: undefined, tokenFile: file }, {}).token).toBe('from-file');
      // The token file is made private to the agent's user.
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('backs off from 0.2 s to at most 10 s with jitter', () => {
    for (let i = 0; i < 50; i++) {
      expect(backoffMs(0)).toBeGreaterThanOrEqual(100);
      expect(backoffMs(0)).toBeLessThanOrEqual(200);
      expect(backoffMs(30)).toBeGreaterThanOrEqual(5000);
      expect(backoffMs(30)).toBeLessThanOrEqual(10_000);
    }
  });

  it('retries every 0.15-0.3 s for a minute after the master went away (a restart), then backs off again', () => {
    for (let i = 0; i < 50; i++) {
      // Attempt 12 would wait 5-10 s with backoff: a restarting master gets its agents back at once.
      expect(reconnectDelayMs(12, 2_000)).toBeGreaterThanOrEqual(150);
      expect(reconnectDelayMs(12, 2_000)).toBeLessThanOrEqual(300);
      expect(reconnectDelayMs(12, 61_000)).toBeGreaterThanOrEqual(5000);
      expect(reconnectDelayMs(12, undefined)).toBeGreaterThanOrEqual(5000);
      expect(reconnectDelayMs(0, undefined)).toBeLessThanOrEqual(200);
    }
  });
});
