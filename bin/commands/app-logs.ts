/**
 * The log center from the command line:
 *   slipway app-logs APP [WORDS...] [--env E] [--instance I] [--stream S] [--since 1h|ISO] [--until ...]
 *                   [--limit N] [--context N] [--cursor C] [--follow [--lines N]] [--json]
 *   slipway app-logs-retention [--env E] [--days N] [--max-mb N] [--unset]
 *   slipway app-logs-stats [--json]   (admin) entries per environment and where indexing stands
 * Search prints the page oldest first (grep-like: context lines marked with '-', hits with ':'); the cursor of
 * the next (older) page goes to stderr. --follow prints the newest --lines entries, then new ones until ^C or
 * until the master ends the tail (access lost: exit 1).
 */
import type { Command } from 'commander';
import type { AppLogLine, AppLogRetention, AppLogStats } from '../../shared/api-logs';
import { appLogRetention, appLogStats, searchAppLogs, setAppLogRetention, tailAppLogs } from '../../shared/client/app-logs-client';
import { parseDuration } from '../../shared/duration';
import { SlipwayError } from '../../shared/errors';
import { sessionClient } from '../lib/client';
import { formatTime, parseIntOption, printJson, printTable } from '../lib/output';

/** '1h' (that long ago), ms since epoch, or an ISO time. */
function parseWhen(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d{12,}$/.test(v)) return Number(v);
  const d = /^\d+(\.\d+)?(ms|s|m|h|d)/.test(v) ? parseDuration(v) : null;
  if (d !== null) return Date.now() - d;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new SlipwayError('invalid_request', `${flag}: '${v}' is neither a duration (30m, 2h, 7d), ms since epoch nor an ISO time`);
  return t;
}

function line(l: AppLogLine, mark: ':' | '-'): string {
  const head = `${new Date(l.ts).toISOString()} ${l.environment} ${l.instance} ${l.stream}${mark} `;
  return head + l.text.split('\n').join('\n' + ' '.repeat(Math.min(head.length, 8))) + '\n';
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function retentionOf(r: AppLogRetention, env: string): string {
  const l = r.perEnvironment[env] ?? r.default;
  if (!l || (l.maxAgeDays === undefined && l.maxBytes === undefined)) return 'kept';
  return [l.maxAgeDays !== undefined ? `${l.maxAgeDays}d` : '', l.maxBytes !== undefined ? mib(l.maxBytes) : ''].filter(Boolean).join(', ');
}

/** The stats as a table per environment, then the indexing state, one `name: value` line each. */
function printStats(s: AppLogStats): void {
  const envs = Object.keys(s.environments).sort();
  printTable(
    ['ENVIRONMENT', 'ENTRIES', 'SIZE', 'PARTITIONS', 'OLDEST', 'NEWEST', 'RETENTION'],
    [
      ...envs.map((e) => {
        const v = s.environments[e];
        return [e, v.entries, mib(v.bytes), v.partitions, formatTime(v.oldestPartitionStart), formatTime(v.newestPartitionStart), retentionOf(s.retention, e)];
      }),
      ['(all)', s.entries, mib(s.bytes), s.partitions, '', '', ''],
    ],
  );
  const i = s.indexing;
  const worker = i.workerRunning ? 'running' : 'not running';
  const lines: [string, string | number][] = [
    ['files on disk', mib(s.fileBytes)],
    ['stored seq', i.storedSeq],
    ['indexed seq', i.indexedSeq],
    ['lag', `${i.lagRows} entries (searched through the pending index until indexed)`],
    ['pending index', `${i.pendingIn}: ${i.pendingMemoryRows} in memory, ${i.pendingSpillRows} in the spill file, ${i.pendingRebuilds} rebuild(s)`],
    ['temp memory', mib(i.tempBytes)],
    ['indexing worker', `${worker}; ${i.workerFailuresInRow} failure(s) in a row, ${i.workerRestarts} restart(s)${i.workerError ? `; last error: ${i.workerError}` : ''}`],
  ];
  process.stdout.write('\n' + lines.map(([k, v]) => `${(k + ':').padEnd(17)}${v}\n`).join(''));
}

interface Flags {
  env?: string;
  instance?: string;
  stream?: 'stdout' | 'stderr';
  since?: string;
  until?: string;
  limit?: number;
  context?: number;
  cursor?: string;
  follow?: boolean;
  lines?: number;
  json?: boolean;
}

export function registerAppLogsCommands(program: Command): void {
  program
    .command('app-logs <app> [words...]')
    .description('search the container logs of a deployed app (keywords and "phrases", all must match), or follow them live')
    .option('--env <environment>', 'only this environment')
    .option('--instance <name>', 'only this instance (container name)')
    .option('--stream <stream>', 'stdout or stderr')
    .option('--since <when>', 'from: a duration ago (30m, 2h, 7d), ms since epoch or an ISO time')
    .option('--until <when>', 'until (exclusive), same forms')
    .option('--limit <n>', 'hits per page (default 100, at most 1000)', parseIntOption('--limit'))
    .option('--context <n>', 'lines of the same instance around each hit (at most 20)', parseIntOption('--context'))
    .option('--cursor <cursor>', 'the next page, as printed after a full page')
    .option('-f, --follow', 'live tail across all instances of the app')
    .option('--lines <n>', 'with --follow: newest entries to print first (default 10)', parseIntOption('--lines'))
    .option('--json', 'machine-readable output (one JSON page; with --follow one JSON entry per line)')
    .action(async (app: string, words: string[], flags: Flags) => {
      const client = sessionClient();
      const q = words.join(' ').trim() || undefined;
      if (flags.stream !== undefined && flags.stream !== 'stdout' && flags.stream !== 'stderr') throw new SlipwayError('invalid_request', `--stream: must be stdout or stderr (got '${flags.stream}')`);
      if (flags.follow) {
        const ac = new AbortController();
        process.once('SIGINT', () => ac.abort());
        const end = await tailAppLogs(
          client,
          { app, environment: flags.env, instance: flags.instance, stream: flags.stream, q, lines: flags.lines ?? 10 },
          (ev) => {
            if (ev.type !== 'lines') return;
            for (const l of ev.lines) process.stdout.write(flags.json ? JSON.stringify(l) + '\n' : line(l, ':'));
          },
          ac.signal,
        );
        if (end) {
          process.stderr.write(`tail ended: ${end.message}\n`);
          process.exitCode = 1;
        }
        return;
      }
      const page = await searchAppLogs(client, {
        app,
        environment: flags.env,
        instance: flags.instance,
        stream: flags.stream,
        q,
        from: parseWhen('--since', flags.since),
        to: parseWhen('--until', flags.until),
        limit: flags.limit,
        context: flags.context,
        cursor: flags.cursor,
      });
      if (flags.json) return printJson(page);
      const grouped = (flags.context ?? 0) > 0;
      for (const [i, h] of [...page.hits].reverse().entries()) {
        if (grouped && i > 0) process.stdout.write('--\n');
        for (const b of h.before ?? []) process.stdout.write(line(b, '-'));
        process.stdout.write(line(h, ':'));
        for (const a of h.after ?? []) process.stdout.write(line(a, '-'));
      }
      if (!page.hits.length) process.stderr.write('no matching entries\n');
      if (page.nextCursor) process.stderr.write(`older entries: --cursor ${page.nextCursor}\n`);
    });

  program
    .command('app-logs-retention')
    .description('show or set how long container logs are kept, per environment (admin)')
    .option('--env <environment>', 'the environment to set (default: the default for all others)')
    .option('--days <n>', 'keep entries this many days', Number)
    .option('--max-mb <n>', 'keep at most this many MiB of entries', Number)
    .option('--unset', "remove the environment's own policy (it follows the default again)")
    .option('--json', 'machine-readable output')
    .action(async (flags: { env?: string; days?: number; maxMb?: number; unset?: boolean; json?: boolean }) => {
      const client = sessionClient();
      let policy: AppLogRetention = await appLogRetention(client);
      const change = flags.days !== undefined || flags.maxMb !== undefined || flags.unset;
      if (change) {
        const limits = { ...(flags.days !== undefined ? { maxAgeDays: flags.days } : {}), ...(flags.maxMb !== undefined ? { maxBytes: Math.round(flags.maxMb * 1024 * 1024) } : {}) };
        if (flags.env) {
          const per = { ...policy.perEnvironment };
          if (flags.unset) delete per[flags.env];
          else per[flags.env] = limits;
          policy = { ...policy, perEnvironment: per };
        } else policy = { ...policy, default: flags.unset ? undefined : limits };
        policy = await setAppLogRetention(client, policy);
      }
      if (flags.json) return printJson(policy);
      const row = (env: string, l: { maxAgeDays?: number; maxBytes?: number } | undefined) => [env, l?.maxAgeDays ?? '-', l?.maxBytes !== undefined ? Math.round(l.maxBytes / 1024 / 1024) : '-'];
      printTable(['ENVIRONMENT', 'DAYS', 'MAX MIB'], [row('(default)', policy.default), ...Object.entries(policy.perEnvironment).map(([e, l]) => row(e, l))]);
    });

  program
    .command('app-logs-stats')
    .description("what the log center stores per environment and where its indexing stands (admin)")
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const stats = await appLogStats(sessionClient());
      if (flags.json) return printJson(stats);
      printStats(stats);
    });
}
