/**
 * Form fields generated from a step kind's JSON Schema (GET /plugins/schema: the zod schema of each kind,
 * exported for editors), so a new or third-party kind gets a form without UI code: strings, numbers, booleans,
 * lists of strings, maps (NAME=value lines), nested objects, and unions (string shorthand or options, `true`
 * or options) with a choice of form. Anything else is left to the YAML view.
 */
import { Check, Group, idOf, Issues, KeyValues, List, NumberField, Text, useForm } from './fields';
import type { Path } from './doc';

export interface JsonSchema {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

/** Keys whose values are scripts or files: a multi-line box. */
const MULTILINE = new Set(['run', 'composeInline', 'knownHosts']);

const typeOf = (s: JsonSchema) => (Array.isArray(s.type) ? s.type[0] : s.type);

function variantLabel(s: JsonSchema): string {
  if (s.const === true) return 'on (defaults)';
  const t = typeOf(s);
  if (t === 'string') return 'short form';
  if (t === 'null') return 'defaults';
  if (t === 'object') return 'options';
  return t ?? 'value';
}

/** The union member `value` is written in (by its JSON type), or the first. */
function variantOf(variants: JsonSchema[], value: unknown): number {
  const jsType = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const i = variants.findIndex((v) => {
    const t = typeOf(v);
    if (v.const !== undefined) return v.const === value;
    return t === jsType || (t === 'integer' && jsType === 'number');
  });
  return i < 0 ? 0 : i;
}

/** A starting value for a schema (what a new step of a kind, or a switched union, gets). */
export function initialValue(s: JsonSchema): unknown {
  if (s.anyOf) return initialValue(s.anyOf[0]);
  if (s.const !== undefined) return s.const;
  const t = typeOf(s);
  if (t === 'string') return '';
  if (t === 'null') return null;
  if (t === 'boolean') return true;
  if (t === 'object') return {};
  if (t === 'array') return [];
  return '';
}

/** The value of a whole step key: an object's fields, or a union with a choice of its form. */
export function SchemaField({ schema, path, value, label }: { schema: JsonSchema; path: Path; value: unknown; label: string }) {
  const f = useForm();
  if (schema.anyOf) {
    const variants = schema.anyOf;
    const at = variantOf(variants, value);
    return (
      <div class="union">
        {variants.length > 1 && (
          <div class="field inline-field">
            <label for={idOf([...path, '(form)'])}>{label} form</label>
            <select
              id={idOf([...path, '(form)'])}
              value={String(at)}
              disabled={f.readOnly}
              onChange={(e) => {
                const next = variants[Number((e.target as HTMLSelectElement).value)];
                // Switching from the short string form to options keeps the string as the first required field.
                const req = next.required?.[0];
                const carried = typeof value === 'string' && value && typeof initialValue(next) === 'object' && req ? { [req]: value } : initialValue(next);
                f.set(path, carried === '' ? '' : carried);
              }}
            >
              {variants.map((v, i) => (
                <option value={String(i)}>{variantLabel(v)}</option>
              ))}
            </select>
          </div>
        )}
        <Issues path={path} />
        <SchemaField schema={variants[at]} path={path} value={value} label={label} />
      </div>
    );
  }
  const t = typeOf(schema);
  if (schema.const !== undefined || t === 'null') return null;
  if (t === 'object' && schema.properties) {
    const obj = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    return (
      <div class="schema-object">
        <Issues path={path} />
        {Object.entries(schema.properties).map(([key, sub]) => (
          <Property key={key} name={key} schema={sub} path={[...path, key]} value={obj[key]} label={`${label} ${key}`} required={schema.required?.includes(key) ?? false} />
        ))}
      </div>
    );
  }
  return <Property name={label} schema={schema} path={path} value={value} label={label} required />;
}

function Property({ name, schema, path, value, label, required }: { name: string; schema: JsonSchema; path: Path; value: unknown; label: string; required: boolean }) {
  const t = typeOf(schema);
  const shown = `${label}${required ? '' : ' (optional)'}`;
  if (schema.anyOf) {
    return (
      <Group title={shown}>
        <SchemaField schema={schema} path={path} value={value} label={label} />
      </Group>
    );
  }
  if (t === 'object' && schema.properties) {
    return (
      <details class="schema-nested" open={value !== undefined}>
        <summary>{shown}</summary>
        <SchemaField schema={schema} path={path} value={value} label={label} />
      </details>
    );
  }
  if (t === 'object') return <KeyValues label={shown} path={path} value={value} />;
  if (t === 'array') return <List label={shown} path={path} value={value} placeholder={Array.isArray(schema.default) ? schema.default.join(', ') : 'comma-separated'} />;
  if (t === 'boolean') return <Check label={name === label ? label : label} path={path} value={value} defaultValue={schema.default === true} />;
  if (t === 'integer' || t === 'number') return <NumberField label={shown} path={path} value={value} min={schema.minimum} max={schema.maximum === Number.MAX_SAFE_INTEGER ? undefined : schema.maximum} />;
  return <Text label={shown} path={path} value={value} multiline={MULTILINE.has(String(path[path.length - 1]))} placeholder={typeof schema.default === 'string' ? schema.default : undefined} />;
}
