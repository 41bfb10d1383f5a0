/**
 * Scan: runs scanners over the workspace and attaches their findings as one SARIF 2.1.0 report, checked
 * against the step's quality gate on the master's counts (new = not in the last successful build of the branch).
 *
 *   - scan: { tools: [secrets, dockerfile, shellcheck, eslint], gate: { high: 0, newMedium: 0 } }
 *   - scan: true                     # the defaults: secrets and dockerfile, no gate
 *
 * Built-in tools (agent/scanners/): secrets (known token formats + entropy, allow-list file), dockerfile
 * (Dockerfile and compose rules), shellcheck (needs shellcheck on the agent), eslint (the workspace's own
 * ESLint, skipped when it has none). Outputs: findings, high, medium, low (counts of this step's findings).
 */
import { z } from 'zod';
import { qualityGateSchema } from '../gate';
import { defineStepKind, type ReportSpec } from '../step-kind';

/** Where the scan step writes its SARIF report (workspace-relative; never scanned itself). */
export const SCAN_REPORT_PATH = '.slipway-scan/scan.sarif';

const insideWorkspace = (p: string) => !p.startsWith('/') && !p.split('/').includes('..');

const scanObjectSchema = z.strictObject({
  /** Scanners to run, in order (default secrets and dockerfile). */
  tools: z
    .array(z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'tool names are lower-case letters, digits and -'))
    .min(1)
    .refine((t) => new Set(t).size === t.length, 'a tool is listed twice')
    .default(['secrets', 'dockerfile']),
  /** Directory scanned, workspace-relative (default the whole workspace). */
  path: z.string().min(1).refine(insideWorkspace, 'path must stay inside the workspace').default('.'),
  /** Workspace-relative globs not scanned (.git, node_modules and the scan's output never are). */
  exclude: z.array(z.string().min(1)).max(100).default([]),
  /** The secrets allow-list file, workspace-relative. */
  allowList: z.string().min(1).refine(insideWorkspace, 'allowList must stay inside the workspace').default('.slipway/secrets-allow'),
  /** Limits on the findings; exceeding one fails the step (and so the build) with a summary. */
  gate: qualityGateSchema.optional(),
});

/** `scan: true` is every default; otherwise the object. */
export const scanConfigSchema = z.union([z.literal(true).transform(() => scanObjectSchema.parse({})), scanObjectSchema]);

export type ScanConfig = z.output<typeof scanObjectSchema>;

export const scanOutputsSchema = z.strictObject({ findings: z.number(), high: z.number(), medium: z.number(), low: z.number() });

export const scanKind = defineStepKind<ScanConfig>({
  kind: 'scan',
  aliases: [],
  config: scanConfigSchema as unknown as z.ZodType<ScanConfig>,
  capabilities: [],
  workspace: 'clean',
  outputNames: () => Object.keys(scanOutputsSchema.shape),
  outputs: scanOutputsSchema as z.ZodType<Record<string, number>>,
  reports: (c): ReportSpec[] => [{ format: 'sarif', path: SCAN_REPORT_PATH, failStep: true, ...(c.gate ? { gate: c.gate } : {}) }],
});
