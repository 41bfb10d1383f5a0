/**
 * Helpers for the log center tests: a busybox image, containers labelled like deployed apps (or opted in),
 * the container's own log as Docker keeps it (the ground truth a shipped log is compared with), an agent config
 * file for the container-logs service, and reading everything the master stored for an app.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { buildImage } from '../../agent/docker/image-build';
import type { ApiClient } from '../../shared/client/api-client';
import { searchAppLogs } from '../../shared/client/app-logs-client';
import type { AppLogLine } from '../../shared/api-logs';
import { busyboxContext, uniqueName } from './docker';

export async function buildLogImage(docker: Docker, dir: string): Promise<string> {
  const ref = `slipway-test/logs-busybox:${uniqueName('t')}`;
  busyboxContext(join(dir, 'busybox'));
  await buildImage(docker, { context: join(dir, 'busybox'), tags: [ref], log: () => undefined });
  return ref;
}

export interface LabelledContainer {
  id: string;
  name: string;
  container: Docker.Container;
}

/** Creates and starts a container of `app` in `environment` running `script` with busybox sh. */
export async function runLabelled(
  docker: Docker,
  image: string,
  o: { app: string; environment: string; name: string; script: string; optIn?: boolean; tty?: boolean },
): Promise<LabelledContainer> {
  const labels: Record<string, string> = { 'io.slipway.app': o.app, 'io.slipway.environment': o.environment };
  // Deployed instances carry io.slipway.spec (agent/deploy/instances.ts); others opt in by label.
  if (o.optIn) labels['io.slipway.logs'] = 'true';
  else labels['io.slipway.spec'] = 'test';
  const container = await docker.createContainer({
    name: o.name,
    Image: image,
    Cmd: ['sh', '-c', o.script],
    Labels: labels,
    Tty: !!o.tty,
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  return { id: container.id, name: o.name, container };
}

/** Every line Docker itself keeps for the container (stdout and stderr, in order), without timestamps. */
export async function dockerLines(c: Docker.Container): Promise<string[]> {
  const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  const out: string[] = [];
  let off = 0;
  let text = '';
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off + 4);
    text += buf.toString('utf8', off + 8, off + 8 + size);
    off += 8 + size;
  }
  for (const l of text.split('\n')) out.push(l);
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/** Writes an agent config file running the container-logs service with `settings`. */
export function containerLogsConfig(dir: string, settings: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'agent.yml');
  writeFileSync(file, `services:\n  container-logs: ${JSON.stringify(settings)}\n`);
  return file;
}

/** Everything stored for the app (all pages), oldest first. */
export async function storedEntries(api: ApiClient, app: string, extra: { environment?: string; q?: string } = {}): Promise<AppLogLine[]> {
  const all: AppLogLine[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await searchAppLogs(api, { app, ...extra, limit: 1000, cursor });
    all.push(...page.hits.map(({ before: _b, after: _a, ...l }) => l));
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return all.reverse();
}

/** The lines of entries (a multi-line entry is several lines), in stored order by time. */
export function linesOf(entries: AppLogLine[]): string[] {
  return entries.flatMap((e) => e.text.split('\n'));
}
