/** What the platform's API routes share: the master context plus the platform services behind it. */
import type { Request } from 'express';
import { badRequest, unauthenticated } from '../../shared/errors';
import { parsePositiveInt } from '../../shared/ids';
import type { AgentTokens } from '../auth/agent-tokens';
import type { RateLimiter } from '../auth/rate-limit';
import type { MasterContext, Principal } from '../context';
import '../http/principal';
import type { JobsService } from '../jobs/service';
import type { RegistryStore } from '../store/registries';
import type { SecretStore } from '../secrets/store';

export interface Platform {
  ctx: MasterContext;
  jobs: JobsService;
  secrets: SecretStore;
  registries: RegistryStore;
  agentTokens: AgentTokens;
  loginLimiter: RateLimiter;
}

/** The authenticated caller (the auth middleware guarantees it on these routes). */
export function principal(req: Request): Principal {
  if (!req.principal) throw unauthenticated();
  return req.principal;
}

/** A positive integer route parameter; invalid_request naming it otherwise. */
export function intParam(req: Request, name: string): number {
  return parsePositiveInt(req.params[name], name);
}

/** A string route parameter. */
export function strParam(req: Request, name: string): string {
  const raw = req.params[name];
  if (typeof raw !== 'string' || !raw) throw badRequest(`${name}: required`);
  return raw;
}

/** The JSON body as an object; invalid_request when it is missing or not an object. */
export function body(req: Request): Record<string, unknown> {
  const b = req.body as unknown;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw badRequest('request body must be a JSON object (Content-Type: application/json)');
  return b as Record<string, unknown>;
}
