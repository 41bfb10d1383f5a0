/**
 * Scan: runs scanners over the workspace and attaches their findings as one SARIF 2.1.0 report, checked
 * against the step's quality gate on the master's counts (new = not in the last successful build of the branch).
 *
 *   - scan: { tools: [secrets, dockerfile, shellcheck, eslint], gate: { high: 0, newMedium: 0 } }
 *   - scan: true                     # the defaults: secrets and dockerfile, no gate
 *
 * Built-in tools (agent/scanners/): secrets (known token formats + entropy, allow-list file) and dockerfile
 * (Dockerfile and compose rules). Plugins add more (plugins/eslint-sarif, plugins/shellcheck-sarif), each
 * with its settings under `config: { TOOL: {...} }`, validated with the plugin's JSON Schema. A tool no
 * enabled plugin provides is refused at apply (at the tool's line), naming the plugin that provides it when
 * known. Outputs: findings, high, medium, low (counts of this step's findings).
 */
import { z } from 'zod';
import { qualityGateSchema } from '../gate';
import { builtinScannerKinds, type ScannerKinds } from '../scanner-kinds';
import { defineStepKind, type AnyStepKind, type ReportSpec } from '../step-kind';

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
  /** Settings per tool, validated with the tool's schema (a plugin scanner's manifest JSON Schema). */
  config: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
});

export type ScanConfig = z.output<typeof scanObjectSchema>;

/** The scan step's config schema over the scanners of `scanners`: `scan: true` is every default; otherwise the object. */
export function scanConfigSchemaFor(scanners: ScannerKinds): z.ZodType<ScanConfig> {
  const checked = scanObjectSchema
    .superRefine((c, ctx) => {
      c.tools.forEach((t, i) => {
        const problem = scanners.problem(t);
        if (problem) return ctx.addIssue({ code: 'custom', path: ['tools', i], message: problem, continue: true });
        const r = scanners.get(t)!.config.safeParse(c.config[t] ?? {});
        if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: ['config', t, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: issue.message, continue: true });
      });
      for (const k of Object.keys(c.config)) if (!c.tools.includes(k)) ctx.addIssue({ code: 'custom', path: ['config', k], message: `settings for '${k}', which tools does not list`, continue: true });
    })
    // Each tool's settings as its schema normalises them (defaults applied). An overwrite, not a transform: a
    // pipe would hide the field of an error behind the union's "Invalid input". Invalid settings stay as they
    // are (the issues above already refuse them).
    .overwrite((c) => ({
      ...c,
      config: Object.fromEntries(Object.entries(c.config).map(([t, v]) => {
        const r = scanners.get(t)?.config.safeParse(v);
        return [t, r?.success ? r.data : v];
      })),
    }));
  return z.union([z.literal(true).transform(() => scanObjectSchema.parse({})), checked]) as unknown as z.ZodType<ScanConfig>;
}

export const scanOutputsSchema = z.strictObject({ findings: z.number(), high: z.number(), medium: z.number(), low: z.number() });

const made = new WeakMap<ScannerKinds, AnyStepKind>();

/** The scan kind validating its tools against `scanners` (default: the built-in scanners only); one per registry. */
export function createScanKind(scanners: ScannerKinds = builtinScannerKinds()): AnyStepKind {
  const known = made.get(scanners);
  if (known) return known;
  const kind = defineStepKind<ScanConfig>({
    kind: 'scan',
    aliases: [],
    config: scanConfigSchemaFor(scanners),
    scanners: (c) => c.tools.filter((t) => scanners.get(t)?.plugin),
    capabilities: [],
    workspace: 'clean',
    outputNames: () => Object.keys(scanOutputsSchema.shape),
    outputs: scanOutputsSchema as z.ZodType<Record<string, number>>,
    reports: (c): ReportSpec[] => [{ format: 'sarif', path: SCAN_REPORT_PATH, failStep: true, ...(c.gate ? { gate: c.gate } : {}) }],
  });
  made.set(scanners, kind);
  return kind;
}

/** The scan kind of the built-in scanners only (a master without plugins, the CLI without manifests). */
export const scanKind = createScanKind();
