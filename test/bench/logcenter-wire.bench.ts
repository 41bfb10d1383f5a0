/**
 * Container log ingest over the wire, issue 12's "agent -> stored and indexed": a real master (its log center
 * indexing on the worker thread, as the master runs it), and one agent connection speaking the real protocol
 * (agent:hello with an agent token, then agent:container-logs batches). The batches are pre-generated as the
 * agent's container-logs service sends them: 500 entries of one source each, 8 sources (containers) in turn, at
 * most WINDOW batches unacknowledged. Timed from the first batch sent to the last master:container-logs-ack (every
 * entry stored, each batch checked by the master as any agent's; a search sees rows the worker has not indexed
 * yet through the log center's pending index). Then a phrase search for the last entry must find it.
 *
 * - logcenter_wire_ingest_lines_per_s (LOGCENTER_WIRE_LINES, default 1,000,000). Target (issue 12): >= 200,000.
 * - logcenter_wire_vs_store: against logcenter_ingest_fts_worker_lines_per_s of bench-results.json (the store
 *   alone, logcenter.bench.ts; not the same run).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { searchAppLogs } from '../../shared/client/app-logs-client';
import type { MasterMessage } from '../../shared/protocol';
import { reportBench } from '../helpers/bench';
import { ensureEnvironment, startMaster } from '../helpers/cluster';
import { hello, openRaw } from '../integration/engine-raw-agent';
import { waitFor } from '../helpers/wait';

const LINES = Number(process.env.LOGCENTER_WIRE_LINES ?? 1_000_000);
const BATCH = 500;
const SOURCES = 8;
const WINDOW = 16;
const env = 'wirebench';
const app = `wire-${randomBytes(3).toString('hex')}`;

const master = await startMaster();
try {
  await ensureEnvironment(master.api, env);
  const token = (await master.api.createAgentToken(env, 'wire-1')).token;
  const a = await openRaw(master.url);
  a.sendJson(hello(token, 'wire-1', env));
  await a.next('master:accepted', (m): m is Extract<MasterMessage, { type: 'master:accepted' }> => m.type === 'master:accepted');
  const beat = setInterval(() => a.sendJson({ type: 'agent:heartbeat', leases: [], busy: 0 }), 300);

  // Pre-generated frames (JSON text, as the agent serialises them), so the timing is the master's side.
  const base = Date.now() - 600_000;
  const frames: string[] = [];
  const nextSeq = new Array<number>(SOURCES).fill(1);
  for (let i = 0, b = 0; i < LINES; b++) {
    const s = b % SOURCES;
    const n = Math.min(BATCH, LINES - i);
    const texts: string[] = [];
    const ts: number[] = [];
    for (let j = 0; j < n; j++, i++) {
      texts.push(`${i % 53 === 0 ? 'WARN slow query' : 'INFO'} GET /api/items/${i} 200 ${i % 97}ms user=${i % 1000} trace=${(i * 2654435761 >>> 0).toString(16)}`);
      ts.push(base + Math.floor(i / 2));
    }
    frames.push(JSON.stringify({ type: 'agent:container-logs', source: `${env}/c${s}`, firstSeq: nextSeq[s], app, environment: env, instance: `${app}-${s + 1}`, streams: 'o'.repeat(n), ts, texts }));
    nextSeq[s] += n;
  }
  const last = `GET /api/items/${LINES - 1} 200`;

  let acked = 0;
  let refused: string | undefined;
  let wake: (() => void) | undefined;
  a.ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8')) as { type: string; refused?: string };
    if (m.type !== 'master:container-logs-ack') return;
    acked++;
    if (m.refused) refused = m.refused;
    wake?.();
  });
  const t0 = performance.now();
  for (let sent = 0; sent < frames.length; sent++) {
    while (sent - acked >= WINDOW) await new Promise<void>((r) => (wake = r));
    a.ws.send(frames[sent]);
  }
  while (acked < frames.length) await new Promise<void>((r) => (wake = r));
  const seconds = (performance.now() - t0) / 1000;
  if (refused) throw new Error(`the master refused a batch: ${refused}`);
  const found = await waitFor(
    'the last entry searchable',
    async () => {
      const page = await searchAppLogs(master.api, { app, environment: env, q: `"${last}"`, limit: 5 });
      return page.hits.length ? page.hits : undefined;
    },
    { timeoutMs: 30_000 },
  );
  clearInterval(beat);
  a.ws.close();
  const store = JSON.parse(readFileSync(new URL('../../bench-results.json', import.meta.url), 'utf8')) as Record<string, number>;
  const rate = Math.round(LINES / seconds);
  reportBench({
    logcenter_wire_ingest_lines_per_s: rate,
    logcenter_wire_ingest_lines: LINES,
    logcenter_wire_ingest_seconds: Math.round(seconds * 100) / 100,
    logcenter_wire_last_entry_found: found.length === 1,
    ...(store.logcenter_ingest_fts_worker_lines_per_s ? { logcenter_wire_vs_store: Math.round((rate / store.logcenter_ingest_fts_worker_lines_per_s) * 100) / 100 } : {}),
  });
} finally {
  await master.stop();
}
