/**
 * agent:container-logs -> the log center store. An agent ships only logs of its own environment: a batch naming
 * another one is refused (in the ack, saying which entry and why) and nothing of it is stored. The store skips
 * seqs it already has, so the ack's storedThrough is also the answer to a re-sent batch. Log texts are never
 * written to the master's log (they may hold anything an app prints); only counts and the source are. The secret
 * values the app's deploys applied are masked before the texts are stored (secret-mask.ts).
 */
import { SlipwayError } from '../../shared/errors';
import type { AgentContainerLogs, MasterContainerLogsAck } from '../../shared/protocol';
import type { MasterContext } from '../context';
import type { LogCenterStore } from '../logcenter';
import type { ContainerLogsPort } from './ingest-port';
import { createAppLogMasker } from './secret-mask';

export function createIngest(ctx: MasterContext, store: LogCenterStore, onStored: (apps: Set<string>) => void): ContainerLogsPort {
  const masker = createAppLogMasker(ctx);
  return {
    ingest(agent, batch: AgentContainerLogs): MasterContainerLogsAck {
      const ack = (storedThrough: number, refused?: string): MasterContainerLogsAck => ({ type: 'master:container-logs-ack', source: batch.source, storedThrough, ...(refused ? { refused } : {}) });
      if (batch.environment !== agent.environment) {
        const why = `environment: '${batch.environment}' is not this agent's environment '${agent.environment}'; an agent ships logs of its own environment only`;
        ctx.log.warn({ agent: agent.name, source: batch.source }, `container logs refused: ${why}`);
        return ack(0, why);
      }
      const { app, environment, instance } = batch;
      try {
        // Inside the try: a batch that cannot be masked (a secret that cannot be read) is refused, never stored as is.
        const texts = masker.mask(app, batch.texts);
        const entries = texts.map((text, i) => ({ app, environment, instance, stream: batch.streams[i] === 'e' ? ('stderr' as const) : ('stdout' as const), ts: batch.ts[i], text }));
        const r = store.append({ source: batch.source, firstSeq: batch.firstSeq, entries });
        if (r.stored) onStored(new Set([app]));
        if (r.gap) ctx.log.warn({ agent: agent.name, source: batch.source, gap: r.gap }, 'container log lines the agent dropped (its spool bound was hit)');
        return ack(r.storedThrough);
      } catch (err) {
        const msg = err instanceof SlipwayError ? err.message : 'the log center could not store the batch';
        ctx.log.error({ agent: agent.name, source: batch.source, err: err instanceof SlipwayError ? err.message : (err as Error).message }, 'container logs not stored');
        return ack(0, msg);
      }
    },
  };
}
