/**
 * Step outputs (table step_outputs): written when an agent:step-finished record is stored, read for the API and
 * for master:assign (earlier stages' outputs by step id). All SQL on the table lives here.
 */
import type { OutputValue, Outputs } from '../../shared/job/outputs';
import type { Db } from './db';

export interface StoredOutput {
  stageRunId: number;
  stageIndex: number;
  stepIndex: number;
  stepId: string | null;
  key: string;
  value: OutputValue;
}

export interface OutputsStore {
  /** Stores one step's outputs (inside the caller's transaction); a replayed record replaces, never duplicates. */
  put(step: { buildId: number; stageRunId: number; stageIndex: number; stepIndex: number; stepId: string | null }, outputs: Outputs, now: number): void;
  /** Every output of a build, in stage, step, key order. */
  forBuild(buildId: number): StoredOutput[];
  /**
   * Outputs of steps with an id in stages before `beforeStageIndex` of the build, by step id. Of several attempts
   * of a stage, the one stored last wins.
   */
  byStepId(buildId: number, beforeStageIndex: number): Record<string, Outputs>;
}

interface Row {
  stage_run_id: number;
  stage_index: number;
  step_index: number;
  step_id: string | null;
  key: string;
  value: string;
}

export function createOutputsStore(db: Db): OutputsStore {
  const insert = db.prepare(
    `INSERT INTO step_outputs (build_id, stage_run_id, stage_index, step_index, step_id, key, value, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (stage_run_id, step_index, key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`,
  );
  const ofBuild = db.prepare<[number], Row>(
    'SELECT stage_run_id, stage_index, step_index, step_id, key, value FROM step_outputs WHERE build_id = ? ORDER BY stage_index, stage_run_id, step_index, key',
  );
  const withIds = db.prepare<[number, number], Row>(
    `SELECT stage_run_id, stage_index, step_index, step_id, key, value FROM step_outputs
     WHERE build_id = ? AND stage_index < ? AND step_id IS NOT NULL ORDER BY id`,
  );
  return {
    put(step, outputs, now) {
      for (const [key, value] of Object.entries(outputs)) {
        insert.run(step.buildId, step.stageRunId, step.stageIndex, step.stepIndex, step.stepId, key, JSON.stringify(value), now);
      }
    },
    forBuild(buildId) {
      return ofBuild.all(buildId).map((r) => ({
        stageRunId: r.stage_run_id,
        stageIndex: r.stage_index,
        stepIndex: r.step_index,
        stepId: r.step_id,
        key: r.key,
        value: JSON.parse(r.value) as OutputValue,
      }));
    },
    byStepId(buildId, beforeStageIndex) {
      const out: Record<string, Outputs> = {};
      const runOf = new Map<string, number>();
      for (const r of withIds.all(buildId, beforeStageIndex)) {
        const id = r.step_id!;
        // A later attempt of the stage replaces the outputs of an earlier one as a whole.
        if (runOf.get(id) !== r.stage_run_id) {
          runOf.set(id, r.stage_run_id);
          out[id] = {};
        }
        out[id][r.key] = JSON.parse(r.value) as OutputValue;
      }
      return out;
    },
  };
}
