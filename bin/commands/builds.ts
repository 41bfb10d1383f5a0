/** Job and build commands: apply, jobs, trigger, builds, build, cancel. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { BuildDetail, BuildInfo, TestResultInfo } from '../../shared/api';
import { badRequest, conflict } from '../../shared/errors';
import { jobFileLabelProblem, parseJobYaml } from '../../shared/job';
import { localStepKinds } from './plugins';
import { parseId, sessionClient } from '../lib/client';
import { followBuild } from '../lib/follow';
import { formatDuration, formatTime, printJson, printTable, shortValue } from '../lib/output';

/** `-p KEY=VALUE` collector. */
function collectParam(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw badRequest(`-p expects KEY=VALUE, got '${value}'`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function buildRow(b: BuildInfo) {
  return [b.id, `${b.job}#${b.number}`, b.status, b.trigger.user ?? b.trigger.kind, formatTime(b.createdAt), formatDuration(b.startedAt, b.finishedAt)];
}
const BUILD_HEADERS = ['ID', 'BUILD', 'STATUS', 'BY', 'CREATED', 'DURATION'];

/** An output value on one line (lists joined, long values clipped). */
function showValue(v: string | number | boolean | string[]): string {
  const s = Array.isArray(v) ? `[${v.join(', ')}]` : String(v);
  const line = s.replace(/\n/g, '\\n');
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

/** The end reason after a status, when it says more than the status (lost, gate_rejected, gate_expired). */
function endNote(status: string, reason: string | null | undefined): string {
  return reason && reason !== status && reason !== 'succeeded' ? ` (${reason})` : '';
}

function printBuildDetail(b: BuildDetail, tests: TestResultInfo[]): void {
  process.stdout.write(`build ${b.id}: ${b.job}#${b.number} ${b.status}${endNote(b.status, b.endReason)}\n`);
  process.stdout.write(`  team ${b.team}, triggered by ${b.trigger.user ?? b.trigger.kind} at ${formatTime(b.createdAt)}\n`);
  if (Object.keys(b.params).length) {
    process.stdout.write(`  params ${Object.entries(b.params).map(([k, v]) => `${k}=${shortValue(v)}`).join(' ')}\n`);
  }
  if (b.error) process.stdout.write(`  error: ${b.error}\n`);
  for (const s of b.stages) {
    const attempt = s.attempt > 1 ? ` (attempt ${s.attempt})` : '';
    process.stdout.write(`\nstage ${s.name}${attempt} [${s.environment}] ${s.status}${endNote(s.status, s.endReason)} on ${s.agent ?? '-'} ${formatDuration(s.startedAt, s.finishedAt)}\n`);
    if (s.error) process.stdout.write(`  error: ${s.error}\n`);
    if (s.waiting) process.stdout.write(`  ${s.waiting}\n`);
    for (const st of s.steps) {
      const exit = st.exitCode === null ? '' : ` exit ${st.exitCode}`;
      const dur = st.durationMs === null ? '' : ` ${(st.durationMs / 1000).toFixed(1)}s`;
      process.stdout.write(`  ${String(st.index + 1).padStart(2)}. ${st.name} (${st.kind}) ${st.status}${exit}${dur}${st.error ? ` - ${st.error}` : ''}\n`);
      for (const [k, v] of Object.entries(st.outputs ?? {})) process.stdout.write(`        output ${k} = ${showValue(v)}\n`);
    }
  }
  if (b.approvals?.length) {
    process.stdout.write('\napprovals\n');
    for (const a of b.approvals) {
      const by = a.decidedBy ? ` by ${a.decidedBy}` : '';
      const when = a.decidedAt ? ` at ${formatTime(a.decidedAt)}` : a.status === 'waiting' ? `, expires ${formatTime(a.expiresAt)}` : '';
      process.stdout.write(`  stage ${a.stage} [${a.environment}] ${a.status}${by}${when}${a.comment ? `: ${a.comment}` : ''}\n`);
      if (a.status === 'waiting') process.stdout.write(`    needs ${a.required}\n`);
    }
  }
  if (b.reports?.length) {
    process.stdout.write('\nreports\n');
    for (const r of b.reports) {
      const stage = b.stages.find((s) => s.id === r.stageRunId);
      const where = `${stage?.name ?? r.stageRunId} step ${r.stepIndex + 1}`;
      if (r.status !== 'parsed') process.stdout.write(`  ${r.format} ${r.path} (${where}): ${r.status} - ${r.error}\n`);
      else if (r.format === 'sarif') process.stdout.write(`  ${r.format} ${r.path} (${where}): ${r.findings} findings, ${r.newFindings} new (slipway findings ${b.id})\n`);
      else
        process.stdout.write(
          `  ${r.format} ${r.path} (${where}): ${r.tests} tests, ${r.tests - r.failures - r.errors - r.skipped} passed, ${r.failures} failed, ${r.errors} errors, ${r.skipped} skipped, ${(r.durationMs / 1000).toFixed(2)}s\n`,
        );
    }
    for (const t of tests.filter((t) => t.status === 'failed' || t.status === 'error')) {
      process.stdout.write(`  ${t.status.toUpperCase()} ${t.classname ? `${t.classname} > ` : ''}${t.name}${t.message ? `: ${t.message.split('\n')[0].slice(0, 160)}` : ''}\n`);
    }
  }
}

export function registerBuildCommands(program: Command): void {
  program
    .command('apply')
    .description('create or update a job from its YAML file (validated locally first)')
    .requiredOption('-f, --file <job.yml>', 'job file')
    .option('--json', 'machine-readable output')
    .action(async (flags: { file: string; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(flags.file, 'utf8');
      } catch (err) {
        throw badRequest(`cannot read ${flags.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      // Local validation names file:line:col before anything reaches the master.
      const client = sessionClient();
      parseJobYaml(text, flags.file, await localStepKinds(client));
      // The master names the same file in its own errors (app ownership, push grants, ...): the path as typed,
      // so both checks read alike and two rival.yml in different folders stay apart; the base name when the
      // path cannot be a label (a ':' in it, too long).
      const label = [flags.file, basename(flags.file)].find((l) => !jobFileLabelProblem(l));
      const job = await client.applyJob(text, label);
      if (flags.json) return printJson(job);
      process.stdout.write(`job ${job.name} (team ${job.team}) applied: ${job.stages.map((s) => `${s.name}@${s.environment}`).join(' -> ')}\n`);
      for (const w of job.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    });

  program
    .command('jobs')
    .description('list the jobs of the teams you see')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const jobs = await sessionClient().listJobs();
      if (flags.json) return printJson(jobs);
      printTable(
        ['NAME', 'TEAM', 'SOURCE', 'ENABLED', 'STAGES', 'LAST BUILD'],
        jobs.map((j) => [j.name, j.team, j.source, j.enabled ? 'yes' : 'no', j.stages.map((s) => s.name).join(','), j.lastBuild ? `#${j.lastBuild.number} ${j.lastBuild.status}` : '-']),
      );
    });

  program
    .command('trigger <job>')
    .description('start a build of a job (JOB: its name, or TEAM/NAME when several of your teams have a job of that name)')
    .option('-p, --param <KEY=VALUE>', 'build parameter (repeatable)', collectParam, {})
    .option('--branch <branch>', 'branch to build')
    .option('-f, --follow', 'follow the log until the build ends; exit 1 unless it succeeded')
    .option('--json', 'machine-readable output')
    .action(async (job: string, flags: { param: Record<string, string>; branch?: string; follow?: boolean; json?: boolean }) => {
      const client = sessionClient();
      const build = await client.trigger(job, { params: flags.param, branch: flags.branch });
      if (flags.json) printJson(build);
      else process.stdout.write(`build ${build.id} (${build.job}#${build.number}) ${build.status}\n`);
      if (flags.follow) {
        const status = await followBuild(client, build.id, process.stdout);
        process.stderr.write(`==> build ${build.id} ${status}\n`);
        process.exitCode = status === 'success' ? 0 : 1;
      }
    });

  program
    .command('builds <job>')
    .description('list the latest builds of a job (JOB: its name, or TEAM/NAME)')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'machine-readable output')
    .action(async (job: string, flags: { limit: string; json?: boolean }) => {
      const builds = await sessionClient().listBuilds(job, { limit: parseId('--limit', flags.limit) });
      if (flags.json) return printJson(builds);
      printTable(BUILD_HEADERS, builds.map(buildRow));
    });

  program
    .command('build <id>')
    .description('show a build with its stages, steps, step outputs and test results')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { json?: boolean }) => {
      const client = sessionClient();
      const build = await client.getBuild(parseId('build id', id));
      if (flags.json) return printJson(build);
      const failing = build.reports?.some((r) => r.failures + r.errors > 0) ? await client.buildTests(build.id, { limit: 50 }) : [];
      printBuildDetail(build, failing.filter((t) => t.status === 'failed' || t.status === 'error'));
    });

  const printBuild = (build: BuildInfo, json?: boolean) =>
    json ? printJson(build) : process.stdout.write(`build ${build.id} (${build.job}#${build.number}) ${build.status}\n`);
  const act = (name: string, description: string, run: (id: number) => Promise<BuildInfo>) =>
    program
      .command(`${name} <id>`)
      .description(description)
      .option('--json', 'machine-readable output')
      .action(async (id: string, flags: { json?: boolean }) => {
        printBuild(await run(parseId('build id', id)), flags.json);
      });
  act('cancel', 'cancel a queued or running build', (id) => sessionClient().cancelBuild(id));
  /** The stage to decide on: --stage, else the one stage of the build waiting at its approval gate. */
  const gatedStage = async (id: number, stage?: string): Promise<string | undefined> => {
    if (stage) return stage;
    return (await sessionClient().getBuild(id)).stages.find((s) => s.status === 'waiting')?.name;
  };
  program
    .command('approve <id>')
    .description("approve the stage of a build waiting at its approval gate (or let a fork's merge/pull request build run)")
    .option('--stage <name>', 'the stage to approve (default: the one waiting)')
    .option('--comment <text>', 'recorded with the approval')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { stage?: string; comment?: string; json?: boolean }) => {
      const buildId = parseId('build id', id);
      const stage = await gatedStage(buildId, flags.stage);
      // No stage waits at a gate: a fork's request build waiting as a whole.
      printBuild(stage ? await sessionClient().approveStage(buildId, stage, flags.comment) : await sessionClient().approveBuild(buildId), flags.json);
    });
  program
    .command('reject <id>')
    .description('reject the stage of a build waiting at its approval gate: the build fails')
    .option('--stage <name>', 'the stage to reject (default: the one waiting)')
    .option('--comment <text>', 'recorded with the rejection and shown in the build error')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { stage?: string; comment?: string; json?: boolean }) => {
      const buildId = parseId('build id', id);
      const stage = await gatedStage(buildId, flags.stage);
      if (!stage) throw conflict(`build ${buildId} has no stage waiting for approval`);
      printBuild(await sessionClient().rejectStage(buildId, stage, flags.comment), flags.json);
    });
  program
    .command('rerun <id>')
    .description('start a new build with the same commit and parameters; --stage re-runs from that stage on')
    .option('--stage <name>', 'first stage to run again (earlier stages are skipped, their artifacts reused)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { stage?: string; json?: boolean }) => {
      printBuild(await sessionClient().rerunBuild(parseId('build id', id), flags.stage), flags.json);
    });
}
