/**
 * The scheduler's matching and fairness, as a pure function over the queue and the agents' free slots.
 *
 * Matching: a stage run may go to an agent of exactly its environment that carries all of its labels, has an
 * executor for every step kind of the stage, every plugin scanner its scan steps run, every plugin report
 * format its reports are written in, and every host capability it needs (docker, etcd...), and has a
 * free slot (capacity minus running leases). Draining, lost and disconnected agents are not offered.
 * Order: FIFO by queue time within a job; between jobs, round-robin: each round gives at most one slot
 * to each job, jobs served least recently first (ties: oldest queued head first), so one job's 100
 * queued builds never starve another job. A run that cannot be placed does not block later runs of its
 * job in other environments.
 */
export interface QueuedRun {
  id: number;
  jobId: number;
  environment: string;
  labels: string[];
  /** Step kinds of the stage; absent: not checked. */
  kinds?: string[];
  /** Plugin scanners the stage's scan steps run; absent: none. */
  scanners?: string[];
  /** Plugin report formats the stage's reports are written in (converted on the agent); absent: none. */
  reportFormats?: string[];
  /** Host capabilities the stage needs; absent: none. */
  capabilities?: string[];
  queuedAt: number;
  /** Agents that refused this run (e.g. a step kind they lack): never offered it again. */
  avoid?: number[];
  /** Why the run may not start now whatever the agents (a deploy lock): never placed while set. */
  blocked?: string;
}

export interface AgentSlots {
  agentId: number;
  environment: string;
  labels: string[];
  /** Step kinds the agent has executors for; absent: not checked. */
  kinds?: string[];
  /** Plugin scanners the agent runs (at the versions the master names); absent: none. */
  scanners?: string[];
  /** Plugin report formats the agent converts (its plugin loaded at the version the master names); absent: none. */
  reportFormats?: string[];
  /** Host capabilities the agent has. */
  capabilities?: string[];
  free: number;
}

export interface Placement {
  stageRunId: number;
  jobId: number;
  agentId: number;
}

/** Whether an agent may run a stage: same environment, every label, step kind and capability of the stage present. */
export function agentMatches(
  run: Pick<QueuedRun, 'environment' | 'labels' | 'kinds' | 'scanners' | 'reportFormats' | 'capabilities'>,
  agent: Pick<AgentSlots, 'environment' | 'labels' | 'kinds' | 'scanners' | 'reportFormats' | 'capabilities'>,
): boolean {
  return (
    run.environment === agent.environment &&
    run.labels.every((l) => agent.labels.includes(l)) &&
    (!run.kinds || !agent.kinds || run.kinds.every((k) => agent.kinds!.includes(k))) &&
    (run.scanners ?? []).every((s) => agent.scanners?.includes(s) ?? false) &&
    (run.reportFormats ?? []).every((f) => agent.reportFormats?.includes(f) ?? false) &&
    (run.capabilities ?? []).every((c) => agent.capabilities?.includes(c) ?? false)
  );
}

/**
 * Plans placements. `queue` must be in FIFO order (queued_at, id). `lastServed` (jobId -> tick of the
 * job's latest placement) carries fairness across passes and is updated here; `tick` returns increasing
 * numbers.
 */
export function planDispatch(
  queue: QueuedRun[],
  agents: AgentSlots[],
  lastServed: Map<number, number>,
  tick: () => number,
): Placement[] {
  const slots = agents.filter((a) => a.free > 0).map((a) => ({ ...a }));
  if (!slots.length || !queue.length) return [];
  const byJob = new Map<number, QueuedRun[]>();
  for (const r of queue) {
    const list = byJob.get(r.jobId);
    if (list) list.push(r);
    else byJob.set(r.jobId, [r]);
  }
  const out: Placement[] = [];
  for (;;) {
    const jobs = [...byJob.entries()].sort(
      ([a, ra], [b, rb]) => (lastServed.get(a) ?? 0) - (lastServed.get(b) ?? 0) || ra[0].queuedAt - rb[0].queuedAt || ra[0].id - rb[0].id,
    );
    let placed = false;
    for (const [jobId, runs] of jobs) {
      for (let i = 0; i < runs.length; i++) {
        const agent = pickAgent(runs[i], slots);
        if (!agent) continue;
        agent.free--;
        out.push({ stageRunId: runs[i].id, jobId, agentId: agent.agentId });
        lastServed.set(jobId, tick());
        runs.splice(i, 1);
        if (!runs.length) byJob.delete(jobId);
        placed = true;
        break;
      }
    }
    if (!placed || !byJob.size) return out;
  }
}

/** The matching agent with the most free slots (spreads work), lowest id on ties (stable). */
function pickAgent(run: QueuedRun, slots: AgentSlots[]): AgentSlots | undefined {
  let best: AgentSlots | undefined;
  for (const a of slots) {
    if (run.blocked || a.free <= 0 || !agentMatches(run, a) || run.avoid?.includes(a.agentId)) continue;
    if (!best || a.free > best.free || (a.free === best.free && a.agentId < best.agentId)) best = a;
  }
  return best;
}
