/** Shared pieces of the benchmarks: percentiles, the master's RSS, a stream subscriber. */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { StreamMessage } from '../../shared/protocol/client';

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) throw new Error('percentile of nothing');
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Resident set size of a process in MB, from /proc. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Master settings for benchmarks: quiet logs, so the figures measure Slipway, not its console. */
export const BENCH_MASTER_ENV = { SLIPWAY_LOG_LEVEL: 'warn' };

/**
 * Subscribes to a build's stream and counts log lines; resolves `done` with the time the line count
 * reached `expectLines` (performance.timeOrigin-based ms, comparable to Date.now()).
 */
export function subscribeLines(streamUrl: string, token: string, buildId: number, expectLines: number) {
  const ws = new WebSocket(streamUrl, { headers: { authorization: `Bearer ${token}` } });
  let lines = 0;
  const done = new Promise<number>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ type: 'client:subscribe', buildId })));
    ws.on('error', reject);
    ws.on('message', (raw: Buffer) => {
      const msg = JSON.parse(raw.toString()) as StreamMessage;
      if (msg.type === 'stream:log') {
        for (let i = msg.data.indexOf('\n'); i !== -1; i = msg.data.indexOf('\n', i + 1)) lines++;
        if (lines >= expectLines) resolve(performance.timeOrigin + performance.now());
      } else if (msg.type === 'stream:error') reject(new Error(`stream error: ${msg.message}`));
      else if (msg.type === 'stream:end' && lines < expectLines) reject(new Error(`build ended with ${lines} of ${expectLines} lines`));
    });
  });
  return { done, close: () => ws.close(), lines: () => lines };
}
