/**
 * `slipway findings BUILD`: a build's SARIF findings (scan steps, or any report in SARIF), high first, with the
 * ones new since the previous build of the branch marked NEW.
 */
import type { Command } from 'commander';
import type { FindingInfo, Severity } from '../../shared/api';
import { parseId, sessionClient } from '../lib/client';
import { parseIntOption, printJson, printTable } from '../lib/output';

const HEADERS = ['SEVERITY', 'NEW', 'TOOL', 'RULE', 'LOCATION', 'MESSAGE'];

function row(f: FindingInfo) {
  return [f.severity, f.isNew ? 'NEW' : '', f.tool, f.ruleId, f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : '-', f.message.split('\n')[0].slice(0, 120)];
}

export function registerQualityCommands(program: Command): void {
  program
    .command('findings <build>')
    .description('SARIF findings of a build (rule, severity, location, message), high first; NEW marks those the previous build of the branch did not have')
    .option('--severity <s>', 'only high, medium or low')
    .option('--new', 'only findings new since the previous build of the branch')
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
          page.previousBuildId === null ? 'no earlier build (all new)' : `build ${page.previousBuildId}`
        }: ${fresh.high} high, ${fresh.medium} medium, ${fresh.low} low\n`,
      );
      if (page.findings.length) printTable(HEADERS, page.findings.map(row));
    });
}
