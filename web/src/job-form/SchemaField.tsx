/**
 * Form fields generated from a step kind's JSON Schema (GET /plugins/schema: the zod schema of each kind,
 * exported for editors), so a new or third-party kind gets a form without UI code: strings, numbers, booleans,
 * lists of strings, maps (NAME=value lines), nested objects, and unions (string shorthand or options, `true`
 * or options) with a choice of form. Anything else is left to the YAML view.
 */
import { Check, Choice, Group, idOf, Issues, KeyValues, List, NumberField, Text, useForm } from './fields';
import type { Path } from './doc';
import { initialValue, typeOf, variantLabel, variantOf, type JsonSchema } from './schema';

export type { JsonSchema };

/** Keys whose values are scripts or files: a multi-line box. */
const MULTILINE = new Set(['run', 'composeInline', 'knownHosts']);

/** The value of a whole step key: an object's fields, or a union with a choice of its form. */
export function SchemaField({ schema, path, value, label, required = true }: { schema: JsonSchema; path: Path; value: unknown; label: string; required?: boolean }) {
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
                // The short string form and the options carry the main value over (`sh: make` <-> `sh: { run: make }`).
                const toKey = next.required?.[0];
                const fromKey = variants[at].required?.[0];
                const fromObject = value && typeof value === 'object' && fromKey ? (value as Record<string, unknown>)[fromKey] : undefined;
                const carried =
                  typeof value === 'string' && value && typeof initialValue(next) === 'object' && toKey
                    ? { [toKey]: value }
                    : typeof fromObject === 'string' && typeOf(next) === 'string'
                      ? fromObject
                      : initialValue(next);
                f.set(path, carried, required);
              }}
            >
              {variants.map((v, i) => (
                <option value={String(i)}>{variantLabel(v)}</option>
              ))}
            </select>
          </div>
        )}
        <Issues path={path} />
        <SchemaField schema={variants[at]} path={path} value={value} label={label} required={required} />
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
  return <Property name={label} schema={schema} path={path} value={value} label={label} required={required} keepLabel />;
}

function Property(props: { name: string; schema: JsonSchema; path: Path; value: unknown; label: string; required: boolean; keepLabel?: boolean }) {
  const { description } = props.schema;
  // A schema's description (plugin manifests have them) is shown under its field's label.
  return description ? (
    <div class="described">
      <PropertyField {...props} />
      <p class="hint muted small">{description}</p>
    </div>
  ) : (
    <PropertyField {...props} />
  );
}

function PropertyField(props: { name: string; schema: JsonSchema; path: Path; value: unknown; label: string; required: boolean; keepLabel?: boolean }) {
  const { name, schema, path, value, label, required, keepLabel } = props;
  const t = typeOf(schema);
  // A union member's own field is named like the union ("Step 1.1 sh"), which says already whether it is optional.
  const shown = `${label}${required || keepLabel ? '' : ' (optional)'}`;
  if (schema.enum) return <Choice label={shown} path={path} value={value} options={schema.enum} defaultValue={schema.default} />;
  if (schema.anyOf) {
    return (
      <Group title={shown}>
        <SchemaField schema={schema} path={path} value={value} label={label} required={required} />
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
  return (
    <Text label={shown} path={path} value={value} required={required} multiline={MULTILINE.has(String(path[path.length - 1]))} placeholder={typeof schema.default === 'string' ? schema.default : undefined} />
  );
}
