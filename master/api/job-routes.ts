/**
 * Jobs through the API: list (visible teams), read, create/update from YAML (edit role), disable (manage
 * role), move to another team (manage role in its team, edit role in the target) and validate. Jobs managed
 * by a jobs/*.yml file are read-only here (409 naming the file).
 * Save, validate and move take an optional `file` in the body: the caller's name for the YAML text, used only as
 * the label of error issues (`rival.yml:14:16: ...`, default `job.yml`); the master never opens it.
 */
import express, { type Router } from 'express';
import { badRequest } from '../../shared/errors';
import { DEFAULT_JOB_FILE, jobFileLabelProblem } from '../../shared/job';
import { body, principal, strParam, type Platform } from './platform';
import { allow } from '../route-access';

const MAX_YAML_BYTES = 256 * 1024;

function yamlOf(b: Record<string, unknown>): string {
  if (typeof b.yaml !== 'string' || !b.yaml.trim()) throw badRequest('yaml: the job file text is required');
  if (Buffer.byteLength(b.yaml) > MAX_YAML_BYTES) throw badRequest(`yaml: at most ${MAX_YAML_BYTES} bytes`);
  return b.yaml;
}

/** The optional `file` label of a request body (shared/job/file-label.ts); a bad one is invalid_request naming `file`. */
function fileOf(b: Record<string, unknown>): string {
  if (b.file === undefined) return DEFAULT_JOB_FILE;
  if (typeof b.file !== 'string') throw badRequest('file: must be a string naming the job file (a label for errors; default job.yml)');
  const problem = jobFileLabelProblem(b.file);
  if (problem) throw badRequest(`file: ${problem}`);
  return b.file;
}

export function jobRoutes(pf: Platform): Router {
  const r = express.Router();
  const { access } = pf.ctx;

  r.get('/jobs', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const p = principal(req);
    res.json(pf.jobs.visible(access.visibleTeamIds(p)).map((j) => pf.jobs.info(j)));
  });
  r.post('/jobs/validate', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const b = body(req);
    pf.jobs.validate(yamlOf(b), fileOf(b));
    res.json({ ok: true });
  });
  r.post('/jobs', allow({ kind: 'team', action: 'edit' }), (req, res) => {
    const p = principal(req);
    const b = body(req);
    const { job, created } = pf.jobs.saveFromApi(p, access, yamlOf(b), fileOf(b));
    const warnings = pf.jobs.warnings(job);
    pf.ctx.log.info({ job: job.name, team: job.team, by: p.username, created, ...(warnings.length ? { warnings } : {}) }, 'job saved');
    res.status(created ? 201 : 200).json(pf.jobs.info(job));
  });
  r.get('/jobs/:job', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const name = strParam(req, 'job');
    const job = pf.jobs.resolve(principal(req), access, name);
    access.check(principal(req), job.teamId, 'read', `job '${name}'`);
    res.json({ ...pf.jobs.info(job), yaml: job.yaml });
  });
  r.post('/jobs/:job/move', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const p = principal(req);
    const ref = strParam(req, 'job');
    const b = body(req);
    const team = b.team;
    if (typeof team !== 'string' || !team) throw badRequest('team: the name of the team to move the job to is required');
    const { job, from } = pf.jobs.moveFromApi(p, access, ref, team, fileOf(b));
    pf.ctx.log.info({ job: job.name, from, to: job.team, by: p.username }, 'job moved');
    res.json(pf.jobs.info(job));
  });
  r.delete('/jobs/:job', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const p = principal(req);
    const name = strParam(req, 'job');
    pf.jobs.disableFromApi(p, access, name);
    pf.ctx.log.info({ job: name, by: p.username }, 'job disabled');
    res.status(204).end();
  });
  return r;
}
