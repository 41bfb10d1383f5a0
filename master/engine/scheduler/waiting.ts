/**
 * Why a queued stage run is not running: a pure function over the stage's needs and the connected agents, for
 * the API and CLI (`waiting: no agent of environment pre with capability docker`). It narrows the connected
 * agents step by step (environment, labels, step kinds, capabilities, free slots) and names the first need
 * no remaining agent meets, so the reason says what to fix.
 */
import type { AgentSession } from '../core';
import { agentOffer } from './dispatcher';
import type { AgentSlots, QueuedRun } from './plan';

export type WaitingAgent = Omit<AgentSlots, 'free'> & { free: number; draining?: boolean };

/**
 * `kindNote` may say why nobody has a step kind (`step kind 'x' is provided by plugin 'p', which is disabled`),
 * `scannerNote` the same for a plugin scanner, `formatNote` for a plugin report format (which plugin converts
 * it, or that it is disabled); it is added to the reason.
 */
export function waitingReason(
  run: Pick<QueuedRun, 'environment' | 'labels' | 'kinds' | 'scanners' | 'reportFormats' | 'capabilities' | 'blocked'>,
  agents: WaitingAgent[],
  kindNote?: (kind: string) => string | undefined,
  scannerNote?: (scanner: string) => string | undefined,
  formatNote?: (format: string) => string | undefined,
): string {
  if (run.blocked) return run.blocked;
  const env = run.environment;
  let left = agents.filter((a) => a.environment === env && !a.draining);
  if (!left.length) return `waiting: no agent of environment ${env} connected`;
  for (const label of run.labels) {
    left = left.filter((a) => a.labels.includes(label));
    if (!left.length) return `waiting: no agent of environment ${env} with label ${label}`;
  }
  for (const kind of run.kinds ?? []) {
    left = left.filter((a) => !a.kinds || a.kinds.includes(kind));
    if (!left.length) {
      const note = kindNote?.(kind);
      return `waiting: no agent of environment ${env} with step kind ${kind}${note ? ` (${note})` : ''}`;
    }
  }
  for (const scanner of run.scanners ?? []) {
    left = left.filter((a) => a.scanners?.includes(scanner));
    if (!left.length) {
      const note = scannerNote?.(scanner);
      return `waiting: no agent of environment ${env} with scanner ${scanner}${note ? ` (${note})` : ''}`;
    }
  }
  for (const format of run.reportFormats ?? []) {
    left = left.filter((a) => a.reportFormats?.includes(format));
    if (!left.length) {
      const note = formatNote?.(format);
      return `waiting: no agent of environment ${env} with report format ${format}${note ? ` (${note})` : ''}`;
    }
  }
  for (const cap of run.capabilities ?? []) {
    left = left.filter((a) => a.capabilities?.includes(cap));
    if (!left.length) return `waiting: no agent of environment ${env} with capability ${cap}`;
  }
  if (!left.some((a) => a.free > 0)) return `waiting: all ${left.length} agent${left.length === 1 ? '' : 's'} of environment ${env} that can run it are busy`;
  return 'waiting: for the scheduler';
}

/** The connected agents as waitingReason sees them, with their free slots. */
export function connectedAgents(sessions: Iterable<AgentSession>, runningPerAgent: Map<number, number>): WaitingAgent[] {
  const out: WaitingAgent[] = [];
  for (const s of sessions) {
    if (s.lost) continue;
    // Slots counted as the dispatcher counts them: the agent's own busy count wins when it is higher.
    out.push({ ...agentOffer(s), draining: s.draining, free: s.capacity - Math.max(runningPerAgent.get(s.agentId) ?? 0, s.busy) });
  }
  return out;
}
