/**
 * The job form edits the YAML text itself: each change is applied to the parsed YAML document at a path
 * (setIn / deleteIn / addIn of the `yaml` library) and the document printed again, so the YAML view stays the
 * one source of truth and keeps the comments and layout of everything the change did not touch. Validation is
 * the shared parser's (shared/job) on that same text; its issues name a field path, which the form shows at
 * the field with that path.
 */
import { isCollection, parseDocument, type Document } from 'yaml';
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

/** The text with `value` at `path` (removed when empty); unchanged when the YAML does not parse. */
export function setAt(text: string, path: Path, value: unknown): string {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return text;
  if (isEmpty(value)) {
    if (doc.hasIn(path)) doc.deleteIn(path);
  } else {
    blockIfEmpty(doc, path.slice(0, -1));
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

/** Issues exactly at `path` (the field shows them). */
export function issuesAt(issues: FieldIssue[] | null, path: Path): FieldIssue[] {
  if (!issues) return [];
  const f = formatPath(path);
  return issues.filter((i) => i.field === f);
}
