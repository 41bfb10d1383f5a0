/**
 * Agent tokens: `sla_` + 32 random bytes, stored as sha256, each bound to one environment, revocable.
 * Revocation notifies listeners (the engine disconnects the token's agents) after the update committed.
 */
import type { AgentTokenInfo, CreatedToken } from '../../shared/api';
import { badRequest, notFound } from '../../shared/errors';
import type { Db } from '../store/db';
import { identitiesStore, type IdentitiesStore } from '../store/identities';
import { getEnvironment } from '../store/environments';
import { AGENT_TOKEN_PREFIX, hashToken, looksLikeToken, newToken } from './tokens';

export interface AgentIdentity {
  tokenId: number;
  environmentId: number;
  environment: string;
}

export class AgentTokens {
  private readonly revokedListeners: ((tokenId: number) => void)[] = [];

  private readonly ids: IdentitiesStore;

  constructor(private readonly db: Db) {
    this.ids = identitiesStore(db);
  }

  /** Creates a token for an existing environment; the plain token is returned once. */
  create(environment: string, input: { name?: unknown }): CreatedToken {
    const name = input.name;
    if (typeof name !== 'string' || !name.trim() || name.length > 100) throw badRequest('name: required, at most 100 characters');
    const env = getEnvironment(this.db, environment);
    const token = newToken(AGENT_TOKEN_PREFIX);
    const id = this.ids.insertAgentToken(env.id, name.trim(), hashToken(token), Date.now());
    return { id, name: name.trim(), token };
  }

  list(environment: string): AgentTokenInfo[] {
    const env = getEnvironment(this.db, environment);
    return this.ids.agentTokensOf(env.id).map((r) => ({ id: r.id, name: r.name, environment: r.environment, createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  /** Revokes a token (idempotent) and tells the listeners; not_found for an unknown id. */
  revoke(id: number): void {
    const row = this.ids.agentTokenById(id);
    if (!row) throw notFound(`agent token ${id}`);
    if (row.revoked_at === null) this.ids.revokeAgentToken(id, Date.now());
    for (const l of this.revokedListeners) l(id);
  }

  /** The token's environment binding, or null when the token is unknown, malformed or revoked. */
  authenticate(token: string): AgentIdentity | null {
    if (typeof token !== 'string' || !looksLikeToken(token, AGENT_TOKEN_PREFIX)) return null;
    const row = this.ids.agentTokenByHash(hashToken(token));
    if (!row || row.revoked_at !== null) return null;
    return { tokenId: row.id, environmentId: row.environment_id, environment: row.environment };
  }

  onRevoked(listener: (tokenId: number) => void): void {
    this.revokedListeners.push(listener);
  }
}
