/**
 * Agent services: long-lived work of an agent that outlives any step (etcd lease keep-alive, the nginx edge
 * watcher, the container-log shipper come with later issues; disk-space.ts is the built-in example). Each one
 * is made by a ServiceFactory from its section of the agent config file, started when the agent starts and
 * stopped when it stops (after its stages drained). The ServiceHost (host.ts) checks health() every interval
 * and reports each service's status to the master (agent:services), which shows it in GET /agents.
 *
 * Contract every service meets (test/conformance/agent-service.test.ts):
 *  - start() resolves once the service runs, or rejects with why it cannot (the agent then reports it failed
 *    and keeps running its other work);
 *  - health() never rejects and answers within a few seconds;
 *  - stop() resolves once everything the service started is released; it may be called once after start(),
 *    also after a failed start, and must not throw.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ServiceStatus } from '../../shared/protocol';
import type { InstanceHooks } from '../deploy/rollout';
import type { HostSettings } from '../executors/types';
import type { MasterChannel } from './channel';

export interface ServiceHealth {
  /** 'running': healthy; 'degraded': running but needs attention; 'failed': not doing its job. */
  state: 'running' | 'degraded' | 'failed';
  detail: string;
  facts?: ServiceStatus['facts'];
}

export interface AgentService {
  readonly name: string;
  start(): Promise<void>;
  health(): Promise<ServiceHealth>;
  stop(): Promise<void>;
}

/** What a service gets from the agent. */
export interface ServiceContext {
  /** The agent's work directory. */
  workDir: string;
  log: Logger;
  /** The host sections of the agent config file (Docker socket, etcd endpoints, nginx). */
  host: HostSettings;
  /** The environment the agent serves (services that act on deployed instances keep to it). */
  environment: string;
  /**
   * Where a service that keeps deployed instances registered (registration.ts) hands the deploy step its
   * live/leaving hooks; deploys without such a service run without hooks.
   */
  deployHooks: DeployHooksSlot;
  /** Messages to and from the master for services that ship data (container-logs); absent: no master (tests). */
  master?: MasterChannel;
  /** The agent's name (container-logs names its sources with it). */
  agentName?: string;
}

/** One place shared by the agent's services and its deploy steps. */
export class DeployHooksSlot {
  private hooks?: InstanceHooks;
  set(h: InstanceHooks | undefined): void {
    this.hooks = h;
  }
  get(): InstanceHooks | undefined {
    return this.hooks;
  }
}

export interface ServiceFactory<S = unknown> {
  name: string;
  /** Validates the service's section of the agent config file. */
  settings: z.ZodType<S>;
  create(settings: S, ctx: ServiceContext): AgentService;
}
