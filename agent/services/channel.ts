/**
 * The part of the agent's connection its services may use: send service messages to the master (today only
 * agent:container-logs) and hear the master's answers to them and the connection's ups and downs. Services
 * never see the socket or the stage runner; a service started without a master (the conformance suite) gets
 * a channel that is never ready, so it behaves as if the master were away.
 */
import type { AgentContainerLogs, MasterContainerLogsAck } from '../../shared/protocol';

export interface ChannelListener {
  /** The master accepted the agent (first connect or a reconnect): unacknowledged work is sent again. */
  onReady?(): void;
  /** The connection dropped: what was in flight will not be acknowledged. */
  onLost?(): void;
  onContainerLogsAck?(msg: MasterContainerLogsAck): void;
}

export interface MasterChannel {
  /** True while the master has accepted this agent and the socket is open. */
  readonly ready: boolean;
  /** Largest frame the master takes (from master:accepted). */
  readonly maxFrameBytes: number;
  /** Bytes queued on the socket and not written yet. */
  readonly bufferedAmount: number;
  /** Sends when ready; returns false (nothing sent) otherwise. */
  send(msg: AgentContainerLogs): boolean;
  listen(l: ChannelListener): () => void;
}

/** Until master:accepted tells the real limit. */
const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** The agent's side of a MasterChannel: agent/index.ts feeds it the connection's events. */
export class ServiceChannel implements MasterChannel {
  private readonly listeners = new Set<ChannelListener>();
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;

  constructor(private readonly transport: { readonly ready: boolean; readonly bufferedAmount: number; sendText(json: string): void } | undefined) {}

  get ready(): boolean {
    return !!this.transport?.ready;
  }

  get bufferedAmount(): number {
    return this.transport?.bufferedAmount ?? 0;
  }

  send(msg: AgentContainerLogs): boolean {
    if (!this.transport?.ready) return false;
    this.transport.sendText(JSON.stringify(msg));
    return true;
  }

  listen(l: ChannelListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  accepted(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
    for (const l of this.listeners) l.onReady?.();
  }

  lost(): void {
    for (const l of this.listeners) l.onLost?.();
  }

  ack(msg: MasterContainerLogsAck): void {
    for (const l of this.listeners) l.onContainerLogsAck?.(msg);
  }
}
