import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentTokens } from '../../master/auth/agent-tokens';
import { createApiToken, hasScope, listApiTokens, revokeApiToken } from '../../master/auth/api-tokens';
import { createAuthenticator, signSession } from '../../master/auth/authenticate';
import { hashToken, newToken } from '../../master/auth/tokens';
import { createUser, ensureAdmin } from '../../master/auth/users';
import { verifyPassword } from '../../master/auth/passwords';
import { createRateLimiter } from '../../master/auth/rate-limit';
import type { Principal } from '../../master/context';
import { createEnvironment } from '../../master/store/environments';
import jwt from 'jsonwebtoken';
import { tempStore } from './platform-fixtures';

const SECRET = 'a'.repeat(64);

describe('credentials', () => {
  let store: ReturnType<typeof tempStore>;
  let auth: ReturnType<typeof createAuthenticator>;
  let alice: Principal;

  beforeEach(async () => {
    store = tempStore();
    auth = createAuthenticator(store.db, SECRET);
    const u = await createUser(store.db, { username: 'alice', password: 'correct horse' });
    alice = auth(signSession(SECRET, u).token)!;
  });
  afterEach(() => store.cleanup());

  it('stores only the sha256 of an API token and authenticates it with its scopes', () => {
    const created = createApiToken(store.db, alice, { name: 'ci', scopes: ['read'] });
    expect(created.token).toMatch(/^slp_[A-Za-z0-9_-]{43}$/);
    const stored = store.db.prepare('SELECT token_hash FROM api_tokens').pluck().all();
    expect(stored).toEqual([hashToken(created.token)]);
    expect(JSON.stringify(store.db.prepare('SELECT * FROM api_tokens').all())).not.toContain(created.token);
    const p = auth(created.token);
    expect(p).toMatchObject({ username: 'alice', scopes: ['read'], via: 'token', isAdmin: false });
    expect(listApiTokens(store.db, alice.userId)[0].lastUsedAt).not.toBeNull();
  });

  it('refuses revoked, unknown and tampered tokens', () => {
    const { id, token } = createApiToken(store.db, alice, { name: 'x', scopes: ['write'] });
    expect(auth(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect(auth(newToken('slp_'))).toBeNull();
    revokeApiToken(store.db, alice, id);
    expect(auth(token)).toBeNull();
  });

  it('refuses JWTs signed with another secret, expired or with alg none', () => {
    expect(auth(signSession('b'.repeat(64), { id: alice.userId, username: 'alice' }).token)).toBeNull();
    const expired = jwt.sign({ sub: String(alice.userId), exp: Math.floor(Date.now() / 1000) - 10 }, SECRET, { algorithm: 'HS256' });
    expect(auth(expired)).toBeNull();
    const none = jwt.sign({ sub: String(alice.userId) }, '', { algorithm: 'none' });
    expect(auth(none)).toBeNull();
  });

  it('does not let a read token mint a write token, nor a non-admin an admin token', () => {
    const read = auth(createApiToken(store.db, alice, { name: 'r', scopes: ['read'] }).token)!;
    expect(() => createApiToken(store.db, read, { name: 'w', scopes: ['write'] })).toThrow(/lacks the 'write' scope/);
    expect(() => createApiToken(store.db, read, { name: 'r', scopes: ['read'] })).toThrow(/needs the 'write' scope/);
    expect(() => createApiToken(store.db, alice, { name: 'a', scopes: ['admin'] })).toThrow(/only instance admins/);
    expect(() => createApiToken(store.db, alice, { name: 'bad', scopes: ['root'] })).toThrow(/scopes: a non-empty list/);
    expect(hasScope(['admin'], 'read')).toBe(true);
    expect(hasScope(['read'], 'write')).toBe(false);
  });

  it('binds agent tokens to one environment and forgets them when revoked, telling listeners', () => {
    createEnvironment(store.db, { name: 'ci' });
    const tokens = new AgentTokens(store.db);
    const { id, token } = tokens.create('ci', { name: 'agent-1' });
    expect(token).toMatch(/^sla_/);
    expect(tokens.authenticate(token)).toMatchObject({ tokenId: id, environment: 'ci' });
    expect(tokens.authenticate(newToken('sla_'))).toBeNull();
    const revoked: number[] = [];
    tokens.onRevoked((t) => revoked.push(t));
    tokens.revoke(id);
    expect(tokens.authenticate(token)).toBeNull();
    expect(revoked).toEqual([id]);
    expect(() => tokens.create('nope', { name: 'x' })).toThrow(/environment 'nope' not found/);
  });

  it('creates the admin once, with a generated password when none is given', async () => {
    const fresh = tempStore();
    try {
      const first = await ensureAdmin(fresh.db);
      expect(first?.generatedPassword).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(await ensureAdmin(fresh.db, 'another-password')).toBeNull();
      const hash = fresh.db.prepare("SELECT password_hash FROM users WHERE username = 'admin'").pluck().get() as string;
      expect(await verifyPassword(first!.generatedPassword!, hash)).toBe(true);
      expect(await verifyPassword('wrong-password', hash)).toBe(false);
    } finally {
      fresh.cleanup();
    }
  });

  it('rate-limits attempts per key within the window', () => {
    const rl = createRateLimiter(3, 60_000);
    expect([1, 2, 3].map(() => rl.hit('ip|bob', 1000))).toEqual([0, 0, 0]);
    expect(rl.hit('ip|bob', 2000)).toBe(59);
    expect(rl.hit('ip|eve', 2000)).toBe(0);
    expect(rl.hit('ip|bob', 61_001)).toBe(0);
  });
});
