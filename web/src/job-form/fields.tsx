/**
 * The form's inputs. Each knows the path of its value in the job, writes changes through the FormApi (`set(path, value)`)
 * and shows the shared schema's issues for that path under itself (aria-invalid + aria-describedby).
 */
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import type { FieldIssue } from '../../../shared/errors';
import { formatPath } from '../../../shared/job';
import { issuesAt, type Path } from './doc';

export interface FormApi {
  issues: FieldIssue[] | null;
  readOnly: boolean;
  /** Writes `value` at `path`; an empty value removes the key unless `keep`. */
  set(path: Path, value: unknown, keep?: boolean): void;
  add(path: Path, value: unknown): void;
  remove(path: Path): void;
  /** Moves the list item at `path` one place up. */
  moveUp(path: Path): void;
}

export const Form = createContext<FormApi>(null as unknown as FormApi);
export const useForm = () => useContext(Form);

/** The element id of the input at a path (labels point at it with `for`). */
export const idOf = (path: Path) => `f-${formatPath(path).replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function Issues({ path, id }: { path: Path; id?: string }) {
  const here = issuesAt(useForm().issues, path);
  if (!here.length) return null;
  return (
    <span class="field-issue error small" id={id}>
      {here.map((i) => i.message).join('; ')}
    </span>
  );
}

function useInvalid(path: Path) {
  const f = useForm();
  const bad = issuesAt(f.issues, path).length > 0;
  const id = `${idOf(path)}-issue`;
  // The issue is outside the <label>: it describes the input, it is not part of its name.
  return { f, bad, id, inputId: idOf(path), aria: bad ? { 'aria-invalid': true as const, 'aria-describedby': id } : {} };
}

/** A labelled input with the issues of its path under it. */
function Field({ label, inputId, bad, path, id, children }: { label: string; inputId: string; bad: boolean; path: Path; id: string; children: ComponentChildren }) {
  return (
    <div class={bad ? 'field bad' : 'field'}>
      <label for={inputId}>{label}</label>
      {children}
      <Issues path={path} id={id} />
    </div>
  );
}

/** A text (or multi-line) field; an emptied optional field removes the key, a required one keeps it empty. */
export function Text(props: { label: string; path: Path; value: unknown; multiline?: boolean; placeholder?: string; list?: string; required?: boolean }) {
  const { label, path, value, multiline, placeholder, list, required } = props;
  const { f, bad, id, inputId, aria } = useInvalid(path);
  const v = value === undefined || value === null ? '' : String(value);
  const onInput = (e: Event) => f.set(path, (e.target as HTMLInputElement).value, required);
  return (
    <Field label={label} inputId={inputId} bad={bad} path={path} id={id}>
      {multiline ? (
        <textarea id={inputId} rows={Math.min(8, Math.max(2, v.split('\n').length))} class="mono" value={v} onInput={onInput} readOnly={f.readOnly} placeholder={placeholder} spellcheck={false} {...aria} />
      ) : (
        <input id={inputId} value={v} onInput={onInput} readOnly={f.readOnly} placeholder={placeholder} list={list} spellcheck={false} {...aria} />
      )}
    </Field>
  );
}

/** A whole number; emptied: removed. */
export function NumberField({ label, path, value, min, max }: { label: string; path: Path; value: unknown; min?: number; max?: number }) {
  const { f, bad, id, inputId, aria } = useInvalid(path);
  return (
    <Field label={label} inputId={inputId} bad={bad} path={path} id={id}>
      <input
        id={inputId}
        type="number"
        class="narrow"
        min={min}
        max={max}
        value={typeof value === 'number' ? String(value) : ''}
        readOnly={f.readOnly}
        onInput={(e) => {
          const t = (e.target as HTMLInputElement).value;
          f.set(path, t === '' ? undefined : Number(t));
        }}
        {...aria}
      />
    </Field>
  );
}

/** One of a fixed list of values (a JSON Schema enum); the first option leaves the key out (its default). */
export function Choice({ label, path, value, options, defaultValue }: { label: string; path: Path; value: unknown; options: unknown[]; defaultValue?: unknown }) {
  const { f, bad, id, inputId, aria } = useInvalid(path);
  const current = value === undefined ? '' : JSON.stringify(value);
  return (
    <Field label={label} inputId={inputId} bad={bad} path={path} id={id}>
      <select id={inputId} value={current} disabled={f.readOnly} onChange={(e) => {
        const v = (e.target as HTMLSelectElement).value;
        f.set(path, v === '' ? undefined : (JSON.parse(v) as unknown));
      }} {...aria}>
        <option value="">{defaultValue === undefined ? '(not set)' : `(default: ${String(defaultValue)})`}</option>
        {current && !options.some((o) => JSON.stringify(o) === current) && <option value={current}>{String(value)} (not allowed)</option>}
        {options.map((o) => (
          <option value={JSON.stringify(o)}>{String(o)}</option>
        ))}
      </select>
    </Field>
  );
}

/** A yes/no key: checked writes true; unchecked removes the key, or writes false when the default is true. */
export function Check({ label, path, value, defaultValue = false }: { label: string; path: Path; value: unknown; defaultValue?: boolean }) {
  const { f, id } = useInvalid(path);
  const on = value === undefined ? defaultValue : value === true;
  return (
    <div class="field">
      <label class="check">
        <input
          type="checkbox"
          checked={on}
          disabled={f.readOnly}
          onChange={(e) => {
            const c = (e.target as HTMLInputElement).checked;
            f.set(path, c === defaultValue ? undefined : c);
          }}
        />{' '}
        {label}
      </label>
      <Issues path={path} id={id} />
    </div>
  );
}

/** A list of short strings, written comma- (or space-) separated. */
export function List({ label, path, value, placeholder, list }: { label: string; path: Path; value: unknown; placeholder?: string; list?: string }) {
  const { f, bad, id, inputId, aria } = useInvalid(path);
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
  return (
    <Field label={label} inputId={inputId} bad={bad} path={path} id={id}>
      <input
        id={inputId}
        value={items.join(', ')}
        placeholder={placeholder}
        readOnly={f.readOnly}
        list={list}
        spellcheck={false}
        onChange={(e) =>
          f.set(
            path,
            (e.target as HTMLInputElement).value
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          )
        }
        {...aria}
      />
    </Field>
  );
}

/** A map of names to values (environment variables, template values), one NAME=value per line. */
export function KeyValues({ label, path, value }: { label: string; path: Path; value: unknown }) {
  const { f, bad, id, inputId, aria } = useInvalid(path);
  const map = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const text = Object.entries(map)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n');
  return (
    <Field label={label} inputId={inputId} bad={bad} path={path} id={id}>
      <textarea
        id={inputId}
        rows={Math.max(2, Object.keys(map).length + 1)}
        class="mono"
        placeholder="NAME=value, one per line"
        value={text}
        readOnly={f.readOnly}
        spellcheck={false}
        onChange={(e) => {
          const out: Record<string, string> = {};
          for (const line of (e.target as HTMLTextAreaElement).value.split('\n')) {
            const at = line.indexOf('=');
            if (!line.trim()) continue;
            out[(at < 0 ? line : line.slice(0, at)).trim()] = at < 0 ? '' : line.slice(at + 1);
          }
          f.set(path, Object.keys(out).length ? out : undefined);
        }}
        {...aria}
      />
    </Field>
  );
}

export function Group({ title, children, actions }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <fieldset class="group">
      <legend>
        {title} {actions}
      </legend>
      {children}
    </fieldset>
  );
}
