/**
 * The `container-logs` agent service: ships the logs of the containers of the agent's environment to the
 * master's log center (agent/container-logs/). Every line is spooled on the agent's disk with its seq before it
 * is sent and forgotten only when the master acknowledged storing it, so agent, container and master restarts
 * neither lose nor repeat lines; the spool is bounded (oldest dropped first, counted in `dropped`).
 *
 *   services:
 *     container-logs:
 *       spool: { dir: /var/lib/slipway-agent/container-logs, maxMb: 256 }
 *       multiline: { continuation: '^\s|^Caused by: ', maxLines: 500, maxChars: 65536, flushMs: 300 }
 *       batch: { maxEntries: 2000, flushMs: 100 }
 *
 * Containers: io.slipway.environment=<this agent's environment> and io.slipway.app=<app>, deployed by Slipway
 * or opting in with io.slipway.logs=true (io.slipway.logs=false opts out); a container whose io.slipway.agent
 * names another agent (the one that deployed it) is left to that agent.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { MAX_CONTAINER_LOG_BATCH_ENTRIES, MAX_CONTAINER_LOG_ENTRY_CHARS } from '../../shared/protocol';
import { ContainerLogs } from '../container-logs';
import { DEFAULT_CONTINUATION } from '../container-logs/multiline';
import { dockerClient } from '../docker/engine';
import type { AgentService, ServiceFactory } from './types';

const regex = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

const settings = z.strictObject({
  /** Docker Engine API socket (default: the agent file's docker.socket, else /var/run/docker.sock). */
  socket: z.string().startsWith('/', 'must be an absolute path').optional(),
  spool: z
    .strictObject({
      /** Where the spool and checkpoints live (default <work dir>/container-logs). */
      dir: z.string().startsWith('/', 'must be an absolute path').optional(),
      /** Bound of the spool on disk; over it the oldest entries are dropped and counted (default 256 MiB). */
      maxMb: z.number().min(0.05).default(256),
      /** Size of one spool file (default 256 KiB). */
      segmentKb: z.number().int().min(4).max(16384).default(256),
    })
    .default({ maxMb: 256, segmentKb: 256 }),
  multiline: z
    .strictObject({
      /** A line matching this continues the entry before it (default: indented lines, "Caused by:", "... N more"). */
      continuation: regex.default(DEFAULT_CONTINUATION),
      /** When set, every line NOT matching this continues the entry before it (continuation is then ignored). */
      start: regex.optional(),
      maxLines: z.number().int().min(1).max(10_000).default(500),
      maxChars: z.number().int().min(256).max(MAX_CONTAINER_LOG_ENTRY_CHARS).default(MAX_CONTAINER_LOG_ENTRY_CHARS),
      /** An entry is complete when no line followed for this long. */
      flushMs: z.number().int().min(10).max(10_000).default(300),
    })
    .default({ continuation: DEFAULT_CONTINUATION, maxLines: 500, maxChars: MAX_CONTAINER_LOG_ENTRY_CHARS, flushMs: 300 }),
  batch: z
    .strictObject({
      maxEntries: z.number().int().min(1).max(MAX_CONTAINER_LOG_BATCH_ENTRIES).default(2000),
      /** Text per batch, in characters (also kept below the master's frame limit). */
      maxChars: z.number().int().min(1024).default(512 * 1024),
      /** A partial batch is sent this long after its first entry was spooled. */
      flushMs: z.number().int().min(1).max(10_000).default(100),
      ackTimeoutMs: z.number().int().min(100).default(30_000),
    })
    .default({ maxEntries: 2000, maxChars: 512 * 1024, flushMs: 100, ackTimeoutMs: 30_000 }),
});

export type ContainerLogsSettings = z.output<typeof settings>;

export const containerLogsService: ServiceFactory<ContainerLogsSettings> = {
  name: 'container-logs',
  settings,
  create(s, ctx): AgentService {
    let logs: ContainerLogs | undefined;
    const socket = s.socket ?? ctx.host.docker?.socket ?? '/var/run/docker.sock';
    return {
      name: 'container-logs',
      async start() {
        if (s.spool.maxMb * 1024 < 4 * s.spool.segmentKb) throw new Error(`spool.maxMb (${s.spool.maxMb}) must hold at least 4 segments of spool.segmentKb (${s.spool.segmentKb})`);
        const channel = ctx.master ?? { ready: false, maxFrameBytes: 1024 * 1024, bufferedAmount: 0, send: () => false, listen: () => () => undefined };
        const l = new ContainerLogs(dockerClient({ socketPath: socket }), channel, {
          environment: ctx.environment,
          agentName: ctx.agentName,
          spoolDir: s.spool.dir ?? join(ctx.workDir, 'container-logs'),
          spoolMaxBytes: s.spool.maxMb * 1024 * 1024,
          segmentBytes: s.spool.segmentKb * 1024,
          multiline: {
            continuation: new RegExp(s.multiline.continuation),
            start: s.multiline.start ? new RegExp(s.multiline.start) : undefined,
            maxLines: s.multiline.maxLines,
            maxChars: s.multiline.maxChars,
            flushMs: s.multiline.flushMs,
          },
          batch: s.batch,
          log: ctx.log,
        });
        try {
          await l.start();
        } catch (e) {
          l.stop();
          throw new Error(`the Docker engine at ${socket}: ${(e as Error).message}`);
        }
        logs = l;
      },
      async health() {
        if (!logs) return { state: 'failed', detail: 'not started' };
        let pending = 0;
        for (const sp of logs.spools.sources.values()) pending += sp.pending;
        const dropped = logs.spools.dropped;
        const refusals = logs.refusals();
        const facts = { following: logs.following, sources: logs.spools.sources.size, shipped: logs.shipped, pending, spoolBytes: logs.spools.bytes, dropped };
        if (refusals.length) logs.retryRefused();
        if (dropped) return { state: 'degraded', detail: `${dropped} line(s) dropped: the spool hit its bound of ${s.spool.maxMb} MiB while the master was away or slow; ${pending} waiting`, facts };
        if (refusals.length) return { state: 'degraded', detail: `the master refused: ${refusals.slice(0, 3).join('; ')}`, facts };
        const away = ctx.master?.ready ? '' : ' (master away: spooling)';
        return { state: 'running', detail: `following ${facts.following} container(s), ${pending} line(s) waiting for the master${away}`, facts };
      },
      async stop() {
        logs?.stop();
        logs = undefined;
      },
    };
  },
};
