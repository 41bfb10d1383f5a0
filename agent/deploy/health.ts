/**
 * Waits for a deployed instance to become healthy under the one health model of shared/compose/schema.ts:
 * after start_period, probe every interval (each probe bounded by timeout); healthy at the first passing
 * probe; failed after `retries` consecutive failures past the start period, at the deadline, or when the
 * container exits. A failure says why: the last probe results (HTTP status and the first bytes of the body,
 * or the connection error), the container's exit code and the last lines of its log.
 */
import { connect } from 'node:net';
import type Docker from 'dockerode';
import type { HealthConfig } from '../../shared/compose/schema';

/** Probes of an instance without a healthcheck: a TCP connect to its port, same timings. */
export const DEFAULT_HEALTH: HealthConfig = { tcp: true, start_period: 20_000, interval: 2_000, timeout: 2_000, retries: 3, deadline: 90_000 };

export interface ProbeResult {
  at: number;
  ok: boolean;
  /** `HTTP 503: <first bytes>` or `connect ECONNREFUSED 127.0.0.1:40123`. */
  detail: string;
}

export interface HealthOutcome {
  healthy: boolean;
  /** One line: why the instance is not healthy (empty when healthy). */
  reason: string;
  probes: ProbeResult[];
  exitCode?: number;
  /** Last lines of the container's log (only gathered on failure). */
  logTail?: string;
}

const BODY_BYTES = 200;
const KEEP_PROBES = 5;

export async function probeOnce(host: string, port: number, health: HealthConfig): Promise<ProbeResult> {
  const at = Date.now();
  if (health.http !== undefined) {
    try {
      const res = await fetch(`http://${host}:${port}${health.http}`, { signal: AbortSignal.timeout(health.timeout), redirect: 'manual' });
      const body = (await res.text()).slice(0, BODY_BYTES).replace(/\s+/g, ' ').trim();
      const ok = res.status >= 200 && res.status < 400;
      return { at, ok, detail: `HTTP ${res.status}${body ? `: ${body}` : ''}` };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const detail = err.name === 'TimeoutError' ? `no answer within ${health.timeout} ms` : (err.cause?.message ?? err.message);
      return { at, ok: false, detail };
    }
  }
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: health.timeout });
    s.once('connect', () => {
      s.destroy();
      resolve({ at, ok: true, detail: `TCP connect ${host}:${port} ok` });
    });
    s.once('timeout', () => {
      s.destroy();
      resolve({ at, ok: false, detail: `TCP connect ${host}:${port}: no answer within ${health.timeout} ms` });
    });
    s.once('error', (e) => resolve({ at, ok: false, detail: e.message }));
  });
}

export async function waitHealthy(
  docker: Docker,
  containerId: string,
  host: string,
  port: number,
  health: HealthConfig,
  signal?: AbortSignal,
): Promise<HealthOutcome> {
  const started = Date.now();
  const probes: ProbeResult[] = [];
  let failuresPastStart = 0;
  for (;;) {
    if (signal?.aborted) return fail('the deploy was stopped');
    const state = await docker
      .getContainer(containerId)
      .inspect()
      .then((i) => i.State)
      .catch(() => undefined);
    if (!state) return fail('the container is gone');
    if (!state.Running) return fail(`the container exited with code ${state.ExitCode}`, state.ExitCode);
    const p = await probeOnce(host, port, health);
    probes.push(p);
    if (probes.length > KEEP_PROBES) probes.shift();
    if (p.ok) return { healthy: true, reason: '', probes };
    const elapsed = Date.now() - started;
    if (elapsed >= health.start_period) failuresPastStart++;
    if (failuresPastStart >= health.retries) return fail(`${health.retries} health probes failed after the start period`);
    if (elapsed + health.interval > health.deadline) return fail(`not healthy within the deadline of ${health.deadline} ms`);
    await sleep(health.interval, signal);
  }

  async function fail(reason: string, exitCode?: number): Promise<HealthOutcome> {
    const logTail = await containerLogTail(docker, containerId, 50);
    return { healthy: false, reason, probes, exitCode, logTail };
  }
}

/** The last `lines` lines of a container's stdout and stderr, demultiplexed. */
export async function containerLogTail(docker: Docker, containerId: string, lines: number): Promise<string> {
  try {
    const buf = (await docker.getContainer(containerId).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demux(buf);
  } catch {
    return '';
  }
}

/** Docker's multiplexed log format: 8-byte headers (stream, 0, 0, 0, size32be) before each frame. */
export function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length && buf[off] <= 2 && buf[off + 1] === 0) {
    const size = buf.readUInt32BE(off + 4);
    parts.push(buf.subarray(off + 8, off + 8 + size));
    off += 8 + size;
  }
  return (off === 0 ? buf : Buffer.concat(parts)).toString('utf8');
}

/** A multi-line account of a failed health wait, for the build log and the deployment record. */
export function describeFailure(name: string, port: number, o: HealthOutcome): string {
  const lines = [`instance ${name} (port ${port}) did not become healthy: ${o.reason}`];
  if (o.probes.length) {
    lines.push('  last health probes:');
    for (const p of o.probes) lines.push(`    ${new Date(p.at).toISOString()} ${p.ok ? 'ok' : 'failed'}: ${p.detail}`);
  }
  if (o.exitCode !== undefined) lines.push(`  exit code: ${o.exitCode}`);
  if (o.logTail?.trim()) {
    lines.push('  last lines of its log:');
    for (const l of o.logTail.trimEnd().split('\n')) lines.push(`    ${l}`);
  }
  return lines.join('\n');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
