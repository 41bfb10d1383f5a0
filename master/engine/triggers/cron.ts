/**
 * Cron triggers: one node-cron task per expression of every enabled job, in the job's time zone
 * (triggers.timezone, default the master's). A fire creates a build with trigger { kind: 'cron' } and
 * default parameters; a job with a repo builds its repo.branch head as ls-remote reports it at the fire
 * (a fire whose repository cannot be read creates no build and is logged). Re-planned for a job whenever
 * ctx.jobs.onChange reports it created, updated,
 * disabled or removed.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { JobRecord } from '../../context';
import { createMasterGit } from '../../git';
import { headForBuild } from '../../git/head';
import { createBuild } from '../builds/create-build';
import { resolveParams } from '../builds/create-build';
import { Effects, type EngineCore } from '../core';

export interface CronTriggers {
  /** Expressions currently planned, by job id (tests, diagnostics; names are unique per team only). */
  planned(): Map<number, string[]>;
  stop(): void;
}

export function startCron(core: EngineCore): CronTriggers {
  const { ctx } = core;
  const tasks = new Map<number, { exprs: string[]; tasks: ScheduledTask[] }>();
  const git = createMasterGit(ctx);

  function unplan(jobId: number): void {
    for (const t of tasks.get(jobId)?.tasks ?? []) void t.stop();
    tasks.delete(jobId);
  }

  function plan(job: JobRecord): void {
    unplan(job.id);
    if (!job.enabled || !job.config.triggers.cron.length) return;
    const planned: ScheduledTask[] = [];
    for (const expr of job.config.triggers.cron) {
      if (!cron.validate(expr)) {
        ctx.log.error({ job: job.name, expr }, `job '${job.name}': invalid cron expression '${expr}', not scheduled`);
        continue;
      }
      try {
        planned.push(cron.schedule(expr, () => void fire(job.id, expr), { timezone: job.config.triggers.timezone, name: `${job.id}:${expr}` }));
      } catch (err) {
        ctx.log.error({ job: job.name, expr, err: (err as Error).message }, `job '${job.name}': cron not scheduled`);
      }
    }
    tasks.set(job.id, { exprs: job.config.triggers.cron, tasks: planned });
  }

  async function fire(jobId: number, expr: string): Promise<void> {
    // Re-read the job: the task may fire just after an update that the listener has not re-planned yet.
    const job = ctx.jobs.byId(jobId);
    if (!job || !job.enabled) return;
    const name = job.name;
    try {
      const branch = job.config.repo?.branch ?? null;
      const head = job.config.repo && branch ? await headForBuild(git, job, branch) : null;
      if (core.stopped) return;
      const fx = new Effects();
      createBuild(core, fx, {
        jobId: job.id,
        yaml: job.yaml,
        config: job.config,
        params: resolveParams(job.config, {}),
        branch,
        ref: head?.ref ?? null,
        sha: head?.sha ?? null,
        trigger: { kind: 'cron', cron: expr },
      });
      core.apply(fx);
    } catch (err) {
      ctx.log.error({ job: name, err }, 'cron trigger failed');
    }
  }

  for (const job of ctx.jobs.all()) plan(job);
  ctx.jobs.onChange((job, id) => (job ? plan(job) : unplan(id)));

  return {
    planned: () => new Map([...tasks].map(([k, v]) => [k, v.exprs])),
    stop() {
      for (const id of [...tasks.keys()]) unplan(id);
    },
  };
}
