/** The JSON Schema subset the job form renders (what z.toJSONSchema makes of the step kinds), and its helpers. */

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
  enum?: unknown[];
  description?: string;
}

export const typeOf = (s: JsonSchema) => (Array.isArray(s.type) ? s.type[0] : s.type);

export function variantLabel(s: JsonSchema): string {
  if (s.const === true) return 'on (defaults)';
  const t = typeOf(s);
  if (t === 'string') return 'short form';
  if (t === 'null') return 'defaults';
  if (t === 'object') return 'options';
  return t ?? 'value';
}

/** The union member `value` is written in (by its JSON type), or the first. */
export function variantOf(variants: JsonSchema[], value: unknown): number {
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

