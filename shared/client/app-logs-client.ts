/**
 * The log center's client calls (shared/api-logs.ts), beside ApiClient: search (the page is checked with its zod
 * schema), live tail over Server-Sent Events (every event checked), the retention policy and the store's stats. Browser-safe.
 */
import { AppLogPageSchema, AppLogRetentionSchema, AppLogStatsSchema, AppLogTailEventSchema, type AppLogPage, type AppLogQuery, type AppLogRetention, type AppLogStats, type AppLogTailEvent } from '../api-logs';
import { fromBody, SlipwayError } from '../errors';
import type { ApiClient } from './api-client';

function params(q: AppLogQuery & { lines?: number }): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

function checked<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, v: unknown, what: string): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  throw new SlipwayError('internal', `the master sent a malformed ${what}: ${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
}

export async function searchAppLogs(client: ApiClient, q: AppLogQuery): Promise<AppLogPage> {
  return checked(AppLogPageSchema, await client.request('GET', `/api/v1/app-logs${params(q)}`), 'log center page');
}

export async function appLogRetention(client: ApiClient): Promise<AppLogRetention> {
  return checked(AppLogRetentionSchema, await client.request('GET', '/api/v1/app-logs/retention'), 'retention policy');
}

export async function setAppLogRetention(client: ApiClient, p: AppLogRetention): Promise<AppLogRetention> {
  return checked(AppLogRetentionSchema, await client.request('PUT', '/api/v1/app-logs/retention', p), 'retention policy');
}

/** What the log center stores and where its indexing stands (admin). */
export async function appLogStats(client: ApiClient): Promise<AppLogStats> {
  return checked(AppLogStatsSchema, await client.request('GET', '/api/v1/app-logs/stats'), 'log center stats');
}

/**
 * Follows an app's container logs: calls onEvent for each event (the newest `lines` entries first, then new ones)
 * until the master ends the tail (resolves with that `end` event), the signal aborts (resolves undefined) or the
 * connection breaks (rejects).
 */
export async function tailAppLogs(
  client: ApiClient,
  q: Omit<AppLogQuery, 'from' | 'to' | 'limit' | 'cursor' | 'context'> & { app: string; lines?: number },
  onEvent: (e: AppLogTailEvent) => void,
  signal?: AbortSignal,
): Promise<Extract<AppLogTailEvent, { type: 'end' }> | undefined> {
  let res: Response;
  try {
    res = await fetch(`${client.url}/api/v1/app-logs/tail${params(q)}`, { headers: client.token ? { authorization: `Bearer ${client.token}` } : {}, signal });
  } catch (err) {
    if (signal?.aborted) return undefined;
    throw new SlipwayError('unavailable', `cannot reach the master at ${client.url} (${String((err as Error).message)})`, { cause: err });
  }
  if (!res.ok || !res.body) {
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw fromBody(res.status, body);
  }
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (!data) continue;
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          throw new SlipwayError('internal', 'the master sent a tail event that is not JSON');
        }
        const ev = checked(AppLogTailEventSchema, json, 'tail event');
        onEvent(ev);
        if (ev.type === 'end') return ev;
      }
    }
  } catch (err) {
    if (signal?.aborted) return undefined;
    throw err;
  }
  if (signal?.aborted) return undefined;
  throw new SlipwayError('unavailable', 'the master closed the tail');
}
