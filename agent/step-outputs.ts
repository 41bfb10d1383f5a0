/**
 * $SLIPWAY_OUTPUT: one file per step, in a directory of the stage run owned by the job's build user and
 * outside the workspace (so artifact globs never see it). After the step the agent reads it back without
 * trusting it: no symlink is followed, it must be a regular file of the build user (a hard link to a file of
 * root's would not be), and of bounded size. The runner then merges the executor's own outputs, checks
 * them against the kind's schema (shared/job/outputs.ts) and masks secrets.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_OUTPUT_BYTES, outputsProblem, parseOutputFile, type Outputs } from '../shared/job/outputs';
import { SecretMasker } from '../shared/mask';
import type { AnyStepKind } from '../shared/job';
import type { RunAs } from './executors/types';

/** Creates the stage run's output directory (handed over to runAs by the caller). */
export async function createOutputDir(stagingDir: string, stageRunId: number): Promise<string> {
  return mkdtemp(join(stagingDir, `io-${stageRunId}-`));
}

/** The (empty) output file of step `index`, created before the directory is handed over. */
export async function createOutputFile(dir: string, index: number): Promise<string> {
  const file = outputFileFor(dir, index);
  await writeFile(file, '', { mode: 0o600 });
  return file;
}

export function outputFileFor(dir: string, index: number): string {
  return join(dir, `step-${index}.out`);
}

/** Reads what the step wrote; throws with a message for the step log on anything suspicious. */
export async function readOutputFile(file: string, runAs: RunAs | undefined): Promise<Record<string, unknown>> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    throw new Error(`$SLIPWAY_OUTPUT could not be read (${code === 'ELOOP' ? 'it was replaced by a symlink' : code})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('$SLIPWAY_OUTPUT is not a regular file any more');
    if (runAs && st.uid !== runAs.uid) throw new Error("$SLIPWAY_OUTPUT is not the build user's file any more");
    if (st.size > 2 * MAX_OUTPUT_BYTES) throw new Error(`$SLIPWAY_OUTPUT is ${st.size} bytes, over the limit of ${MAX_OUTPUT_BYTES} bytes of outputs`);
    const text = (await fh.readFile()).toString('utf8');
    return parseOutputFile(text);
  } finally {
    await fh.close();
  }
}

/** `text` with every secret value replaced, as in the log. */
export function maskText(text: string, secrets: string[]): string {
  if (!secrets.length) return text;
  const m = new SecretMasker(secrets);
  return Buffer.concat([m.push(Buffer.from(text)), m.flush()]).toString('utf8');
}

/** Masks every string of the outputs with the build's secrets. */
export function maskOutputs(outputs: Outputs, secrets: string[]): Outputs {
  if (!secrets.length) return outputs;
  const mask = (s: string) => maskText(s, secrets);
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, typeof v === 'string' ? mask(v) : Array.isArray(v) ? v.map(mask) : v]));
}

/** The step's final outputs, or the reason they are refused (the step then fails). */
export function finalOutputs(def: AnyStepKind | undefined, fromFile: Record<string, unknown>, fromExecutor: Outputs | undefined): { outputs: Outputs } | { error: string } {
  const outputs = { ...fromFile, ...fromExecutor };
  if (!Object.keys(outputs).length) return { outputs: {} };
  const problem = outputsProblem(outputs, def?.outputs);
  return problem ? { error: `step outputs refused: ${problem}` } : { outputs: outputs as Outputs };
}
