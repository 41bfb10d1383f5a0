/**
 * Ties deployed instances to their etcd registration on this agent:
 *  - the deploy hooks: an instance is registered once healthy (live) and deregistered before it stops
 *    (leaving);
 *  - Docker's event stream: an instance whose container dies is deregistered at once;
 *  - resync, at start and every `resyncMs`: the running instances of this engine (found by their labels) that
 *    pass one health probe are registered, so a restarted agent restores the registrations its old lease
 *    took with it, and a container its restart policy brought back is routed again. An instance announced as
 *    leaving is never registered again by a resync (it may still answer while it drains).
 */
import type Docker from 'dockerode';
import type { HealthConfig, ServiceConfig } from '../../shared/compose/schema';
import { DEFAULT_HEALTH, probeOnce } from '../deploy/health';
import { LABEL } from '../deploy/instances';
import type { InstanceHooks } from '../deploy/rollout';
import type { EtcdRegistrar, Registration } from './registrar';

export class InstanceRegistration {
  private events?: NodeJS.ReadableStream;
  private timer?: NodeJS.Timeout;
  /** Containers announced as leaving: a resync must not bring them back. */
  private readonly leavingIds = new Set<string>();
  /** Deregistrations caused by a container that died while registered. */
  deaths = 0;

  constructor(
    private readonly docker: Docker,
    private readonly registrar: EtcdRegistrar,
    /** The address instances are reached at from the edge (host networking: this host's address). */
    private readonly host: string,
    private readonly log: (msg: string) => void = () => undefined,
    private readonly resyncMs = 5_000,
    /** Wait between deregistering instances and stopping them (InstanceHooks.drainMs). */
    drainMs = 1_000,
    /**
     * Only instances of this environment are resynced: agents of several environments may share one engine
     * (each registers what it deployed, never the others' instances under its own lease).
     */
    private readonly environment?: string,
  ) {
    this.hooks.drainMs = drainMs;
  }

  readonly hooks: InstanceHooks = {
    drainMs: 0,
    live: async (i) => {
      await this.registrar.register(this.registration(i.app, i.environment, i.port));
    },
    leaving: async (i) => {
      this.leavingIds.add(i.id);
      await this.registrar.deregister(this.registration(i.app, i.environment, i.port));
    },
  };

  async start(): Promise<void> {
    this.events = (await this.docker.getEvents({
      filters: { type: ['container'], event: ['die'], label: [LABEL.app] },
    })) as NodeJS.ReadableStream;
    let buffered = '';
    this.events.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) void this.onEvent(line);
      }
    });
    this.events.on('error', (e: Error) => this.log(`docker events: ${e.message}`));
    await this.resync();
    this.timer = setInterval(() => void this.resync().catch((e: Error) => this.log(`resync failed: ${e.message}`)), this.resyncMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    (this.events as unknown as { destroy?: () => void })?.destroy?.();
  }

  /** Registers every running, healthy instance on this engine. */
  async resync(): Promise<number> {
    const labels = this.environment ? [LABEL.app, `${LABEL.environment}=${this.environment}`] : [LABEL.app];
    const list = await this.docker.listContainers({ filters: { label: labels, status: ['running'] } });
    let n = 0;
    for (const c of list) {
      if (this.leavingIds.has(c.Id)) continue;
      const port = Number(c.Labels[LABEL.port]);
      const app = c.Labels[LABEL.app];
      const environment = c.Labels[LABEL.environment];
      if (!app || !environment || !Number.isInteger(port)) continue;
      const health = healthOf(c.Labels[LABEL.service]);
      const p = await probeOnce(this.host, port, health);
      if (!p.ok) continue;
      await this.registrar.register(this.registration(app, environment, port));
      n++;
    }
    return n;
  }

  private async onEvent(line: string): Promise<void> {
    try {
      const e = JSON.parse(line) as { id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
      const a = e.Actor?.Attributes ?? {};
      const id = e.Actor?.ID ?? e.id ?? '';
      const app = a[LABEL.app];
      const environment = a[LABEL.environment];
      const port = Number(a[LABEL.port]);
      if (!app || !environment || !Number.isInteger(port)) return;
      // A container the deploy stopped was deregistered before; it is no longer leaving, it is gone.
      const wasLeaving = this.leavingIds.delete(id);
      const reg = this.registration(app, environment, port);
      if (wasLeaving || !this.registrar.isRegistered(reg)) return;
      await this.registrar.deregister(reg);
      this.deaths++;
      this.log(`instance ${app} in ${environment} on port ${port} died: deregistered`);
    } catch (e) {
      this.log(`docker event not handled: ${(e as Error).message}`);
    }
  }

  private registration(app: string, environment: string, port: number): Registration {
    return { app, environment, ip: this.host, port };
  }
}

function healthOf(serviceJson: string | undefined): HealthConfig {
  try {
    return (JSON.parse(serviceJson ?? '') as ServiceConfig).healthcheck ?? DEFAULT_HEALTH;
  } catch {
    return DEFAULT_HEALTH;
  }
}

