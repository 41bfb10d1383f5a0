/**
 * Jobs over the jobs table (the Jobs interface of context.ts, plus the writes the API and the jobs/*.yml
 * loader need). Records are cached parsed, so the engine's byId on every trigger never re-parses
 * YAML; every write goes through here and refreshes the cache, then tells onChange listeners.
 * A job defined by a file (source 'file') is read-only through the API while its file manages it.
 * Job names are unique per team (migration 17): a job is (team, name); API paths and the CLI name it as `name`
 * among the caller's teams or `team/name` (resolve.ts).
 */
import { getBuildRow, toBuildInfo } from '../engine/builds/views';
import type { Logger } from 'pino';
import type { JobInfo } from '../../shared/api';
import { conflict, ValidationError, type FieldIssue } from '../../shared/errors';
import { DEFAULT_JOB_FILE, deployTargets, jobFieldIssue, parseJobYaml, stepLocator, type JobConfig, type StepKinds } from '../../shared/job';
import type { Access, JobRecord, Jobs, Principal } from '../context';
import { inTransaction, type Db } from '../store/db';
import { createJobsTable, type JobRow, type JobsTable } from '../store/jobs';
import { assertLocalRepoAllowed, type LocalRepoPolicy } from '../git/local-repos';
import { ensureTeam, findTeam, getTeam } from '../store/teams';
import { resolveJobRef } from './resolve';
import { imagePushIssues } from './push-grants';
import { pushGrantsOf } from '../store/registries';
import { parseDocument } from 'yaml';

export type ApplyResult = 'created' | 'updated' | 'unchanged';

export class JobsService implements Jobs {
  private readonly cache = new Map<number, JobRecord>();
  private readonly listeners: ((job: JobRecord | undefined, id: number) => void)[] = [];
  private readonly table: JobsTable;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    /** Where local repositories may live (master/git/local-repos.ts); checked on every save and apply. */
    private readonly localRepos: LocalRepoPolicy,
    /**
     * The step kinds with plugins (master/plugins/service.ts): jobs are validated with the enabled ones, and
     * stored jobs read with all installed ones (a disabled plugin does not make a job disappear). Default: built-ins.
     */
    private readonly kinds?: { allKinds(): StepKinds; enabledKinds(): StepKinds },
  ) {
    this.table = createJobsTable(db);
    for (const row of this.table.all()) this.cacheRow(row);
  }

  /** Every job of that name, one per team, enabled or not. */
  named(name: string): JobRecord[] {
    return [...this.cache.values()].filter((j) => j.name === name);
  }
  /** The team's job of that name, enabled or not. */
  byTeam(teamId: number, name: string): JobRecord | undefined {
    return [...this.cache.values()].find((j) => j.teamId === teamId && j.name === name);
  }
  /**
   * The job `ref` (`name` or `team/name`) names among the caller's teams, enabled or not: not_found when the
   * caller has none of that name (whether or not another team has one), conflict when several of their teams do.
   */
  resolve(p: Principal, access: Access, ref: string): JobRecord {
    return resolveJobRef(access, p, ref, (name) => this.named(name));
  }
  byId(id: number): JobRecord | undefined {
    return this.cache.get(id);
  }
  all(): JobRecord[] {
    return [...this.cache.values()].filter((j) => j.enabled);
  }
  onChange(listener: (job: JobRecord | undefined, id: number) => void): void {
    this.listeners.push(listener);
  }

  /** Jobs of the given teams, enabled or not, by name. */
  visible(teamIds: number[]): JobRecord[] {
    const teams = new Set(teamIds);
    return [...this.cache.values()].filter((j) => teams.has(j.teamId)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Validates a job as saveFromApi would (schema, then this master's local repository rule); throws invalid_job. */
  validate(yaml: string, file = DEFAULT_JOB_FILE): JobConfig {
    const config = parseJobYaml(yaml, file, this.kinds?.enabledKinds());
    if (config.repo) assertLocalRepoAllowed(config.repo.url, this.localRepos, config.name, file, yaml);
    return config;
  }

  /**
   * API create or update of the job the YAML names: the team's job of that name, else a new job of that team.
   * A job of that name in another team is never touched (moving a job is explicit: moveFromApi). Throws
   * invalid_job (with issues) for bad YAML, not_found/forbidden from the team check (edit role in the team the
   * YAML names), conflict for a job managed by a file. `file` is the caller's name for the text (a display label
   * only, never opened here): every issue of this save names it, so `slipway apply -f rival.yml` reads rival.yml.
   */
  saveFromApi(p: Principal, access: Access, yaml: string, file = DEFAULT_JOB_FILE): { job: JobRecord; created: boolean } {
    const config = this.validate(yaml, file);
    const team = getTeam(this.db, config.team);
    access.check(p, team.id, 'edit', `team '${team.name}'`);
    const existing = this.byTeam(team.id, config.name);
    if (existing?.source === 'file' && existing.enabled)
      throw conflict(`job '${existing.name}' is managed by ${existing.filePath}; change that file instead`);
    this.assertAppsOwned(config, team.id, existing?.id, yaml, file);
    this.assertPushesAllowed(config, team.id, yaml, file);
    const now = Date.now();
    if (existing) {
      this.table.update(existing.id, { teamId: team.id, yaml, source: 'api', filePath: null }, now);
      return { job: this.refresh(existing.id), created: false };
    }
    const id = this.table.insert({ name: config.name, teamId: team.id, yaml, source: 'api', filePath: null }, now);
    return { job: this.refresh(id), created: true };
  }

  /**
   * API move of the job `ref` names to another team, keeping its id (so its builds, logs, trigger history and
   * webhook deliveries stay with it) and rewriting the `team:` of its YAML (comments kept). The rule: manage role
   * in the job's team (the job leaves it, as with delete) and edit role in the target team (as creating a job
   * there). Throws not_found (the same `job 'X' not found` as a missing job) for a job outside the caller's teams,
   * not_found/forbidden from the team checks, conflict when the target team has a job of that name or a file
   * manages the job, invalid_job when the target team may not deploy one of the job's apps. Moving a job to the
   * team it is in changes nothing. Returns the job as it is now and the team it was in. `file` labels the job's
   * text in the issues of the refusal (display only), as for saveFromApi.
   */
  moveFromApi(p: Principal, access: Access, ref: string, teamName: string, file = DEFAULT_JOB_FILE): { job: JobRecord; from: string } {
    const job = this.resolve(p, access, ref);
    access.check(p, job.teamId, 'manage', `job '${ref}'`);
    const target = getTeam(this.db, teamName);
    access.check(p, target.id, 'edit', `team '${teamName}'`);
    if (job.source === 'file' && job.enabled) throw conflict(`job '${job.team}/${job.name}' is managed by ${job.filePath}; change the team: in that file instead`);
    if (target.id === job.teamId) return { job, from: job.team };
    if (this.byTeam(target.id, job.name)) throw conflict(`team '${target.name}' already has a job '${job.name}'; rename or delete one of them first`);
    const yaml = withTeam(job.yaml, target.name);
    const config = parseJobYaml(yaml, file, this.kinds?.allKinds());
    this.assertAppsOwned(config, target.id, job.id, yaml, file);
    this.assertPushesAllowed(config, target.id, yaml, file);
    this.table.move(job.id, { teamId: target.id, yaml }, Date.now());
    return { job: this.refresh(job.id), from: job.team };
  }

  /** API delete: disables the job (its builds stay); manage role; conflict for a file-managed job. */
  disableFromApi(p: Principal, access: Access, ref: string): void {
    const job = this.resolve(p, access, ref);
    access.check(p, job.teamId, 'manage', `job '${ref}'`);
    if (job.source === 'file' && job.enabled) throw conflict(`job '${ref}' is managed by ${job.filePath}; remove that file instead`);
    this.setEnabled(job, false);
  }

  /**
   * Applies one job file (label like `jobs/demo.yml`): creates its team when missing (configuration as code
   * must bootstrap an empty master), takes over an API job of the same team and name; a file whose `team:`
   * changed moves its job, and only that one: the enabled job this file path manages. Another file's job of the
   * same team and name is never taken over (invalid_job naming that file), and a job of the old team left by
   * the file (the new team already had a job of that name) is disabled, its history kept. Throws invalid_job.
   */
  applyFile(label: string, yaml: string): { job: JobRecord; result: ApplyResult } {
    const config = this.validate(yaml, label);
    const teamNow = findTeam(this.db, config.team);
    const inTeam = teamNow && this.byTeam(teamNow.id, config.name);
    if (inTeam?.source === 'file' && inTeam.enabled && inTeam.filePath !== label)
      throw new ValidationError('invalid_job', [jobFieldIssue(yaml, label, ['name'], `job '${config.team}/${config.name}' is already defined by ${inTeam.filePath}`)]);
    // The job this file manages now, in whichever team (a disabled one is history: its file was removed).
    const own = [...this.cache.values()].find((j) => j.source === 'file' && j.enabled && j.filePath === label);
    const existing = inTeam ?? (own?.name === config.name ? own : undefined);
    if (existing?.source === 'api') this.log.warn({ job: config.name, file: label }, 'job file takes over a job created through the API');
    if (existing && existing.source === 'file' && existing.enabled && existing.yaml === yaml && existing.filePath === label)
      return { job: existing, result: 'unchanged' };
    const left = own && own.id !== existing?.id ? own : undefined;
    const now = Date.now();
    const id = inTransaction(this.db, () => {
      const team = ensureTeam(this.db, config.team);
      this.assertAppsOwned(config, team.id, existing?.id, yaml, label);
      this.assertPushesAllowed(config, team.id, yaml, label);
      if (left) this.table.setEnabled(left.id, false, now);
      if (existing) {
        this.table.update(existing.id, { teamId: team.id, yaml, source: 'file', filePath: label }, now);
        return existing.id;
      }
      return this.table.insert({ name: config.name, teamId: team.id, yaml, source: 'file', filePath: label }, now);
    });
    if (left) {
      this.log.warn({ job: `${left.team}/${left.name}`, file: label }, 'job file now defines another job: its previous job is disabled, history kept');
      this.refresh(left.id);
    }
    return { job: this.refresh(id), result: existing ? 'updated' : 'created' };
  }

  /**
   * An app belongs to the team whose enabled jobs deploy it: a job of another team may not deploy an app of the
   * same name (its deploy would stop and replace the other team's containers and registrations). Throws
   * invalid_job naming the step as `yaml` writes it (shared/job/step-locator.ts), with the line of its app.
   */
  private assertAppsOwned(config: JobConfig, teamId: number, jobId: number | undefined, yaml: string, file: string): void {
    const issues: FieldIssue[] = [];
    const locator = stepLocator(config, yaml, file);
    for (const { app, stageIndex, stepIndex } of deployTargets(config)) {
      const other = [...this.cache.values()].find((j) => j.enabled && j.teamId !== teamId && j.id !== jobId && deployTargets(j.config).some((t) => t.app === app));
      if (other) issues.push(locator.issue(stageIndex, stepIndex, ['deploy', 'app'], `app '${app}' is deployed by jobs of another team; choose another app name`));
    }
    if (issues.length) throw new ValidationError('invalid_job', issues);
  }

  /**
   * Image steps push only under the prefixes of the team's registry grants (push-grants.ts): a team sharing a
   * registry must not overwrite another team's images. Throws invalid_job naming each step's image.name.
   */
  private assertPushesAllowed(config: JobConfig, teamId: number, yaml: string, file: string): void {
    const issues = imagePushIssues(config, yaml, file, pushGrantsOf(this.db, teamId));
    if (issues.length) throw new ValidationError('invalid_job', issues);
  }

  /** Disables enabled file jobs whose file is not among `presentFiles` (history kept). Returns their names. */
  disableRemovedFiles(presentFiles: Set<string>): string[] {
    const gone = [...this.cache.values()].filter((j) => j.source === 'file' && j.enabled && !presentFiles.has(j.filePath ?? ''));
    for (const job of gone) this.setEnabled(job, false);
    return gone.map((j) => j.name);
  }

  /** The public shape of a job (with the last build when there is one). */
  info(job: JobRecord): JobInfo {
    const lastId = this.table.lastBuildId(job.id);
    const last = lastId === undefined ? undefined : getBuildRow(this.db, lastId);
    const warnings = this.warnings(job);
    return {
      id: job.id,
      name: job.name,
      team: job.team,
      description: job.config.description,
      source: job.source,
      filePath: job.filePath,
      enabled: job.enabled,
      stages: job.config.stages.map((s) => ({ name: s.name, environment: s.environment })),
      params: job.config.params,
      lastBuild: last ? toBuildInfo(last) : null,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  /**
   * What keeps parts of the job from ever running, computed now (an environment created later clears it):
   * a stage whose environment does not exist waits forever, as no agent can be bound to it.
   */
  warnings(job: JobRecord): string[] {
    const known = new Set(this.table.environmentNames());
    return job.config.stages
      .filter((s) => !known.has(s.environment))
      .map((s) => `stage '${s.name}': environment '${s.environment}' does not exist; this stage can never run`);
  }

  private setEnabled(job: JobRecord, enabled: boolean): void {
    this.table.setEnabled(job.id, enabled, Date.now());
    this.refresh(job.id);
  }

  private refresh(id: number): JobRecord {
    const job = this.cacheRow(this.table.byId(id)!)!;
    for (const l of this.listeners) {
      try {
        l(job, job.id);
      } catch (err) {
        this.log.error({ err, job: job.name }, 'job change listener failed');
      }
    }
    return job;
  }

  private cacheRow(row: JobRow): JobRecord | undefined {
    let config;
    try {
      config = parseJobYaml(row.yaml, row.file_path ?? `job '${row.name}'`, this.kinds?.allKinds());
    } catch (err) {
      // Stored YAML passed validation when saved; only a schema change can make it fail later.
      this.log.error({ job: row.name, err: (err as Error).message }, 'stored job no longer validates; it is ignored until fixed');
      return undefined;
    }
    const job: JobRecord = {
      id: row.id,
      name: row.name,
      teamId: row.team_id,
      team: row.team,
      yaml: row.yaml,
      source: row.source,
      filePath: row.file_path,
      enabled: row.enabled === 1,
      config,
    };
    this.cache.set(job.id, job);
    return job;
  }
}

/** The job file text with its top-level `team:` set to `team`; comments and layout elsewhere stay. */
function withTeam(yaml: string, team: string): string {
  const doc = parseDocument(yaml);
  doc.set('team', team);
  return doc.toString();
}
