/**
 * Agents (table agents; capabilities and services are in agent-facts.ts): every other statement on the table
 * lives here. The gateway, hello, leases and the agents route call these. Statements are prepared once per
 * connection.
 */
import type { AgentInfo } from '../../shared/api';
import type { Db } from './db';

export interface AgentListRow {
  id: number;
  name: string;
  environment: string;
  labels: string;
  capacity: number;
  executors: string;
  state: AgentInfo['state'];
  /** Stage runs the agent runs now. */
  running: number;
  last_seen_at: number | null;
  version: string | null;
}

export interface AgentsStore {
  /**
   * Creates or updates the agent of this name in the environment from its hello, state 'connected'; its id.
   */
  admit(a: { name: string; environmentId: number; tokenId: number; labels: string[]; capacity: number; executors: unknown[]; version: string | null }, now: number): number;
  setState(agentId: number, state: AgentInfo['state']): void;
  /** The state and when the agent was last heard of (disconnect). */
  setStateSeen(agentId: number, state: AgentInfo['state'], lastSeenAt: number): void;
  setLastSeen(agentId: number, at: number): void;
  /** The executors the agent reports now (agent:plugins: after it loaded or unloaded a plugin). */
  setExecutors(agentId: number, executors: unknown[]): void;
  /** Every agent not offline becomes offline (start and shutdown of the master). */
  allOffline(): void;
  /** Agents with their environment and running count, by environment and name. */
  list(): AgentListRow[];
  get(agentId: number): AgentListRow | undefined;
}

const cache = new WeakMap<Db, AgentsStore>();

/** One store per connection. */
export function agentsStore(db: Db): AgentsStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): AgentsStore {
  const admit = db.prepare<unknown[], { id: number }>(
    `INSERT INTO agents (name, environment_id, token_id, labels, capacity, executors, version, state, last_seen_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'connected', ?, ?)
     ON CONFLICT (environment_id, name) DO UPDATE SET token_id = excluded.token_id, labels = excluded.labels,
       capacity = excluded.capacity, executors = excluded.executors, version = excluded.version,
       state = 'connected', last_seen_at = excluded.last_seen_at
     RETURNING id`,
  );
  const setState = db.prepare('UPDATE agents SET state = ? WHERE id = ?');
  const setStateSeen = db.prepare('UPDATE agents SET state = ?, last_seen_at = ? WHERE id = ?');
  const setSeen = db.prepare('UPDATE agents SET last_seen_at = ? WHERE id = ?');
  const setExecutors = db.prepare('UPDATE agents SET executors = ? WHERE id = ?');
  const offline = db.prepare("UPDATE agents SET state = 'offline' WHERE state != 'offline'");
  const COLS = `SELECT a.id, a.name, e.name AS environment, a.labels, a.capacity, a.executors, a.state, a.last_seen_at, a.version,
      (SELECT COUNT(*) FROM stage_runs sr WHERE sr.agent_id = a.id AND sr.status = 'running') AS running
    FROM agents a JOIN environments e ON e.id = a.environment_id`;
  const list = db.prepare<[], AgentListRow>(`${COLS} ORDER BY e.name, a.name`);
  const one = db.prepare<[number], AgentListRow>(`${COLS} WHERE a.id = ?`);
  return {
    admit: (a, now) =>
      admit.get(a.name, a.environmentId, a.tokenId, JSON.stringify(a.labels), a.capacity, JSON.stringify(a.executors), a.version, now, now)!.id,
    setState: (id, state) => void setState.run(state, id),
    setStateSeen: (id, state, at) => void setStateSeen.run(state, at, id),
    setLastSeen: (id, at) => void setSeen.run(at, id),
    setExecutors: (id, executors) => void setExecutors.run(JSON.stringify(executors), id),
    allOffline: () => void offline.run(),
    list: () => list.all(),
    get: (id) => one.get(id),
  };
}
