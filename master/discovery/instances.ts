/**
 * What the master knows of deployed instances: it reads the registrations the agents keep in etcd
 * (`<prefix><app>_<environment>/<ip>-<port>`, agent/discovery/registrar.ts) for the apps a caller's teams deploy
 * (their enabled jobs' deploy steps, each in its stage's environment), and probes each address once with a TCP
 * connect from the master (an instance can be registered yet unreachable from here: the answer says which).
 */
import { connect } from 'node:net';
import type { Etcd3 } from 'etcd3';
import type { InstanceInfo } from '../../shared/api';
import { deployTargets, type JobConfig } from '../../shared/job';

export interface AppTarget {
  app: string;
  environment: string;
  job: string;
}

/** The (app, environment) pairs a job deploys, with the job's name. */
export function appTargets(job: JobConfig): AppTarget[] {
  return deployTargets(job).map((t) => ({ app: t.app, environment: t.environment, job: job.name }));
}

export class InstanceDirectory {
  /** Created on the first listing: loading etcd3 (grpc-js, its .proto files) cost ~0.15 s of CPU at every master start. */
  private client?: Promise<Etcd3>;
  constructor(private readonly etcd: { endpoints: readonly string[]; prefix: string }) {}

  /** Registered instances of each target (targets without one are listed with an empty list). */
  async list(targets: AppTarget[]): Promise<InstanceInfo[]> {
    this.client ??= import('etcd3').then(({ Etcd3 }) => new Etcd3({ hosts: [...this.etcd.endpoints], dialTimeout: 3000 }));
    const client = await this.client;
    const seen = new Set<string>();
    const out: InstanceInfo[] = [];
    for (const t of targets) {
      const id = `${t.app}_${t.environment}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const kvs = await client.getAll().prefix(`${this.etcd.prefix}${id}/`).strings();
      const addresses = Object.values(kvs).filter((v) => /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/.test(v)).sort();
      const probes = await Promise.all(addresses.map((a) => probe(a)));
      out.push({ app: t.app, environment: t.environment, job: t.job, instances: addresses.map((address, i) => ({ address, reachable: probes[i].ok, detail: probes[i].detail })) });
    }
    return out;
  }

  close(): void {
    void this.client?.then((c) => c.close());
  }
}

function probe(address: string): Promise<{ ok: boolean; detail: string }> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1000 });
    s.once('connect', () => {
      s.destroy();
      resolve({ ok: true, detail: 'TCP connect from the master ok' });
    });
    s.once('timeout', () => {
      s.destroy();
      resolve({ ok: false, detail: 'no TCP answer within 1 s from the master' });
    });
    s.once('error', (e) => resolve({ ok: false, detail: e.message }));
  });
}
