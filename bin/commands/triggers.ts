/**
 * `slipway triggers JOB`: a job's trigger history (which delivery or poll started which build, or why not).
 * OUTCOME 'pending' is a path filter the master is still deciding with a git diff; run again to see it settle.
 */
import type { Command } from 'commander';
import type { TriggerEventInfo } from '../../shared/api';
import { sessionClient } from '../lib/client';
import { formatTime, parseIntOption, printJson, printTable } from '../lib/output';

const HEADERS = ['TIME', 'DELIVERY', 'EVENT', 'REF', 'SHA', 'OUTCOME', 'REASON', 'BUILD'];

function row(e: TriggerEventInfo) {
  return [
    formatTime(e.createdAt),
    e.deliveryId ?? e.provider,
    `${e.provider}:${e.event}`,
    e.ref?.replace(/^refs\/heads\//, ''),
    e.sha?.slice(0, 12),
    e.outcome,
    e.reason,
    e.buildId ?? '-',
  ];
}

export function registerTriggersCommand(program: Command): void {
  program
    .command('triggers <job>')
    .description("show a job's trigger history: webhook deliveries and polls, the build each started, why it was ignored, or 'pending' while a path filter is decided (JOB: its name, or TEAM/NAME)")
    .option('-n, --limit <n>', 'how many events (newest first)', parseIntOption('--limit'), 50)
    .option('--json', 'machine-readable output')
    .action(async (job: string, flags: { limit: number; json?: boolean }) => {
      const events = await sessionClient().listTriggers(job, { limit: Math.max(1, flags.limit) });
      if (flags.json) return printJson(events);
      if (!events.length) {
        process.stdout.write(`no trigger events for job ${job}\n`);
        return;
      }
      printTable(HEADERS, events.map(row));
    });
}
