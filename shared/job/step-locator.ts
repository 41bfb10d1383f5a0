/**
 * Issues about the steps of a parsed job, named by the step as its file writes it, with the line and column.
 * The parsed steps of a stage (JobConfig, stage runs, deployTargets) start with an implicit checkout step when
 * the job has a repo and the stage writes no checkout (parse.ts withCheckout); the file does not show it, so an
 * effective step index there is one past the written one. Checks the master makes after parsing (app owners,
 * registry push grants, local repositories, duplicate names) report through this, in the same
 * `file:line:col: field: message` form parseJobYaml uses.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { FieldIssue } from '../errors';
import { Locator, type JobConfig } from './parse';

export interface StepLocator {
  /** The index the file writes for the effective step `stepIndex` of stage `stageIndex`; undefined for the implicit checkout. */
  writtenIndex(stageIndex: number, stepIndex: number): number | undefined;
  /**
   * An issue at `field` (a path inside the step, e.g. `['deploy', 'app']`) of the effective step `stepIndex`:
   * field `stages[S].steps[I].deploy.app` with I as written, and the line/column of that field (of the nearest
   * written parent when the field is not written, e.g. an `app` left to its default).
   */
  issue(stageIndex: number, stepIndex: number, field: (string | number)[], message: string): FieldIssue;
}

/**
 * An issue at `path` (e.g. `['repo', 'url']`) of the job text `yaml` in `file`, with the line and column of that
 * field (of its nearest written parent when it is not written), for checks made after parsing.
 */
export function jobFieldIssue(yaml: string, file: string, path: (string | number)[], message: string): FieldIssue {
  const lines = new LineCounter();
  return new Locator(parseDocument(yaml, { lineCounter: lines }), lines, file, yaml).issue(path, message);
}

/**
 * A StepLocator for `config` as parsed from `yaml` (the job's text) in `file`. The text is parsed again only
 * when the first issue or index is asked for, so a check that finds nothing costs nothing.
 */
export function stepLocator(config: JobConfig, yaml: string, file: string): StepLocator {
  let state: { locator: Locator; written: (si: number) => number } | undefined;
  const load = () => {
    if (state) return state;
    const lines = new LineCounter();
    const doc = parseDocument(yaml, { lineCounter: lines });
    const raw = doc.toJS() as { stages?: { steps?: unknown[] }[] } | null;
    state = { locator: new Locator(doc, lines, file, yaml), written: (si) => raw?.stages?.[si]?.steps?.length ?? 0 };
    return state;
  };
  const writtenIndex = (si: number, pi: number): number | undefined => {
    const steps = config.stages[si]?.steps.length ?? 0;
    const i = pi - Math.max(0, steps - load().written(si));
    return i >= 0 ? i : undefined;
  };
  return {
    writtenIndex,
    issue(si, pi, field, message) {
      const i = writtenIndex(si, pi);
      // The implicit checkout has no place in the file: point at the stage's steps.
      if (i === undefined) return load().locator.issue(['stages', si, 'steps'], message);
      return load().locator.issue(['stages', si, 'steps', i, ...field], message);
    },
  };
}
