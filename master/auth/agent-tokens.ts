/**
 * Agent tokens: `sla_` + 32 random bytes, stored as sha256, each bound to one environment, revocable.
 * Revocation notifies listeners (the engine disconnects the token's agents) after the update committed.
 */
import type { AgentTokenInfo, CreatedToken } from '../../shared/api';
import { badRequest, notFound } from '../../shared/errors';
import type { Db } from '../store/db';
import { getEnvironment } from '../store/environments';
import { AGENT_TOKEN_PREFIX, hashToken, looksLikeToken, newToken } from './tokens';

export interface AgentIdentity {
  tokenId: number;
  environmentId: number;
  environment: string;
}

interface Row {
  id: number;
  name: string;
  environment: string;
  environment_id: number;
  created_at: number;
  revoked_at: number | null;
}

export class AgentTokens {
  private readonly revokedListeners: ((tokenId: number) => void)[] = [];

  constructor(private readonly db: Db) {}

  /** Creates a token for an existing environment; the plain token is returned once. */
  create(environment: string, input: { name?: unknown }): CreatedToken {
    const name = input.name;
    if (typeof name !== 'string' || !name.trim() || name.length > 100) throw badRequest('name: required, at most 100 characters');
    const env = getEnvironment(this.db, environment);
    const token = newToken(AGENT_TOKEN_PREFIX);
    const r = this.db
      .prepare('INSERT INTO agent_tokens (environment_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(env.id, name.trim(), hashToken(token), Date.now());
    return { id: Number(r.lastInsertRowid), name: name.trim(), token };
  }

  list(environment: string): AgentTokenInfo[] {
    const env = getEnvironment(this.db, environment);
    const rows = this.db
      .prepare('SELECT t.*, e.name AS environment FROM agent_tokens t JOIN environments e ON e.id = t.environment_id WHERE t.environment_id = ? ORDER BY t.id')
      .all(env.id) as Row[];
    return rows.map((r) => ({ id: r.id, name: r.name, environment: r.environment, createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  /** Revokes a token (idempotent) and tells the listeners; not_found for an unknown id. */
  revoke(id: number): void {
    const row = this.db.prepare('SELECT revoked_at FROM agent_tokens WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw notFound(`agent token ${id}`);
    if (row.revoked_at === null) this.db.prepare('UPDATE agent_tokens SET revoked_at = ? WHERE id = ?').run(Date.now(), id);
    for (const l of this.revokedListeners) l(id);
  }

  /** The token's environment binding, or null when the token is unknown, malformed or revoked. */
  authenticate(token: string): AgentIdentity | null {
    if (typeof token !== 'string' || !looksLikeToken(token, AGENT_TOKEN_PREFIX)) return null;
    const row = this.db
      .prepare(
        'SELECT t.id, t.environment_id, e.name AS environment, t.revoked_at FROM agent_tokens t JOIN environments e ON e.id = t.environment_id WHERE t.token_hash = ?',
      )
      .get(hashToken(token)) as Row | undefined;
    if (!row || row.revoked_at !== null) return null;
    return { tokenId: row.id, environmentId: row.environment_id, environment: row.environment };
  }

  onRevoked(listener: (tokenId: number) => void): void {
    this.revokedListeners.push(listener);
  }
}
