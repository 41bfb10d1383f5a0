/**
 * The plugin manifest: what a plugin package (an npm tarball or a folder) says about itself, in
 * `slipway-plugin.json` or in the `slipway` field of its package.json (name and version then default to the
 * package's own). Validated with zod on the master at install and on the agent at load; every problem names
 * the file and the field (`slipway-plugin.json: provides.stepKinds[0].config: ...`).
 *
 *   {
 *     "name": "dockerfile-lint", "version": "1.0.0",
 *     "protocol": ">=10 <12",                    // agent protocol versions it works with (protocol-range.ts)
 *     "entry": { "agent": "agent.mjs" },         // ES module exporting `executors = { [kind]: { run(step) } }`
 *     "provides": { "stepKinds": [ {
 *         "kind": "dockerfile-lint",
 *         "config": { "type": "object", ... },    // JSON Schema of the step's value in a job file
 *         "capabilities": [], "workspace": "clean",
 *         "outputs": { "findings": "number" },
 *         "reports": [ { "format": "sarif", "path": ".slipway-plugins/dockerfile-lint.sarif" } ] } ] }
 *   }
 *
 * A plugin may also provide scanners for the built-in `scan` step (`provides.scanners`: kind, description,
 * config JSON Schema); its agent entry then exports `scanners = { [kind]: { scan(ctx) } }` returning one SARIF
 * 2.1.0 run. And notifier kinds (`provides.notifiers`: kind, description, config JSON Schema, and `secrets`,
 * the config fields that name team secrets), delivered by the master: its `entry.master` module exports
 * `notifiers = { [kind]: { send(ctx) } }`. entry.agent is required with step kinds or scanners, entry.master
 * with notifiers. And report formats (`provides.reportFormats`: name, to: junit | sarif): converters the
 * agent runs on a step's report file before it is uploaded (`junit: { path, format: tap }`); the agent entry
 * exports `reportFormats = { [name]: { convert(ctx) } }` returning the converted text. A plugin provides at
 * least one of them.
 */
import { z } from 'zod';
import { parseProtocolRange, protocolInRange } from './protocol-range';

export const PLUGIN_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const KIND_RE = PLUGIN_NAME_RE;
const SEMVER_RE = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
/** The manifest name of the built-in step kinds (shell, checkout, image, deploy, scan) seen as one plugin. */
export const BUILTIN_PLUGIN = 'builtin';

const relPath = (what: string) =>
  z
    .string()
    .min(1)
    .max(256)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\'), `${what} must be a relative path inside the package`);

export const OUTPUT_TYPES = ['string', 'number', 'boolean', 'string[]'] as const;

const stepKindSpecSchema = z.strictObject({
  /** The key jobs use for the step (`- dockerfile-lint: {...}`). */
  kind: z.string().regex(KIND_RE, 'step kinds are lower-case letters, digits and -, starting with a letter'),
  /** Other keys for the same kind. */
  aliases: z.array(z.string().regex(KIND_RE, 'aliases are lower-case letters, digits and -, starting with a letter')).max(16).default([]),
  description: z.string().max(1024).optional(),
  /** JSON Schema (draft 2020-12 subset zod understands) of the step's value: an object. */
  config: z.record(z.string(), z.unknown()),
  /** Host capabilities the agent needs (docker, etcd, nginx). */
  capabilities: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'capabilities are lower-case names')).max(16).default([]),
  /** 'clean' (default: the stage's workspace, with the checkout when the job has a repo) or 'none'. */
  workspace: z.enum(['clean', 'none']).default('clean'),
  /** Outputs the step may publish, by name, with their type. */
  outputs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'output names are letters, digits, _ and -'), z.enum(OUTPUT_TYPES)).default({}),
  /** Reports the step writes into the workspace, parsed on the master like shell's `junit:` / `sarif:`. */
  reports: z
    .array(z.strictObject({ format: z.enum(['junit', 'sarif']), path: relPath('a report path'), failStep: z.boolean().default(false) }))
    .max(8)
    .default([]),
});

const scannerSpecSchema = z.strictObject({
  /** The name a scan step lists in `tools:` (`- scan: { tools: [eslint] }`). */
  kind: z.string().regex(KIND_RE, 'scanner kinds are lower-case letters, digits and -, starting with a letter'),
  description: z.string().max(1024).optional(),
  /** JSON Schema of the scanner's settings (`scan: { config: { KIND: {...} } }`): an object. */
  config: z.record(z.string(), z.unknown()).default({ type: 'object' }),
});

const notifierSpecSchema = z.strictObject({
  /** The key a notify channel uses (`notify: [ { mattermost: { url: MM_HOOK } } ]`). */
  kind: z.string().regex(KIND_RE, 'notifier kinds are lower-case letters, digits and -, starting with a letter'),
  description: z.string().max(1024).optional(),
  /** JSON Schema of the channel's value: an object. */
  config: z.record(z.string(), z.unknown()),
  /** Top-level config fields holding the name of a team secret; the master resolves them for the plugin. */
  secrets: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'config field names')).max(16).default([]),
});

const reportFormatSpecSchema = z.strictObject({
  /** The name a step's report names as its `format` (`junit: { path: out.tap, format: tap }`). */
  name: z.string().regex(KIND_RE, 'report format names are lower-case letters, digits and -, starting with a letter'),
  /** What the converter produces: JUnit XML or SARIF 2.1.0, parsed on the master like any report of that kind. */
  to: z.enum(['junit', 'sarif']),
  description: z.string().max(1024).optional(),
});

export const pluginManifestSchema = z.strictObject({
  name: z.string().regex(PLUGIN_NAME_RE, 'plugin names are lower-case letters, digits and -, starting with a letter (max 63)'),
  version: z.string().regex(SEMVER_RE, 'a version is semver: MAJOR.MINOR.PATCH'),
  description: z.string().max(1024).optional(),
  /** Agent protocol versions the plugin works with, e.g. ">=10 <12". */
  protocol: z.string().superRefine((r, ctx) => {
    const parsed = parseProtocolRange(r);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  }),
  entry: z.strictObject({
    /** ES module the agent imports: `export const executors = { [kind]: { run(step) } }` (and `scanners`). */
    agent: relPath('entry.agent').refine((p) => /\.(m?js)$/.test(p), 'entry.agent must be a .mjs or .js ES module').optional(),
    /** ES module the master imports in a child process: `export const notifiers = { [kind]: { send(ctx) } }`. */
    master: relPath('entry.master').refine((p) => /\.(m?js)$/.test(p), 'entry.master must be a .mjs or .js ES module').optional(),
  }),
  provides: z
    .object({
      stepKinds: z.array(stepKindSpecSchema).max(32).default([]),
      /** Scanners of the built-in scan step. */
      scanners: z.array(scannerSpecSchema).max(32).default([]),
      /** Notifier kinds, delivered by the master (entry.master). */
      notifiers: z.array(notifierSpecSchema).max(32).default([]),
      /** Report file formats converted to JUnit or SARIF on the agent. */
      reportFormats: z.array(reportFormatSpecSchema).max(32).default([]),
    })
    .superRefine((p, ctx) => {
      if (!p.stepKinds.length && !p.scanners.length && !p.notifiers.length && !p.reportFormats.length) {
        ctx.addIssue({ code: 'custom', path: ['stepKinds'], message: 'a plugin provides at least one step kind, scanner, notifier or report format' });
      }
      const formats = new Set<string>();
      p.reportFormats.forEach((f, i) => {
        if (formats.has(f.name) || f.name === 'junit' || f.name === 'sarif') ctx.addIssue({ code: 'custom', path: ['reportFormats', i, 'name'], message: `report format '${f.name}' is ${formats.has(f.name) ? 'declared twice' : 'built in'}` });
        formats.add(f.name);
      });
      const notifiers = new Set<string>();
      p.notifiers.forEach((n, i) => {
        if (notifiers.has(n.kind)) ctx.addIssue({ code: 'custom', path: ['notifiers', i, 'kind'], message: `notifier '${n.kind}' is declared twice` });
        notifiers.add(n.kind);
        const problem = configSchemaProblem(n.config);
        if (problem) ctx.addIssue({ code: 'custom', path: ['notifiers', i, 'config'], message: problem });
      });
      const scanners = new Set<string>();
      p.scanners.forEach((s, i) => {
        if (scanners.has(s.kind)) ctx.addIssue({ code: 'custom', path: ['scanners', i, 'kind'], message: `scanner '${s.kind}' is declared twice` });
        scanners.add(s.kind);
        const problem = configSchemaProblem(s.config);
        if (problem) ctx.addIssue({ code: 'custom', path: ['scanners', i, 'config'], message: problem });
      });
      const seen = new Set<string>();
      p.stepKinds.forEach((k, i) => {
        for (const [j, key] of [k.kind, ...k.aliases].entries()) {
          if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['stepKinds', i, j === 0 ? 'kind' : 'aliases'], message: `step kind '${key}' is declared twice` });
          seen.add(key);
        }
        const problem = configSchemaProblem(k.config);
        if (problem) ctx.addIssue({ code: 'custom', path: ['stepKinds', i, 'config'], message: problem });
      });
    }),
}).superRefine((m, ctx) => {
  if ((m.provides.stepKinds.length || m.provides.scanners.length || m.provides.reportFormats.length) && !m.entry.agent) {
    ctx.addIssue({ code: 'custom', path: ['entry', 'agent'], message: 'a plugin with step kinds, scanners or report formats needs entry.agent' });
  }
  if (m.provides.notifiers.length && !m.entry.master) ctx.addIssue({ code: 'custom', path: ['entry', 'master'], message: 'a plugin with notifiers needs entry.master' });
});

export type PluginManifest = z.output<typeof pluginManifestSchema>;
export type StepKindSpec = PluginManifest['provides']['stepKinds'][number];
export type ScannerSpec = PluginManifest['provides']['scanners'][number];
export type NotifierSpec = PluginManifest['provides']['notifiers'][number];
export type ReportFormatSpec = PluginManifest['provides']['reportFormats'][number];

export class PluginManifestError extends Error {
  override readonly name = 'PluginManifestError';
}

/** Why a config JSON Schema is not usable (zod cannot read it, or it does not describe an object), or undefined. */
export function configSchemaProblem(schema: Record<string, unknown>): string | undefined {
  if (schema.type !== 'object') return 'the config JSON Schema must have "type": "object"';
  try {
    z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    return undefined;
  } catch (e) {
    return `not a usable JSON Schema: ${(e as Error).message}`;
  }
}

function fieldOf(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(manifest)';
}

/** Validates a manifest object read from `file`; throws PluginManifestError naming the file and every bad field. */
export function parseManifest(raw: unknown, file: string): PluginManifest {
  const r = pluginManifestSchema.safeParse(raw);
  if (!r.success) throw new PluginManifestError(r.error.issues.map((i) => `${file}: ${fieldOf(i.path)}: ${i.message}`).join('\n'));
  return r.data;
}

/**
 * The manifest of a package from the texts of its `slipway-plugin.json` and/or `package.json` (either may be
 * undefined). slipway-plugin.json wins; otherwise package.json's `slipway` field, with the package's name
 * and version unless the field sets its own. Throws PluginManifestError.
 */
export function manifestFromFiles(files: { 'slipway-plugin.json'?: string; 'package.json'?: string }): PluginManifest {
  const json = (file: string, text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new PluginManifestError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  };
  if (files['slipway-plugin.json'] !== undefined) return parseManifest(json('slipway-plugin.json', files['slipway-plugin.json']), 'slipway-plugin.json');
  if (files['package.json'] === undefined) throw new PluginManifestError('no manifest: a plugin package has slipway-plugin.json or a package.json with a "slipway" field');
  const pkg = json('package.json', files['package.json']) as { name?: unknown; version?: unknown; slipway?: unknown };
  if (!pkg || typeof pkg !== 'object' || !pkg.slipway || typeof pkg.slipway !== 'object') {
    throw new PluginManifestError('package.json: slipway: missing (a plugin package.json has a "slipway" field with protocol, entry and provides)');
  }
  return parseManifest({ name: pkg.name, version: pkg.version, ...(pkg.slipway as object) }, 'package.json');
}

/** Why a plugin cannot run with protocol version `v` (naming the field), or undefined when it can. */
export function protocolProblem(m: Pick<PluginManifest, 'name' | 'version' | 'protocol'>, v: number, who: string): string | undefined {
  return protocolInRange(m.protocol, v) ? undefined : `plugin ${m.name}@${m.version}: protocol: '${m.protocol}' does not include ${who}'s protocol version ${v}`;
}
