/**
 * `slipway findings BUILD`: a build's SARIF findings (scan steps, or any report in SARIF), high first, with the
 * ones new since the baseline (the last successful build of the branch) marked NEW.
 * `slipway tests BUILD`: the build's tests against history: totals, newly failing and fixed versus the
 * previous build of the branch, flaky on the same commit, slowest, and the job's trend.
 * `slipway notifications BUILD`: the build's notifications, delivered or retrying, with the last error.
 * `slipway notify list|set|remove TEAM ...`: a team's own notification channels.
 */
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { FindingInfo, Severity, TestRef } from '../../shared/api';
import { parseId, sessionClient } from '../lib/client';
import { formatTime, parseIntOption, printJson, printTable } from '../lib/output';

const HEADERS = ['SEVERITY', 'NEW', 'TOOL', 'RULE', 'LOCATION', 'MESSAGE'];

function row(f: FindingInfo) {
  return [f.severity, f.isNew ? 'NEW' : '', f.tool, f.ruleId, f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : '-', f.message.split('\n')[0].slice(0, 120)];
}

const testName = (t: TestRef) => `${t.classname ? `${t.classname} > ` : ''}${t.name}`;
const seconds = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(3)}s`);

export function registerQualityCommands(program: Command): void {
  const notify = program.command('notify').description("a team's notification channels (told about every job of the team; maintainer)");
  notify
    .command('list <team>')
    .option('--json', 'machine-readable output')
    .action(async (team: string, flags: { json?: boolean }) => {
      const list = await sessionClient().teamNotifiers(team);
      if (flags.json) return printJson(list);
      printTable(['NAME', 'CHANNEL'], list.map((n) => [n.name, JSON.stringify(n.channel)]));
    });
  notify
    .command('set <team> <name> <channel>')
    .description("create or replace a channel, written as a job's notify entry in YAML or JSON, e.g. '{ slack: SLACK_URL, on: [failure, fixed] }'")
    .action(async (team: string, name: string, channel: string) => {
      let value: unknown;
      try {
        value = parseYaml(channel);
      } catch (e) {
        throw new Error(`channel: not YAML: ${(e as Error).message.split('\n')[0]}`);
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error("channel: a map such as '{ slack: SLACK_URL }'");
      const saved = await sessionClient().setTeamNotifier(team, name, value as Record<string, unknown>);
      process.stdout.write(`team ${team}: channel ${saved.name} = ${JSON.stringify(saved.channel)}\n`);
    });
  notify
    .command('remove <team> <name>')
    .action(async (team: string, name: string) => {
      await sessionClient().removeTeamNotifier(team, name);
    });

  program
    .command('notifications <build>')
    .description("a build's notifications (failure, fixed, deploy, approval) per channel: delivered, pending (retried with backoff) or failed, with the last error")
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { json?: boolean }) => {
      const list = await sessionClient().buildNotifications(parseId('build id', id));
      if (flags.json) return printJson(list);
      printTable(
        ['EVENT', 'CHANNEL', 'TARGET', 'STATUS', 'ATTEMPTS', 'NEXT', 'LAST ERROR'],
        list.map((n) => [n.event, n.kind, n.target, n.status, n.attempts, n.nextAt ? formatTime(n.nextAt) : '-', n.lastError ?? '']),
      );
    });

  program
    .command('tests <build>')
    .description("a build's tests over time: newly failing and fixed versus the previous build of the branch, flaky (failed and passed on the same commit), slowest, and the job's trend")
    .option('--slowest <n>', 'how many slowest tests', parseIntOption('--slowest'), 10)
    .option('--trend <n>', 'how many builds of the trend', parseIntOption('--trend'), 10)
    .option('--json', 'machine-readable output')
    .action(async (id: string, flags: { slowest: number; trend: number; json?: boolean }) => {
      const client = sessionClient();
      const buildId = parseId('build id', id);
      const [build, report] = await Promise.all([client.getBuild(buildId), client.buildTestReport(buildId, { slowest: flags.slowest })]);
      // By team/name: the caller may have a job of that name in another team too (a bare name would be a 409).
      const trend = await client.testTrend(`${build.team}/${build.job}`, flags.trend);
      if (flags.json) return printJson({ report, trend });
      const t = report.totals;
      const out = process.stdout;
      out.write(`build ${buildId} (${build.job}#${build.number}): ${t.tests} tests, ${t.passed} passed, ${t.failed} failed, ${t.errors} errors, ${t.skipped} skipped, ${seconds(t.durationMs)}\n`);
      out.write(report.previousBuildId === null ? 'no earlier build of the branch with test reports\n' : `compared with build ${report.previousBuildId}\n`);
      for (const f of report.newlyFailing) out.write(`  NEWLY FAILING ${testName(f)} (${f.before} before)${f.message ? `: ${f.message.split('\n')[0].slice(0, 160)}` : ''}\n`);
      for (const f of report.fixed) out.write(`  FIXED ${testName(f)}\n`);
      for (const f of report.flaky) out.write(`  FLAKY ${testName(f)} (passed in build ${f.passedIn.join(', ')}; failed in build ${f.failedIn.join(', ')})\n`);
      if (report.slowest.length) {
        out.write('slowest:\n');
        printTable(['DURATION', 'TEST', 'STATUS'], report.slowest.map((s) => [seconds(s.durationMs), testName(s), s.status]));
      }
      if (trend.length) {
        out.write(`trend of ${build.job}:\n`);
        printTable(['BUILD', 'BRANCH', 'STATUS', 'TESTS', 'FAILED', 'ERRORS', 'SKIPPED', 'DURATION'], trend.map((p) => [`#${p.number}`, p.branch ?? '-', p.status, p.tests, p.failures, p.errors, p.skipped, seconds(p.durationMs)]));
      }
    });


  program
    .command('findings <build>')
    .description('SARIF findings of a build (rule, severity, location, message), high first; NEW marks those the last successful build of the branch did not have')
    .option('--severity <s>', 'only high, medium or low')
    .option('--new', 'only findings new since the last successful build of the branch')
    .option('-n, --limit <n>', 'how many findings', parseIntOption('--limit'), 1000)
    .option('--json', 'machine-readable output')
    .action(async (build: string, flags: { severity?: string; new?: boolean; limit: number; json?: boolean }) => {
      if (flags.severity !== undefined && !['high', 'medium', 'low'].includes(flags.severity)) throw new Error('--severity: high, medium or low');
      const page = await sessionClient().buildFindings(parseId('build id', build), {
        severity: flags.severity as Severity | undefined,
        onlyNew: flags.new,
        limit: flags.limit,
      });
      if (flags.json) return printJson(page);
      const { total, new: fresh } = page;
      process.stdout.write(
        `build ${page.buildId}: ${total.high} high, ${total.medium} medium, ${total.low} low; new since ${
          page.previousBuildId === null ? 'no successful build of the branch (all new)' : `build ${page.previousBuildId}`
        }: ${fresh.high} high, ${fresh.medium} medium, ${fresh.low} low\n`,
      );
      if (page.findings.length) printTable(HEADERS, page.findings.map(row));
    });
}
