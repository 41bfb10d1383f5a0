/**
 * What the agent gateway needs from the log center: one call per agent:container-logs batch, answered by the
 * ack to send back. Kept apart from the store so the gateway knows nothing of it (engine/index.ts wires them).
 */
import type { AgentContainerLogs, MasterContainerLogsAck } from '../../shared/protocol';

export interface ContainerLogsPort {
  /** Stores the batch of an agent of `agent.environment` (or refuses it, saying why, in the ack). Never throws. */
  ingest(agent: { name: string; environment: string }, batch: AgentContainerLogs): MasterContainerLogsAck;
}
