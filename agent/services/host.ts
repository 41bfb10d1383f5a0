/**
 * Runs the agent's services: creates them from the agent file's `services` section (unknown names and bad
 * settings fail the agent's start, naming the service), starts them, checks their health every intervalMs and
 * tells the master (through `report`) whenever a status changed, and stops them when the agent stops.
 */
import type { Logger } from 'pino';
import type { ServiceStatus } from '../../shared/protocol';
import { containerLogsService } from './container-logs';
import { diskSpaceService } from './disk-space';
import { edgeService } from './edge';
import { registrationService } from './registration';
import type { AgentService, ServiceContext, ServiceFactory } from './types';

export const DEFAULT_HEALTH_INTERVAL_MS = 10_000;

/** The built-in service factories, by name (third-party ones are added to this map explicitly). */
export function builtinServices(): Map<string, ServiceFactory> {
  return new Map<string, ServiceFactory>([
    [diskSpaceService.name, diskSpaceService as ServiceFactory],
    [registrationService.name, registrationService as ServiceFactory],
    [edgeService.name, edgeService as ServiceFactory],
    [containerLogsService.name, containerLogsService as ServiceFactory],
  ]);
}

export class ServiceHost {
  private readonly services: AgentService[] = [];
  private readonly statuses = new Map<string, ServiceStatus>();
  private timer: NodeJS.Timeout | undefined;
  private report: (services: ServiceStatus[]) => void = () => {};
  private checking: Promise<void> | undefined;
  /** Services whose start() failed: their status keeps the reason, health is not asked. */
  private readonly notStarted = new Set<AgentService>();

  /** Throws naming the service and field for an unknown service or invalid settings. */
  constructor(
    config: Record<string, Record<string, unknown>>,
    ctx: ServiceContext,
    private readonly log: Logger,
    factories: Map<string, ServiceFactory> = builtinServices(),
    private readonly intervalMs = DEFAULT_HEALTH_INTERVAL_MS,
  ) {
    for (const [name, raw] of Object.entries(config)) {
      const f = factories.get(name);
      if (!f) throw new Error(`service '${name}': unknown (known: ${[...factories.keys()].join(', ') || 'none'})`);
      const s = f.settings.safeParse(raw);
      if (!s.success) {
        const i = s.error.issues[0];
        throw new Error(`service '${name}': ${i.path.length ? `${i.path.map(String).join('.')}: ` : ''}${i.message}`);
      }
      this.services.push(f.create(s.data, ctx));
    }
  }

  /** Current statuses (agent:hello.services). */
  list(): ServiceStatus[] {
    return [...this.statuses.values()];
  }

  /** Starts every service (a failing one is reported, not fatal) and the health checks. */
  async start(report: (services: ServiceStatus[]) => void): Promise<void> {
    this.report = report;
    await Promise.all(
      this.services.map(async (s) => {
        this.set(s.name, { state: 'starting', detail: 'starting' });
        try {
          await s.start();
          this.set(s.name, await s.health());
          this.log.info({ service: s.name }, 'service started');
        } catch (e) {
          this.notStarted.add(s);
          this.set(s.name, { state: 'failed', detail: `start failed: ${(e as Error).message}` });
          this.log.error({ service: s.name, err: (e as Error).message }, 'service failed to start');
        }
      }),
    );
    this.flush(true);
    if (this.services.length) this.timer = setInterval(() => void this.check(), this.intervalMs).unref();
  }

  /** One round of health checks now (also run by the interval). */
  async check(): Promise<void> {
    this.checking ??= (async () => {
      for (const s of this.services) {
        if (this.notStarted.has(s) || this.statuses.get(s.name)?.state === 'stopped') continue;
        this.set(s.name, await s.health().catch((e: Error) => ({ state: 'failed' as const, detail: `health check threw: ${e.message}` })));
      }
      this.flush(false);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** Stops every service; their final status is 'stopped'. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await Promise.all(
      this.services.map(async (s) => {
        try {
          await s.stop();
        } catch (e) {
          this.log.warn({ service: s.name, err: (e as Error).message }, 'service did not stop cleanly');
        }
        this.set(s.name, { state: 'stopped', detail: 'stopped with the agent' });
      }),
    );
    this.flush(true);
  }

  private changed = false;

  private set(name: string, h: { state: ServiceStatus['state']; detail: string; facts?: ServiceStatus['facts'] }): void {
    const prev = this.statuses.get(name);
    const next: ServiceStatus = { name, state: h.state, detail: h.detail.slice(0, 1024), facts: h.facts ?? {}, at: Date.now() };
    // Facts like free bytes move all the time: only the state and detail count as a change worth a message.
    if (!prev || prev.state !== next.state || prev.detail !== next.detail) this.changed = true;
    this.statuses.set(name, next);
  }

  private flush(always: boolean): void {
    if (!always && !this.changed) return;
    this.changed = false;
    if (this.statuses.size) this.report(this.list());
  }
}
