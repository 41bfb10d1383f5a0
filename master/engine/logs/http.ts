/**
 * Small HTTP helpers shared by the engine-logs routers (logs, search, artifacts): parameter parsing with
 * errors that name the parameter, and the team check of a build. Handlers throw SlipwayError; the
 * platform's app-level error handler (master/http/errors.ts) turns it into its status and ErrorBody.
 */
import { buildsStore } from '../../store/builds';
import type { Request } from 'express';
import { badRequest, notFound, SlipwayError, unauthenticated } from '../../../shared/errors';
import { parsePositiveInt } from '../../../shared/ids';
import type { Action, MasterContext, Principal } from '../../context';

/** A positive integer from a path or query parameter; throws invalid_request naming it. */
export const positiveInt = (value: unknown, name: string): number => parsePositiveInt(value, name);

/** An optional single string query parameter; throws invalid_request when it is given twice or nested. */
export function optionalString(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name}: give it once, as a plain string`);
  return v;
}

/** The principal set by the platform's auth middleware (the engine router sits behind it). */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw unauthenticated();
  return req.principal;
}

export interface BuildRef {
  id: number;
  number: number;
  status: string;
  jobId: number;
  job: string;
  teamId: number;
}

/**
 * The build with its job and team, after the caller's team check: not_found when it does not exist or the
 * caller is outside its team (the same answer, so ids of other teams' builds leak nothing), forbidden when
 * the role or token scope is too low.
 */
export function visibleBuild(ctx: MasterContext, p: Principal, buildId: number, action: Action = 'read'): BuildRef {
  const b: BuildRef | undefined = buildsStore(ctx.db).buildRef(buildId);
  if (!b) throw notFound(`build ${buildId}`);
  try {
    ctx.access.check(p, b.teamId, action, `build ${buildId}`);
  } catch (err) {
    if (err instanceof SlipwayError && err.code === 'not_found') throw notFound(`build ${buildId}`);
    throw err;
  }
  return b;
}
