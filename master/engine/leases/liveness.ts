/**
 * One rule for an agent's liveness and its leases. Heartbeats come every heartbeatIntervalMs and extend
 * every lease the agent holds to now + leaseTtlMs, so the time since the agent's last frame and the
 * expiry of its leases describe the same thing:
 *
 *  - live      heard from within two heartbeat intervals: may get new work;
 *  - in doubt  silent for longer: gets no new work (its running stage runs keep their leases: it may
 *              just be slow, and a frame brings it back at once);
 *  - lost      silent for the lease TTL (or agentLostAfterMs when that is shorter), or one of its leases
 *              expired: its socket is dropped, so it must say hello again (and learns on resume that its
 *              expired work was aborted), and its expired stage runs follow their retry policy.
 *
 * The retry of a stage lost with a frozen agent therefore never goes to that agent: it is in doubt long
 * before its lease expires, and lost when it does.
 */
import type { MasterConfig } from '../../context';
import type { AgentSession } from '../core';

export type Liveness = 'live' | 'in-doubt' | 'lost';

/** Silence after which an agent gets no new work. */
export function doubtAfterMs(config: Pick<MasterConfig, 'heartbeatIntervalMs'>): number {
  return 2 * config.heartbeatIntervalMs;
}

/** Silence after which an agent is lost, whatever its leases say. */
export function lostAfterMs(config: Pick<MasterConfig, 'leaseTtlMs' | 'agentLostAfterMs'>): number {
  return Math.min(config.leaseTtlMs, config.agentLostAfterMs);
}

export function livenessOf(
  session: Pick<AgentSession, 'lastFrameAt' | 'lost'>,
  now: number,
  config: Pick<MasterConfig, 'heartbeatIntervalMs' | 'leaseTtlMs' | 'agentLostAfterMs'>,
): Liveness {
  if (session.lost) return 'lost';
  const silent = now - session.lastFrameAt;
  if (silent > lostAfterMs(config)) return 'lost';
  return silent > doubtAfterMs(config) ? 'in-doubt' : 'live';
}
