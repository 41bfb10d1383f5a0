/**
 * Deciding a stage's approval gate (gates.ts): POST /builds/:id/stages/:stage/approve and /reject, body
 * `{ comment? }`. The approvers are the gate's (a member of the teams it names, with the role it needs, or an
 * admin), who need not be in the job's team. Anyone else learns what the job's team lets them: 404 outside it
 * (exactly as for a build that does not exist), 403 naming who may decide for its members, 409 when the stage
 * does not wait for approval.
 * GET /approvals lists the open gates the caller may see: those of builds of the caller's teams (every one for an
 * admin) and those the caller may decide, each with `mayDecide`.
 */
import { Router, type Request } from 'express';
import type { PendingApproval } from '../../../shared/api';
import { badRequest, conflict, forbidden, notFound } from '../../../shared/errors';
import { parsePositiveInt } from '../../../shared/ids';
import type { Principal } from '../../context';
import { allow } from '../../route-access';
import { approvalsStore, toApprovalInfo } from '../../store/approvals';
import { Effects, type EngineCore } from '../core';
import { approveGate, describeGate, failGate, gateOf, mayDecide } from './gates';
import { getBuildRow, toBuildInfo } from './views';
import { inTransaction } from '../../store/db';

const MAX_COMMENT = 2000;

function principal(req: Request): Principal {
  if (!req.principal) throw new Error('engine router mounted without user authentication');
  return req.principal;
}

export function approvalRoutes(core: EngineCore): Router {
  const { ctx, db } = core;
  const r = Router();

  function decide(req: Request, decision: 'approve' | 'reject') {
    const p = principal(req);
    const id = parsePositiveInt(req.params.id, 'build id');
    const stage = String(req.params.stage);
    const raw = (req.body as { comment?: unknown } | undefined)?.comment;
    if (raw !== undefined && (typeof raw !== 'string' || raw.length > MAX_COMMENT)) throw badRequest(`comment: a string of at most ${MAX_COMMENT} characters`);
    const comment = typeof raw === 'string' && raw.trim() ? raw.trim() : null;
    const row = getBuildRow(db, id);
    if (!row) throw notFound(`build ${id}`);
    const open = approvalsStore(db).waitingOf(id, stage);
    const stageConfig = open ? core.buildConfig(id).stages[open.stage_index] : undefined;
    // The rules as they are now (an environment's protection may have changed while the build waited).
    const gate = stageConfig ? gateOf(db, stageConfig) : null;
    const authorised = !!open && (gate ? mayDecide(core, p, gate) : mayTrigger(p, row.team_id));
    if (!open || !authorised) {
      // Not an approver: the job's team decides what the caller may learn (404 outside it).
      ctx.access.check(p, row.team_id, 'read', `build ${id}`);
      if (!open) {
        ctx.access.check(p, row.team_id, 'trigger', `build ${id}`);
        throw conflict(`stage '${stage}' of build ${id} (${row.job}#${row.number}) is not waiting for approval (build status ${row.status})`);
      }
      throw forbidden(`you may not ${decision} stage '${stage}' of build ${id} (${row.job}#${row.number}): it needs ${gate ? describeGate(gate) : open.required}`);
    }
    const now = Date.now();
    const fx = new Effects();
    inTransaction(db, () => {
      if (decision === 'approve') approveGate(core, fx, open, p.username, comment, now);
      else failGate(core, fx, open, 'rejected', p.username, comment, `stage '${stage}' rejected by ${p.username}${comment ? `: ${comment}` : ''}`, now);
    });
    core.apply(fx);
    ctx.log.info({ buildId: id, stage, by: p.username, decision }, 'approval gate decided');
    return toBuildInfo(getBuildRow(db, id)!);
  }

  /** Without rules left (the environment is no longer protected), the job team's trigger role decides. */
  function mayTrigger(p: Principal, teamId: number): boolean {
    try {
      ctx.access.check(p, teamId, 'trigger', 'build');
      return true;
    } catch {
      return false;
    }
  }

  r.get('/approvals', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const p = principal(req);
    const out: PendingApproval[] = [];
    for (const open of approvalsStore(db).allWaiting()) {
      const row = getBuildRow(db, open.build_id);
      if (!row) continue;
      const stageConfig = core.buildConfig(row.id).stages[open.stage_index];
      const gate = stageConfig ? gateOf(db, stageConfig) : null;
      const decides = gate ? mayDecide(core, p, gate) : mayTrigger(p, row.team_id);
      if (!decides && !p.isAdmin && ctx.access.roleIn(p, row.team_id) === null) continue;
      out.push({ ...toApprovalInfo(open), buildId: row.id, job: row.job, team: row.team, number: row.number, mayDecide: decides });
    }
    res.json(out);
  });

  r.post('/builds/:id/stages/:stage/approve', allow({ kind: 'team', action: 'trigger' }), (req, res) => {
    res.json(decide(req, 'approve'));
  });
  r.post('/builds/:id/stages/:stage/reject', allow({ kind: 'team', action: 'trigger' }), (req, res) => {
    res.json(decide(req, 'reject'));
  });
  return r;
}
