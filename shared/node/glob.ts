/**
 * Glob matching for both wings, with picomatch (one maintained implementation instead of a regex builder
 * per wing): branch, tag and path filters of triggers on the master, artifact patterns on the agent.
 *   `*` matches within one path segment, `**` across segments (`**\/` also matches no directory), `?` one
 *   character; braces `{a,b}`, character classes `[ab]` and extglobs work as in picomatch. Dotfiles match
 *   like any other name (`dot: true`): a build's `.env` or a branch `.hidden` is not special here.
 * `release/*` matches release/1.2 but not release/1/2; `src/**` matches src/a/b.ts; `**\/*.md` matches README.md.
 */
import picomatch from 'picomatch';

const OPTIONS: picomatch.PicomatchOptions = { dot: true };
const cache = new Map<string, (value: string) => boolean>();

/** A compiled matcher for one glob (cached: trigger filters are matched on every delivery). */
export function globMatcher(glob: string): (value: string) => boolean {
  let m = cache.get(glob);
  if (!m) {
    m = picomatch(glob, OPTIONS);
    if (cache.size > 1000) cache.clear();
    cache.set(glob, m);
  }
  return m;
}

/** The RegExp a glob stands for, matched against whole values. */
export function globToRegExp(glob: string): RegExp {
  return picomatch.makeRe(glob, OPTIONS);
}

/** True when value matches at least one of the globs. */
export function matchesAny(value: string, globs: string[]): boolean {
  return globs.some((g) => globMatcher(g)(value));
}

/** True when the pattern has glob syntax (else it names one path). */
export function isGlob(pattern: string): boolean {
  return picomatch.scan(pattern).isGlob;
}
