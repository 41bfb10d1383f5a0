/**
 * Shell: `sh: <command>` or `sh: { run, shell?, junit?, sarif?, outputs? }` (aliases compile, test, run).
 * `sarif` attaches a SARIF 2.1.0 file any scanner wrote (Semgrep, CodeQL...), with an optional quality gate.
 * Either may name a plugin report `format` the file is written in (`junit: { path: out.tap, format: tap }`):
 * the agent converts it to JUnit / SARIF before the upload.
 * Outputs: whatever the command writes to $SLIPWAY_OUTPUT (strings); all are stored and shown, and the names
 * listed in `outputs` are the ones later steps may reference (checked at apply time).
 */
import { z } from 'zod';
import { qualityGateSchema } from '../gate';
import { OUTPUT_KEY_RE } from '../outputs';
import { defineStepKind, type ReportSpec } from '../step-kind';

const junitSchema = z.union([
  z.string().min(1),
  z.strictObject({
    path: z.string().min(1),
    /** Fail the step when the report is missing, malformed or has failing tests (default false). */
    failStep: z.boolean().default(false),
    /** The file's format when it is not JUnit XML: a plugin report format converting it (e.g. tap). */
    format: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a report format name').optional(),
  }),
]);

const sarifSchema = z.union([
  z.string().min(1),
  z.strictObject({
    path: z.string().min(1),
    /** Fail the step when the report is missing or malformed (default false). */
    failStep: z.boolean().default(false),
    /** Limits on the findings; exceeding one fails the step. */
    gate: qualityGateSchema.optional(),
    /** The file's format when it is not SARIF: a plugin report format converting it. */
    format: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a report format name').optional(),
  }),
]);

export const shellConfigSchema = z
  .union([
    z.string().min(1),
    z.strictObject({
      run: z.string().min(1),
      /** Interpreter; the command is passed to it with -c (default sh). */
      shell: z.string().min(1).optional(),
      /** JUnit XML report the step writes: a workspace-relative path, or { path, failStep }. */
      junit: junitSchema.optional(),
      /** SARIF 2.1.0 report the step writes: a workspace-relative path, or { path, failStep, gate }. */
      sarif: sarifSchema.optional(),
      /** Names of the outputs the command writes to $SLIPWAY_OUTPUT; only these may be referenced. */
      outputs: z.array(z.string().regex(OUTPUT_KEY_RE, 'output names are letters, digits, _ and -')).max(100).optional(),
    }),
  ])
  .transform((v) => (typeof v === 'string' ? { run: v } : v));

export type ShellConfig = z.output<typeof shellConfigSchema>;

export const shellKind = defineStepKind<ShellConfig>({
  kind: 'shell',
  aliases: ['sh', 'compile', 'test', 'run'],
  config: shellConfigSchema,
  capabilities: [],
  workspace: 'clean',
  outputNames: (c) => c.outputs ?? [],
  outputs: z.record(z.string(), z.string()),
  reports: (c): ReportSpec[] => {
    const out: ReportSpec[] = [];
    if (c.junit) {
      out.push(
        typeof c.junit === 'string'
          ? { format: 'junit', path: c.junit, failStep: false }
          : { format: 'junit', path: c.junit.path, failStep: c.junit.failStep, ...(c.junit.format ? { from: c.junit.format, field: ['junit'] } : {}) },
      );
    }
    if (c.sarif) {
      out.push(
        typeof c.sarif === 'string'
          ? { format: 'sarif', path: c.sarif, failStep: false }
          : { format: 'sarif', path: c.sarif.path, failStep: c.sarif.failStep, ...(c.sarif.gate ? { gate: c.sarif.gate } : {}), ...(c.sarif.format ? { from: c.sarif.format, field: ['sarif'] } : {}) },
      );
    }
    return out;
  },
});
