/**
 * The job form edits the YAML text itself: each change is applied to the parsed YAML document at a path
 * (setIn / deleteIn / addIn of the `yaml` library) and the document printed again, so the YAML view stays the
 * one source of truth and keeps the comments and layout of everything the change did not touch. Validation is
 * the shared parser's (shared/job) on that same text; its issues name a field path, which the form shows at
 * the field with that path.
 */
import { isCollection, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import type { FieldIssue } from '../../../shared/errors';
import { formatPath } from '../../../shared/job';

export type Path = (string | number)[];

/** The text as plain data (what the form shows), or null while the YAML itself does not parse. */
export function rawOf(text: string): Record<string, unknown> | null {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return null;
  const v = doc.toJS() as unknown;
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Is this a value the form writes as "absent" (an empty field, an empty list)? */
export const isEmpty = (v: unknown) => v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/**
 * An empty `{}` or `[]` the form is about to fill becomes block style: an empty collection prints as flow, and
 * would otherwise stay a one-line flow map once it has keys.
 */
function blockIfEmpty(doc: Document, path: Path): void {
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  if (isCollection(node) && node.flow && node.items.length === 0) node.flow = false;
}

/**
 * The text with `value` at `path`; an empty value removes the key unless `keep` (a required key, such as a name
 * being retyped or a step's kind, stays where it is). Unchanged when the YAML does not parse.
 */
export function setAt(text: string, path: Path, value: unknown, keep = false): string {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return text;
  if (isEmpty(value) && !(keep && value !== undefined)) {
    if (doc.hasIn(path)) doc.deleteIn(path);
  } else {
    blockIfEmpty(doc, path.slice(0, -1));
    // The scalar is updated in place and keeps its style: an emptied value's quotes ("") go once it has text.
    const node = doc.getIn(path, true);
    if (isScalar(node) && node.value === '') node.type = undefined;
    doc.setIn(path, value);
  }
  return doc.toString();
}

/** The text with `value` appended to the list at `path` (created when missing). */
export function addAt(text: string, path: Path, value: unknown): string {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return text;
  blockIfEmpty(doc, path);
  if (doc.hasIn(path)) doc.addIn(path, value);
  else doc.setIn(path, [value]);
  return doc.toString();
}

/** The text without the item at `path`. */
export function removeAt(text: string, path: Path): string {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return text;
  doc.deleteIn(path);
  return doc.toString();
}

/** The text with the list item at `path` swapped with the one before it (comments travel with their items). */
export function moveUpAt(text: string, path: Path): string {
  const doc = parseDocument(text, { uniqueKeys: true });
  const i = Number(path[path.length - 1]);
  const seq = doc.getIn(path.slice(0, -1), true);
  if (doc.errors.length || !isSeq(seq) || !(i > 0 && i < seq.items.length)) return text;
  [seq.items[i - 1], seq.items[i]] = [seq.items[i], seq.items[i - 1]];
  return doc.toString();
}

/** Issues exactly at `path` (the field shows them). */
export function issuesAt(issues: FieldIssue[] | null, path: Path): FieldIssue[] {
  if (!issues) return [];
  const f = formatPath(path);
  return issues.filter((i) => i.field === f);
}
