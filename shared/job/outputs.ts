/**
 * Step outputs: small named values a step publishes (an image digest, a commit, the instances deployed) that
 * later steps and stages of the same build reference as `${{ steps.ID.outputs.KEY }}`.
 *
 * Contract, the same on agent and master:
 *  - names are OUTPUT_KEY_RE, at most MAX_OUTPUTS per step;
 *  - values are strings, numbers, booleans or lists of strings (OutputValue), typed further by the step
 *    kind's `outputs` schema (step-kinds.ts);
 *  - the JSON of all of one step's outputs is at most MAX_OUTPUT_BYTES;
 *  - secret values are masked by the agent before they leave it, exactly like log lines.
 * A shell step writes them to the file named by $SLIPWAY_OUTPUT (parseOutputFile): `key=value` lines,
 * `key<<DELIM` ... `DELIM` blocks for multi-line values (as GitHub Actions' GITHUB_OUTPUT), or one JSON object.
 */
import { z } from 'zod';

export const OUTPUT_KEY_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
export const MAX_OUTPUTS = 100;
/** Well below the master's default frame limit (1 MiB): outputs travel in one agent:step-finished frame. */
export const MAX_OUTPUT_BYTES = 256 * 1024;

export const OutputValueSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
export type OutputValue = z.infer<typeof OutputValueSchema>;
export type Outputs = Record<string, OutputValue>;

/** Outputs in general (names, value types, count); sizes are checked by outputsProblem. */
export const OutputsSchema = z
  .record(z.string().regex(OUTPUT_KEY_RE, 'output names are letters, digits, _ and -, starting with a letter or _ (max 64)'), OutputValueSchema)
  .refine((o) => Object.keys(o).length <= MAX_OUTPUTS, `at most ${MAX_OUTPUTS} outputs per step`);

/** Why these outputs are not acceptable under `schema` (the step kind's), or null. */
export function outputsProblem(outputs: unknown, schema: z.ZodType = OutputsSchema): string | null {
  if (outputs && typeof outputs === 'object' && !Array.isArray(outputs)) {
    const bad = Object.keys(outputs).find((k) => !OUTPUT_KEY_RE.test(k));
    if (bad !== undefined) return `output ${JSON.stringify(bad.slice(0, 80))}: output names are letters, digits, _ and -, starting with a letter or _ (max 64)`;
  }
  const general = OutputsSchema.safeParse(outputs);
  if (!general.success) return describe(general.error);
  // TextEncoder, not Buffer: this module is part of the job schema the web UI validates with too.
  const bytes = new TextEncoder().encode(JSON.stringify(outputs)).length;
  if (bytes > MAX_OUTPUT_BYTES) return `outputs are ${bytes} bytes of JSON, over the limit of ${MAX_OUTPUT_BYTES}`;
  const typed = schema.safeParse(outputs);
  return typed.success ? null : describe(typed.error);
}

function describe(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.length ? `output ${i.path.map(String).join('.')}: ` : ''}${i.message}` : 'invalid outputs';
}

/**
 * The text of a $SLIPWAY_OUTPUT file -> outputs. Throws an Error naming the line for anything else.
 * A later line with the same key wins (a step may update an output as it goes).
 */
export function parseOutputFile(text: string): Record<string, string | OutputValue> {
  const trimmed = text.trim();
  if (!trimmed) return {};
  if (trimmed.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(trimmed);
    } catch (e) {
      throw new Error(`$SLIPWAY_OUTPUT looks like JSON but does not parse: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('$SLIPWAY_OUTPUT JSON must be one object of outputs');
    return v as Record<string, OutputValue>;
  }
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (!line.trim()) continue;
    const heredoc = /^([^=<\s]+)<<(\S+)$/.exec(line);
    if (heredoc) {
      const [, key, delim] = heredoc;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && lines[j].replace(/\r$/, '') !== delim; j++) body.push(lines[j]);
      if (j >= lines.length) throw new Error(`$SLIPWAY_OUTPUT line ${i + 1}: '${key}<<${delim}' has no closing '${delim}' line`);
      out[key] = body.join('\n');
      i = j;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`$SLIPWAY_OUTPUT line ${i + 1}: expected key=value or key<<DELIMITER`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** `${{ steps.ID.outputs.KEY }}` (spaces inside the braces optional). */
export const REFERENCE_RE = /\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}/g;
/** Anything that looks like an expression, to refuse the ones REFERENCE_RE does not understand. */
export const EXPRESSION_RE = /\$\{\{([^}]*)\}\}/g;

export interface Reference {
  step: string;
  key: string;
  /** The reference's text and where it starts in the string. */
  text: string;
  index: number;
}

/** References in one string; `bad` lists expressions that are not step-output references. */
export function findReferences(s: string): { refs: Reference[]; bad: { text: string; index: number }[] } {
  const refs: Reference[] = [];
  const bad: { text: string; index: number }[] = [];
  for (const m of s.matchAll(EXPRESSION_RE)) {
    const r = new RegExp(REFERENCE_RE.source).exec(m[0]);
    if (r && r[0] === m[0]) refs.push({ step: r[1], key: r[2], text: m[0], index: m.index! });
    else bad.push({ text: m[0], index: m.index! });
  }
  return { refs, bad };
}

/** Outputs of earlier steps by step id, as the runner knows them. */
export type OutputsByStep = Record<string, Outputs>;

/**
 * Replaces references in a string. A string that is exactly one reference takes the value itself (a list
 * stays a list); inside a longer string a list is joined with newlines. Throws when a reference cannot be
 * resolved (validated at apply time, so only a step that did not publish a declared output gets here).
 */
export function substituteString(s: string, outputs: OutputsByStep): OutputValue {
  const { refs } = findReferences(s);
  if (!refs.length) return s;
  const lookup = (r: Reference): OutputValue => {
    const v = outputs[r.step]?.[r.key];
    if (v === undefined) throw new Error(`${r.text}: step '${r.step}' did not publish output '${r.key}'`);
    return v;
  };
  if (refs.length === 1 && refs[0].text === s) return lookup(refs[0]);
  let out = '';
  let at = 0;
  for (const r of refs) {
    const v = lookup(r);
    out += s.slice(at, r.index) + (Array.isArray(v) ? v.join('\n') : String(v));
    at = r.index + r.text.length;
  }
  return out + s.slice(at);
}

/** Substitutes references in every string of a JSON-like value (config objects, env maps). */
export function substitute<T>(value: T, outputs: OutputsByStep): T {
  if (typeof value === 'string') return substituteString(value, outputs) as T;
  if (Array.isArray(value)) return value.map((v) => substitute(v, outputs)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, outputs)])) as T;
  return value;
}
