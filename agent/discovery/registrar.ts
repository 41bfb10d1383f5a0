/**
 * Registers live instances in etcd: key `<prefix><app>_<environment>/<ip>-<port>`, value `<ip>:<port>`, all
 * under one lease of this agent that it keeps alive. When the agent dies its keys expire with the lease.
 *
 * Invariants:
 *  - Registration is idempotent and remembered: the registrar knows every key it should hold.
 *  - The etcd3 client reports a lost lease only after about 2 x TTL, so every `checkMs` the registrar also
 *    reads its keys back; when one is missing or the lease is gone (etcd restarted, partition healed, lease
 *    revoked), it grants a new lease and puts every remembered key again.
 *  - TTL is at least MIN_TTL_S seconds (lower is unsafe with the client's keep-alive timing).
 *  - Deregistering deletes the key at once (before the instance is stopped); it is not left to expire.
 */
import { Etcd3, type Lease } from 'etcd3';

export const MIN_TTL_S = 5;
export const DEFAULT_TTL_S = 10;

export interface RegistrarOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  endpoints: string[];
  /** Lease TTL in seconds (default 10, at least 5). */
  ttlSeconds?: number;
  /** Key prefix (default `/`). */
  prefix?: string;
  /** How often keys are read back (default TTL / 3). */
  checkMs?: number;
  log?: (msg: string) => void;
}

export interface Registration {
  app: string;
  environment: string;
  ip: string;
  port: number;
}

/** `/shop-web_pre/10.0.0.5-8080`. */
export function registrationKey(prefix: string, r: Registration): string {
  return `${prefix}${r.app}_${r.environment}/${r.ip}-${r.port}`;
}

/** The key prefix of an app in an environment: `/shop-web_pre/`. */
export function appPrefix(prefix: string, app: string, environment: string): string {
  return `${prefix}${app}_${environment}/`;
}

export class EtcdRegistrar {
  readonly client: Etcd3;
  readonly ttl: number;
  readonly prefix: string;
  private lease?: Lease;
  private readonly keys = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private stopped = false;
  /** Re-registrations after a lost lease or a missing key (status for the master). */
  reRegistrations = 0;
  lastError?: string;

  constructor(private readonly o: RegistrarOptions) {
    const ttl = o.ttlSeconds ?? DEFAULT_TTL_S;
    if (!Number.isInteger(ttl) || ttl < MIN_TTL_S) throw new Error(`etcd lease TTL must be a whole number of seconds >= ${MIN_TTL_S} (got ${ttl})`);
    if (!o.endpoints.length) throw new Error('etcd endpoints: at least one URL');
    this.ttl = ttl;
    this.prefix = o.prefix ?? '/';
    this.client = new Etcd3({ hosts: o.endpoints, dialTimeout: 3000 });
  }

  async start(): Promise<void> {
    await this.newLease();
    const every = this.o.checkMs ?? Math.floor((this.ttl * 1000) / 3);
    this.timer = setInterval(() => void this.check(), every);
    this.timer.unref();
  }

  async register(r: Registration): Promise<string> {
    const key = registrationKey(this.prefix, r);
    const value = `${r.ip}:${r.port}`;
    this.keys.set(key, value);
    await this.currentLease().put(key).value(value).exec();
    return key;
  }

  async deregister(r: Registration): Promise<void> {
    const key = registrationKey(this.prefix, r);
    this.keys.delete(key);
    await this.client.delete().key(key).exec();
  }

  isRegistered(r: Registration): boolean {
    return this.keys.has(registrationKey(this.prefix, r));
  }

  /** The keys this agent holds now. */
  registered(): string[] {
    return [...this.keys.keys()].sort();
  }

  /**
   * Stops keeping the lease alive. `revoke` deletes every key at once (the agent is being removed for good);
   * otherwise the keys stay until the TTL runs out, so a restarting agent does not cut live traffic.
   */
  async stop(opts: { revoke?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.checking;
    if (opts.revoke) await this.lease?.revoke().catch(() => undefined);
    else this.lease?.release();
    this.client.close();
  }

  /** Reads every remembered key back; re-grants and re-registers when one is gone or the lease was lost. */
  async check(): Promise<void> {
    if (this.stopped || this.checking) return this.checking;
    this.checking = (async () => {
      try {
        let missing = this.lease?.revoked() ?? true;
        for (const key of this.keys.keys()) {
          if (missing) break;
          missing = (await this.client.get(key).string()) === null;
        }
        if (missing && !this.stopped) {
          this.o.log?.(`etcd: lease or keys lost; registering ${this.keys.size} instance(s) again under a new lease`);
          await this.newLease();
          for (const [key, value] of this.keys) await this.currentLease().put(key).value(value).exec();
          this.reRegistrations++;
        }
        this.lastError = undefined;
      } catch (e) {
        this.lastError = (e as Error).message;
        this.o.log?.(`etcd: check failed: ${this.lastError}`);
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private currentLease(): Lease {
    if (!this.lease) throw new Error('the registrar is not started');
    return this.lease;
  }

  private async newLease(): Promise<void> {
    this.lease?.release();
    const lease = this.client.lease(this.ttl, { autoKeepAlive: true });
    // A lost lease is found by check() too; this only makes it sooner.
    lease.on('lost', () => void this.check());
    await lease.grant();
    this.lease = lease;
  }
}
