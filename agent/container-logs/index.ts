/**
 * The container-log shipper of one agent (the `container-logs` service, agent/services/container-logs.ts):
 * finds the containers of the agent's environment whose logs it ships (at start and through Docker's events),
 * follows each one (follower.ts) into its spool (spool.ts), and sends the spools to the master (shipper.ts).
 *
 * Which containers: those labelled io.slipway.environment=<the agent's environment> and io.slipway.app=<app>
 * that Slipway deployed (they carry io.slipway.spec) or that opt in with io.slipway.logs=true (apps started
 * by other means); io.slipway.logs=false opts a deployed container out. Of several agents of one environment on
 * one engine exactly one ships a container: the one io.slipway.agent names (a deploy step sets it to the agent
 * that ran it; an opted-in container may set it). Without that label (opted-in containers) every such agent
 * follows it under the same source and seqs, and the master's per-source mark stores each entry once; so do the
 * agents on a Swarm node other than the deploying agent's for the service's tasks there (io.slipway.agent-node).
 * Stopped containers are read to their
 * end too (lines written while the agent was down). A container is one source, '<environment>/<container id>':
 * a restart of the same container continues its source where it stopped, a recreated container (new id) is a
 * new source followed from its first line.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { MasterChannel } from '../services/channel';
import { ContainerFollower } from './follower';
import type { MultilineRule } from './multiline';
import { Shipper, type ShipperOptions } from './shipper';
import { SpoolSet, type SourceMeta } from './spool';

export const LOG_LABELS = {
  app: 'io.slipway.app',
  environment: 'io.slipway.environment',
  /** Set on every container a deploy step creates (agent/deploy/instances.ts). */
  deployed: 'io.slipway.spec',
  /** 'true': ship this container's logs although Slipway did not deploy it; 'false': do not ship them. */
  optIn: 'io.slipway.logs',
  /** The agent that ships the container's logs (set by the deploy step to the deploying agent; agent/deploy/instances.ts). */
  agent: 'io.slipway.agent',
  /** Swarm tasks: the swarm node of the agent `agent` names (agent/deploy/swarm.ts). */
  agentNode: 'io.slipway.agent-node',
  /** Swarm tasks: the node the task runs on (set by Docker). */
  swarmNode: 'com.docker.swarm.node.id',
} as const;

export interface ContainerLogsOptions {
  environment: string;
  /** This agent's name: a container whose io.slipway.agent names another agent is left to that one. */
  agentName?: string;
  spoolDir: string;
  spoolMaxBytes: number;
  segmentBytes: number;
  multiline: MultilineRule;
  batch: ShipperOptions;
  log: Logger;
}

/** Whether a container with these labels is shipped by the agent `agentName` of `environment`. */
export function shipsContainer(labels: Record<string, string> | undefined, environment: string, agentName?: string): boolean {
  if (!labels || labels[LOG_LABELS.environment] !== environment || !labels[LOG_LABELS.app]) return false;
  const shipper = labels[LOG_LABELS.agent];
  // A Swarm task on another node than the deploying agent's: that agent cannot see it (another engine), so the
  // agents of the environment on this node follow it as if it had no io.slipway.agent.
  const node = labels[LOG_LABELS.swarmNode];
  const elsewhere = node !== undefined && labels[LOG_LABELS.agentNode] !== undefined && node !== labels[LOG_LABELS.agentNode];
  if (shipper !== undefined && shipper !== '' && shipper !== agentName && !elsewhere) return false;
  const opt = labels[LOG_LABELS.optIn];
  if (opt === 'false') return false;
  return opt === 'true' || labels[LOG_LABELS.deployed] !== undefined;
}

export class ContainerLogs {
  readonly spools: SpoolSet;
  private readonly followers = new Map<string, ContainerFollower>();
  private shipper: Shipper | undefined;
  private events: Readable | undefined;
  private eventsRetry: NodeJS.Timeout | undefined;
  private stopped = false;
  lastError: string | undefined;

  constructor(
    private readonly docker: Docker,
    private readonly channel: MasterChannel,
    private readonly o: ContainerLogsOptions,
  ) {
    this.spools = new SpoolSet(o.spoolDir, o.spoolMaxBytes, o.segmentBytes);
  }

  async start(): Promise<void> {
    await this.docker.ping();
    this.shipper = new Shipper(this.spools, this.channel, this.o.batch, (source) => this.spools.remove(source));
    await this.watchEvents();
    await this.scan();
    this.shipper.pump();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.eventsRetry);
    this.events?.destroy();
    for (const f of this.followers.values()) f.stop();
    this.followers.clear();
    this.shipper?.stop();
    this.spools.close();
  }

  get following(): number {
    let n = 0;
    for (const f of this.followers.values()) if (f.following) n++;
    return n;
  }

  get shipped(): number {
    return this.shipper?.shipped ?? 0;
  }

  get linesRead(): number {
    let n = 0;
    for (const f of this.followers.values()) n += f.lines;
    return n;
  }

  refusals(): string[] {
    return this.shipper?.refusals() ?? [];
  }

  retryRefused(): void {
    this.shipper?.retryRefused();
  }

  /** Lists the containers to ship, follows new ones, and settles spools of containers that are gone. */
  async scan(): Promise<void> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LOG_LABELS.environment}=${this.o.environment}`] } });
    const present = new Set<string>();
    for (const c of list) {
      present.add(c.Id);
      if (shipsContainer(c.Labels, this.o.environment, this.o.agentName)) this.follow(c.Id, (c.Names[0] ?? c.Id).replace(/^\//, ''), c.Labels);
    }
    for (const s of [...this.spools.sources.values()]) {
      if (present.has(s.meta.containerId)) continue;
      if (!s.finished) s.finish();
      if (s.acked >= s.lastSeq) this.spools.remove(s.meta.source);
    }
  }

  private follow(id: string, name: string, labels: Record<string, string>): void {
    if (this.stopped) return;
    const source = `${this.o.environment}/${id}`;
    const existing = this.followers.get(source);
    if (existing?.following) return;
    let spool = this.spools.get(source);
    if (!spool) {
      const meta: SourceMeta = { source, containerId: id, app: labels[LOG_LABELS.app], environment: this.o.environment, instance: name };
      spool = this.spools.create(meta);
    }
    const f =
      existing ??
      new ContainerFollower(
        this.docker,
        spool,
        this.o.multiline,
        () => {
          this.spools.enforceBound((src) => {
            const sp = this.spools.get(src);
            return sp && this.shipper ? this.shipper.sentThrough(sp) : 0;
          });
          this.shipper?.spooled();
        },
        (err) => void this.ended(source, id, name, labels, err),
      );
    this.followers.set(source, f);
    f.start().catch((e: Error) => {
      this.lastError = `${name}: ${e.message}`;
      this.o.log.warn({ service: 'container-logs', container: name, err: e.message }, 'cannot follow the container log');
    });
  }

  /**
   * A log stream ended. Docker may end a followed stream when the container stops before it sent the last lines
   * (seen with containers that write fast and exit): a stream opened on a running container is always followed
   * by one more, which reads the rest up to the end (a stopped container's stream ends after its last line).
   * A container that runs again (restart) is followed again; one that stays stopped, on its next start event.
   */
  private async ended(source: string, id: string, name: string, labels: Record<string, string>, err?: Error): Promise<void> {
    if (this.stopped) return;
    if (err) this.o.log.warn({ service: 'container-logs', container: name, err: err.message }, 'container log stream failed');
    try {
      const info = await this.docker.getContainer(id).inspect();
      if (info.State?.Running || this.followers.get(source)?.openedRunning) this.follow(id, name, labels);
    } catch {
      // Gone: the destroy event settles its spool.
    }
  }

  private async watchEvents(): Promise<void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'], event: ['start', 'destroy'], label: [`${LOG_LABELS.environment}=${this.o.environment}`] },
    })) as unknown as Readable;
    this.events = stream;
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) {
        if (!p.trim()) continue;
        let ev: { status?: string; Action?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
        try {
          ev = JSON.parse(p) as typeof ev;
        } catch {
          continue;
        }
        const id = ev.Actor?.ID ?? ev.id;
        const attrs = ev.Actor?.Attributes ?? {};
        if (!id) continue;
        const action = ev.Action ?? ev.status;
        if (action === 'start' && shipsContainer(attrs, this.o.environment, this.o.agentName)) this.follow(id, attrs.name ?? id.slice(0, 12), attrs);
        else if (action === 'destroy') this.destroyed(`${this.o.environment}/${id}`);
      }
    });
    const reconnect = () => {
      if (this.stopped || this.events !== stream) return;
      this.events = undefined;
      // The engine restarted or the stream broke: watch again and catch up with a scan.
      this.eventsRetry = setTimeout(() => {
        this.watchEvents()
          .then(() => this.scan())
          .catch((e: Error) => {
            this.lastError = `docker events: ${e.message}`;
            reconnect();
          });
      }, 2000);
    };
    stream.once('end', reconnect);
    stream.once('error', reconnect);
  }

  private destroyed(source: string): void {
    const f = this.followers.get(source);
    f?.stop();
    this.followers.delete(source);
    const s = this.spools.get(source);
    if (!s) return;
    s.finish();
    if (s.acked >= s.lastSeq) this.spools.remove(source);
  }
}
