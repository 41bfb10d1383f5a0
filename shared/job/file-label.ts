/**
 * The name a client gives a job's YAML text when it sends only the text (`slipway apply -f rival.yml`, the web
 * editor): the master prints it in every error issue of that request (`rival.yml:14:16: ...`) and never opens
 * it. One rule here, checked by the master's job routes and by the CLI before it sends a label.
 */

/** The label used when the client gives none. */
export const DEFAULT_JOB_FILE = 'job.yml';
export const MAX_JOB_FILE_LABEL = 255;

/**
 * Why `label` cannot name a job file in errors, or undefined when it can: 1-255 characters, no control or
 * invisible formatting character (it is printed in error lines, terminals and logs), no ':' (issues read as
 * file:line:col). Paths such as `jobs/rival.yml` are fine: the label is display text, not a path.
 */
export function jobFileLabelProblem(label: string): string | undefined {
  if (!label) return 'must not be empty';
  if (label.length > MAX_JOB_FILE_LABEL) return `at most ${MAX_JOB_FILE_LABEL} characters`;
  // Format characters too (bidi overrides, zero-width), and line separators: a label must print as what it is.
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(label)) return 'control and invisible formatting characters are not allowed';
  if (label.includes(':')) return "':' is not allowed (errors read as file:line:col)";
  return undefined;
}
