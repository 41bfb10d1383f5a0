/**
 * The security matrix (test/helpers/security-matrix.ts): every HTTP route from the master's own route table
 * and every client stream message type, as anonymous, another team's maintainer, viewer, developer,
 * maintainer, admin and read/write API tokens, against the access rule each declares. Prints the number of
 * route x caller pairs checked (npm run bench records it as security_matrix_checks).
 */
import express from 'express';
import { describe, expect, it } from 'vitest';
import { allow, assertEveryRouteDeclared, listRoutes } from '../../master/route-access';
import { runSecurityMatrix } from '../helpers/security-matrix';

describe('security matrix', () => {
  it('a route without an access rule is found, and stops the app from being built', () => {
    const app = express();
    const inner = express.Router();
    inner.get('/declared/:id', allow({ kind: 'team', action: 'read' }), (_req, res) => void res.end());
    inner.post('/forgotten', (_req, res) => void res.end());
    app.use('/api/v1', inner);
    expect(listRoutes(app)).toEqual([
      { method: 'GET', path: '/api/v1/declared/:id', access: { kind: 'team', action: 'read' } },
      { method: 'POST', path: '/api/v1/forgotten', access: undefined },
    ]);
    expect(() => assertEveryRouteDeclared(app)).toThrow(/POST \/api\/v1\/forgotten/);
  });

  it('every route and stream message answers every caller as its declared rule says', async () => {
    const result = await runSecurityMatrix((line) => console.log(line));
    console.log(`security_matrix_checks: ${result.checks.length} (${result.routes.length} routes + ${result.streamTypes.length} stream message types, x ${result.callers.length} callers)`);
    expect(result.failures).toEqual([]);
    // Sanity: the table really came from the master (the routes every user knows are in it).
    expect(result.routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['GET /api/v1/builds/:id', 'POST /api/v1/tokens', 'POST /api/v1/hooks/github', 'GET /api/v1/app-logs/stats']));
    expect(result.checks.length).toBe((result.routes.length + result.streamTypes.length) * result.callers.length);
  }, 180_000);
});
