/**
 * The platform's API routes (the [P] routes of shared/api.ts). `loginRoutes` is public; `platformRoutes`
 * is mounted at /api/v1 after user authentication, before the engine's router.
 */
import express, { type Router } from 'express';
import { adminRoutes } from './admin-routes';
import { meRoutes } from './auth-routes';
import { discoveryRoutes } from './discovery-routes';
import { jobRoutes } from './job-routes';
import { registryRoutes } from './registry-routes';
import type { Platform } from './platform';
import { teamRoutes } from './team-routes';

export { loginRoutes } from './auth-routes';
export type { Platform } from './platform';

export function platformRoutes(pf: Platform): Router {
  const r = express.Router();
  r.use(meRoutes(pf), adminRoutes(pf), teamRoutes(pf), jobRoutes(pf), registryRoutes(pf), discoveryRoutes(pf));
  return r;
}
