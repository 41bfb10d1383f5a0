/**
 * Compose template + environment values -> the compose file applied to one environment.
 *
 * Interpolation follows the Compose specification on string values (never on keys, and after YAML parsing,
 * so a value can never change the file's structure): `${NAME}`, `$NAME`, `${NAME:-default}` (unset or
 * empty), `${NAME-default}` (unset), `${NAME:?message}` / `${NAME?message}` (required), and `$$` for a
 * literal `$`. An unset variable without a default is an error naming its line (Compose would silently use
 * an empty string).
 *
 * Secrets are interpolated into the applied configuration only: the rendered text kept with the build shows
 * them as `${NAME}` references, never their values.
 *
 * Errors (ValidationError, code invalid_job) name the file, line, column and field, and list unsupported keys.
 */
import { isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ValidationError, type FieldIssue } from '../errors';
import { Locator } from '../job/parse';
import { composeSchema, DEFAULT_DEPLOY_POLICY, policyProblems, REFUSED_WITH_REASON, type ComposeConfig, type DeployPolicy } from './schema';

export interface RenderOptions {
  /** File name used in error messages (the path in the repository). */
  file: string;
  /** Variables: IMAGE, APP, ENVIRONMENT, BUILD_NUMBER and the environment's values. */
  vars: Record<string, string>;
  /** Secret values by name: applied, never written into `text`. */
  secrets?: Record<string, string>;
  environment: string;
  policy?: DeployPolicy;
}

export interface RenderedCompose {
  config: ComposeConfig;
  /** The rendered file as kept with the build: variables filled in, secrets as `${NAME}`. */
  text: string;
}

const VAR = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}\\]|\\.)*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Interpolates one string; `lookup` returns undefined for an unset name. Throws Error with the message. */
export function interpolate(value: string, lookup: (name: string) => string | undefined): string {
  return value.replace(VAR, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const v = lookup(name);
    if (op === ':-') return v === undefined || v === '' ? arg! : v;
    if (op === '-') return v === undefined ? arg! : v;
    if (op === ':?' && (v === undefined || v === '')) throw new Error(arg || `${name} is required`);
    if (op === '?' && v === undefined) throw new Error(arg || `${name} is required`);
    if (v === undefined) throw new Error(`variable ${name} is not set (give it a value for this environment, or a default: \${${name}:-value})`);
    return v;
  });
}

export function renderCompose(template: string, o: RenderOptions): RenderedCompose {
  const lines = new LineCounter();
  const doc = parseDocument(template, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ValidationError(
      'invalid_job',
      doc.errors.map((e) => ({ file: o.file, line: e.linePos?.[0]?.line, column: e.linePos?.[0]?.col, field: '(yaml)', message: e.message.split('\n')[0] })),
    );
  }
  const loc = new Locator(doc, lines, o.file);
  const secrets = o.secrets ?? {};
  const issues: FieldIssue[] = [];
  const recorded = doc.clone();
  fill(doc, (n) => o.vars[n] ?? secrets[n], issues, loc);
  // The kept copy: secrets stay references. Its errors are the same as above, so they are not collected twice.
  fill(recorded, (n) => o.vars[n] ?? (n in secrets ? `\${${n}}` : undefined), [], loc);
  if (issues.length) throw new ValidationError('invalid_job', issues);

  const raw = doc.toJS();
  const parsed = composeSchema.safeParse(raw);
  if (!parsed.success) {
    const unsupported: string[] = [];
    const out = parsed.error.issues.flatMap((i) => {
      if (i.code !== 'unrecognized_keys') return [loc.issue(i.path as (string | number)[], i.message)];
      return i.keys.map((k) => {
        const path = [...(i.path as (string | number)[]), k];
        const reason = i.path.length === 2 ? REFUSED_WITH_REASON[k] : undefined;
        if (!reason) unsupported.push(path.join('.'));
        return loc.issue(path, reason ?? `unsupported compose key '${k}'`);
      });
    });
    if (unsupported.length) out.unshift({ file: o.file, field: '(compose)', message: `unsupported compose keys: ${unsupported.join(', ')}` });
    throw new ValidationError('invalid_job', out);
  }
  const policy = o.policy ?? DEFAULT_DEPLOY_POLICY;
  const refused = Object.entries(parsed.data.services).flatMap(([name, s]) => policyProblems(name, s, policy, o.environment));
  if (refused.length) throw new ValidationError('invalid_job', refused.map(([path, message]) => loc.issue(path, message)));
  return { config: parsed.data, text: recorded.toString() };
}

function fill(doc: Document, lookup: (name: string) => string | undefined, issues: FieldIssue[], loc: Locator): void {
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      try {
        node.value = interpolate(node.value, lookup);
      } catch (e) {
        issues.push(loc.issue(pathOf(path, node), (e as Error).message));
      }
    },
  });
}

/** The key path of a scalar from visit()'s ancestry (maps contribute their key, sequences the index). */
function pathOf(ancestry: readonly unknown[], node: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  const chain = [...ancestry, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i] as { items?: unknown[]; key?: unknown; value?: unknown };
    const child = chain[i + 1];
    if (Array.isArray(parent.items)) {
      const idx = parent.items.indexOf(child);
      if (idx >= 0 && !(child as { key?: unknown }).key) out.push(idx);
    } else if (parent.value === child && isScalar(parent.key)) {
      out.push(String(parent.key.value));
    }
  }
  return out;
}
