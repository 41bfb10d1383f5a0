/**
 * Configuration as code: applies every jobs/*.yml (and *.yaml) at master start. A file that does not
 * validate is reported (file:line: field: message) and skipped, and the job it defined last time keeps
 * its previous definition; the master still starts. An enabled file job whose file is gone is disabled
 * (its builds are kept).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ValidationError, formatIssue } from '../../shared/errors';
import { jobFieldIssue } from '../../shared/job';
import type { JobsService } from './service';

export interface LoadReport {
  applied: { file: string; job: string; result: string }[];
  /** One line per problem, e.g. "jobs/bad.yml:3:5: stages[0].environment: ..." */
  errors: string[];
  disabled: string[];
}

/** Loads the directory's job files into `jobs`; labels files as `jobs/<file>` in records and errors. */
export function loadJobFiles(dir: string, jobs: JobsService, log: Logger): LoadReport {
  const report: LoadReport = { applied: [], errors: [], disabled: [] };
  if (!existsSync(dir)) {
    report.errors.push(`jobs directory ${dir} does not exist`);
    log.error({ dir }, 'jobs directory does not exist; no job files applied');
    return report;
  }
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const present = new Set<string>();
  const definedBy = new Map<string, string>();
  for (const file of files) {
    const label = `jobs/${file}`;
    present.add(label);
    try {
      const text = readFileSync(join(dir, file), 'utf8');
      // Job names are unique per team: two files may use one name for jobs of different teams.
      const name = peekName(text);
      const key = `${peekTeam(text) ?? ''}/${name}`;
      if (name && definedBy.has(key))
        throw new ValidationError('invalid_job', [jobFieldIssue(text, label, ['name'], `job '${name}' is already defined by ${definedBy.get(key)}`)]);
      const { job, result } = jobs.applyFile(label, text);
      definedBy.set(`${job.team}/${job.name}`, label);
      report.applied.push({ file: label, job: job.name, result });
      for (const warning of jobs.warnings(job)) log.warn({ job: job.name, file: label }, `job file ${label}: ${warning}`);
    } catch (err) {
      const lines = err instanceof ValidationError ? err.issues.map(formatIssue) : [`${label}: ${(err as Error).message}`];
      report.errors.push(...lines);
      for (const line of lines) log.error(`invalid job file: ${line}`);
    }
  }
  report.disabled = jobs.disableRemovedFiles(present);
  for (const name of report.disabled) log.warn({ job: name }, 'job file removed: job disabled, history kept');
  log.info({ applied: report.applied.length, errors: report.errors.length, disabled: report.disabled.length }, `applied job files from ${dir}`);
  return report;
}

/** The top-level `name:` of a job file without a full parse (to report duplicates before applying). */
function peekName(text: string): string | undefined {
  return /^name:\s*["']?([a-z0-9][a-z0-9_.-]*)["']?\s*$/m.exec(text)?.[1];
}

/** The top-level `team:` likewise. */
function peekTeam(text: string): string | undefined {
  return /^team:\s*["']?([a-z0-9][a-z0-9_.-]*)["']?\s*$/m.exec(text)?.[1];
}
