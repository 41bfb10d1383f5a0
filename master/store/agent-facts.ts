/**
 * What agents report about their host beyond hello's basics (columns agents.capabilities and agents.services):
 * the capabilities probed at start and the latest status of their services. Kept so the API shows them for
 * agents that are offline too. All SQL on those columns lives here.
 */
import type { CapabilityInfo, ServiceStatus } from '../../shared/protocol/messages';
import type { Db } from './db';

export interface AgentFacts {
  capabilities: CapabilityInfo[];
  services: ServiceStatus[];
}

export interface AgentFactsStore {
  setCapabilities(agentId: number, capabilities: CapabilityInfo[]): void;
  setServices(agentId: number, services: ServiceStatus[]): void;
  get(agentId: number): AgentFacts;
}

export function createAgentFactsStore(db: Db): AgentFactsStore {
  const caps = db.prepare('UPDATE agents SET capabilities = ? WHERE id = ?');
  const services = db.prepare('UPDATE agents SET services = ? WHERE id = ?');
  const get = db.prepare<[number], { capabilities: string; services: string }>('SELECT capabilities, services FROM agents WHERE id = ?');
  return {
    setCapabilities: (id, c) => void caps.run(JSON.stringify(c), id),
    setServices: (id, s) => void services.run(JSON.stringify(s), id),
    get(id) {
      const r = get.get(id);
      return r ? { capabilities: JSON.parse(r.capabilities) as CapabilityInfo[], services: JSON.parse(r.services) as ServiceStatus[] } : { capabilities: [], services: [] };
    },
  };
}
