/**
 * One deploy at a time per app and environment. A stage with deploy steps holds the lock of each
 * `<app>@<environment>` it deploys (the step's `app`, or the job's name) from the moment it is leased until it
 * ends, whatever way it ends; a queued stage that needs a held lock waits, with the reason visible
 * (`waiting: deploy of shop-web to pre in progress: build #12 of shop-web`). Among queued stages that need
 * the same free lock only the oldest may be placed, so two deploys of one app never start in the same pass.
 *
 * The lock lives in the master's store (the running stage runs), so it survives a master restart, and it is
 * fenced by the stage's lease: when an agent is cut off, its stage is failed or retried only after its lease
 * expired, and an agent that has not heard from the master for half the lease stops touching containers
 * (agent/executors/deploy.ts), so the lost attempt and its retry never deploy at the same time.
 */
import { deployTargets, type JobConfig } from '../../../shared/job';
import type { EngineCore } from '../core';

/** The locks a stage of this job needs: `<app>@<environment>` of each of its deploy steps. */
export function deployLocks(job: JobConfig, stageIndex: number): string[] {
  return [...new Set(deployTargets(job).filter((t) => t.stageIndex === stageIndex).map((t) => `${t.app}@${t.environment}`))];
}

/** Locks held now by running stage runs: lock -> a sentence naming the holder. */
export function heldDeployLocks(core: EngineCore): Map<string, string> {
  const held = new Map<string, string>();
  for (const r of core.scheduling.runningStages()) {
    let job: JobConfig;
    try {
      job = core.buildConfig(r.buildId);
    } catch {
      continue;
    }
    for (const lock of deployLocks(job, r.stageIndex)) held.set(lock, `build #${r.number} of ${r.job}`);
  }
  return held;
}

/** Why a stage needing `locks` must wait, or undefined; `queuedBefore` holds locks of older queued stages. */
export function lockWait(locks: string[], held: Map<string, string>, queuedBefore?: Map<string, string>): string | undefined {
  for (const lock of locks) {
    const [app, env] = lock.split('@');
    const holder = held.get(lock);
    if (holder) return `waiting: deploy of ${app} to ${env} in progress: ${holder}`;
    const earlier = queuedBefore?.get(lock);
    if (earlier) return `waiting: an earlier deploy of ${app} to ${env} is queued: ${earlier}`;
  }
  return undefined;
}
