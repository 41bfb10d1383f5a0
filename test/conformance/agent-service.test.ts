/**
 * The agent service conformance suite: every built-in service passes the contract of agent/services/types.ts
 * through its fixture (settings that work here, settings its schema refuses, settings whose start fails), and
 * the ServiceHost reports start, health changes and stop the way the master expects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerLogsService } from '../../agent/services/container-logs';
import { diskSpaceService } from '../../agent/services/disk-space';
import { edgeService } from '../../agent/services/edge';
import { builtinServices, ServiceHost } from '../../agent/services/host';
import { registrationService } from '../../agent/services/registration';
import { DeployHooksSlot, type ServiceFactory } from '../../agent/services/types';
import { freeTcpPort, startEtcd, startNginx, type TestEtcd, type TestNginx } from '../helpers/discovery';
import type { ServiceStatus } from '../../shared/protocol';

interface ServiceFixture {
  factory: ServiceFactory;
  good: Record<string, unknown>;
  invalid: { settings: Record<string, unknown>; field: RegExp };
  /** Settings valid for the schema whose start() must fail (the service cannot do its job here). */
  failing?: Record<string, unknown>;
}

const workDir = mkdtempSync(join(tmpdir(), 'slipway-services-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));
const log = pino({ level: 'silent' });
const ctx = { workDir, log, host: {}, deployHooks: new DeployHooksSlot(), environment: 'conformance' };

// The discovery services run against a real etcd and nginx started here.
let etcd: TestEtcd;
let nginx: TestNginx;
const listen = { port: 0 };
beforeAll(async () => {
  etcd = await startEtcd(workDir);
  nginx = await startNginx(workDir);
  listen.port = await freeTcpPort();
});
afterAll(async () => {
  await nginx?.stop();
  await etcd?.stop();
});

const fixtures: ServiceFixture[] = [
  {
    factory: diskSpaceService as ServiceFactory,
    good: { minFreeMb: 0 },
    invalid: { settings: { minFreeMb: -1 }, field: /minFreeMb/ },
    failing: { path: '/nonexistent/slipway-disk' },
  },
  {
    factory: registrationService as ServiceFactory,
    get good() {
      return { endpoints: [etcd.url], ttlSeconds: 5 };
    },
    invalid: { settings: { ttlSeconds: 2 }, field: /ttlSeconds: at least 5 seconds/ },
    // No etcd endpoint anywhere (the agent file names none either).
    failing: {},
  },
  {
    factory: edgeService as ServiceFactory,
    get good() {
      return { endpoints: [etcd.url], file: nginx.includeFile, nginx: nginx.command, routes: [{ app: 'conf', environment: 'pre', listen: `127.0.0.1:${listen.port}` }] };
    },
    invalid: { settings: { file: 'relative.conf', routes: [] }, field: /file: must be an absolute path/ },
    // No etcd endpoint anywhere (the agent file names none either).
    failing: { file: '/nonexistent/slipway-edge.conf', routes: [{ app: 'conf', environment: 'pre', listen: '8080' }] },
  },
  {
    // Needs the real Docker engine (npm test starts it); its spool goes into the work directory.
    factory: containerLogsService as ServiceFactory,
    good: { spool: { maxMb: 4, segmentKb: 64 } },
    invalid: { settings: { multiline: { continuation: '(' } }, field: /multiline\.continuation: not a valid regular expression/ },
    failing: { socket: '/nonexistent/docker.sock' },
  },
];

it('has a fixture for every built-in service', () => {
  expect([...builtinServices().keys()].sort()).toEqual(fixtures.map((f) => f.factory.name).sort());
});

for (const f of fixtures) {
  describe(`AgentService contract: ${f.factory.name}`, () => {
    it('starts, is healthy within a few seconds, stops, and tolerates a second stop', async () => {
      const s = f.factory.create(f.factory.settings.parse(f.good), ctx);
      expect(s.name).toBe(f.factory.name);
      await s.start();
      const t = Date.now();
      const h = await s.health();
      expect(Date.now() - t).toBeLessThan(3000);
      expect(h.state).toBe('running');
      expect(h.detail).toBeTruthy();
      await s.stop();
      await expect(s.stop()).resolves.toBeUndefined();
    });

    it('refuses settings its schema refuses, naming the field', () => {
      const r = f.factory.settings.safeParse(f.invalid.settings);
      expect(r.success).toBe(false);
      expect(() => new ServiceHost({ [f.factory.name]: f.invalid.settings }, ctx, log)).toThrow(f.invalid.field);
    });

    it.runIf(!!f.failing)('rejects start() with why when it cannot work, and still stops cleanly', async () => {
      const s = f.factory.create(f.factory.settings.parse(f.failing), ctx);
      await expect(s.start()).rejects.toThrow();
      const h = await s.health();
      expect(h.state).toBe('failed');
      await expect(s.stop()).resolves.toBeUndefined();
    });
  });
}

describe('ServiceHost', () => {
  it('refuses an unknown service naming the known ones', () => {
    expect(() => new ServiceHost({ shipper: {} }, ctx, log)).toThrow(/service 'shipper': unknown \(known: disk-space, registration, edge, container-logs\)/);
  });

  it('reports starting services, a failed start, health changes and the final stop', async () => {
    const reports: ServiceStatus[][] = [];
    let minFree = 0;
    const flaky: ServiceFactory = {
      name: 'flaky',
      settings: diskSpaceService.settings as ServiceFactory['settings'],
      create: () => ({
        name: 'flaky',
        start: async () => {},
        health: async () => (minFree > 0 ? { state: 'degraded', detail: 'low' } : { state: 'running', detail: 'fine' }),
        stop: async () => {},
      }),
    };
    const factories = new Map<string, ServiceFactory>([...builtinServices(), ['flaky', flaky]]);
    const host = new ServiceHost({ flaky: {}, 'disk-space': { path: '/nonexistent/x' } }, ctx, log, factories, 60_000);
    await host.start((l) => reports.push(l));
    const first = new Map(reports.at(-1)!.map((s) => [s.name, s]));
    expect(first.get('flaky')).toMatchObject({ state: 'running', detail: 'fine' });
    expect(first.get('disk-space')).toMatchObject({ state: 'failed', detail: expect.stringMatching(/start failed/) });
    const n = reports.length;
    await host.check();
    expect(reports.length).toBe(n);
    minFree = 1;
    await host.check();
    expect(reports.at(-1)!.find((s) => s.name === 'flaky')).toMatchObject({ state: 'degraded', detail: 'low' });
    await host.stop();
    expect(reports.at(-1)!.map((s) => s.state)).toEqual(['stopped', 'stopped']);
  });
});
