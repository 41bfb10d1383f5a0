/**
 * Agent tokens end to end: an agent started with a token of one environment connects there; revoking the
 * token through the API disconnects it, and the token no longer authenticates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

describe('agent token revocation', () => {
  let master: TestMaster;
  beforeAll(async () => {
    master = await startMaster();
  });
  afterAll(async () => {
    await master?.stop();
  });

  it('disconnects the agents of a revoked token', async () => {
    const agent = await startAgent(master, { environment: 'ci', name: 'revoke-me' });
    const [token] = await master.api.listAgentTokens('ci');
    expect(token).toMatchObject({ name: 'revoke-me', environment: 'ci', revokedAt: null });
    await master.api.revokeAgentToken(token.id);
    const state = await waitFor('agent disconnected after revocation', async () => {
      const a = (await master.api.listAgents()).find((x) => x.name === 'revoke-me');
      return a && a.state !== 'connected' && a.state !== 'busy' ? a.state : undefined;
    });
    expect(['offline', 'lost']).toContain(state);
    expect(master.output()).toMatch(/agent token revoked/);
    await agent.kill();
  });
});
