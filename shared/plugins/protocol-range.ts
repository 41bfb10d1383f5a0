/**
 * A plugin's `protocol` range: the agent protocol versions (shared/protocol PROTOCOL_VERSION, an integer) the
 * plugin works with, written like an npm range restricted to integers: comparators `>=N`, `>N`, `<=N`, `<N`,
 * `=N` or `N`, all of which must hold, and alternatives separated by `||`. Examples: `>=10 <12`, `11`,
 * `10 || >=12`. Pure: the master (install), the agent (load) and the tests use it.
 */
type Comparator = { op: '>=' | '>' | '<=' | '<' | '='; n: number };

const COMPARATOR = /^(>=|<=|>|<|=)?(\d{1,6})$/;

/** The range's alternatives, or a message naming the token that is not a comparator. */
export function parseProtocolRange(range: string): Comparator[][] | string {
  const sets = range.split('||').map((s) => s.trim());
  if (!range.trim() || sets.some((s) => !s)) return `'${range}' is not a protocol range (e.g. ">=10 <12")`;
  const out: Comparator[][] = [];
  for (const set of sets) {
    const comps: Comparator[] = [];
    for (const token of set.split(/\s+/)) {
      const m = COMPARATOR.exec(token);
      if (!m) return `'${token}' in '${range}' is not a comparator (>=N, >N, <=N, <N, =N or N with N an integer protocol version)`;
      comps.push({ op: (m[1] ?? '=') as Comparator['op'], n: Number(m[2]) });
    }
    out.push(comps);
  }
  return out;
}

/** Whether protocol version `v` is inside `range`; an unparsable range accepts nothing. */
export function protocolInRange(range: string, v: number): boolean {
  const sets = parseProtocolRange(range);
  if (typeof sets === 'string') return false;
  return sets.some((set) =>
    set.every(({ op, n }) => (op === '>=' ? v >= n : op === '>' ? v > n : op === '<=' ? v <= n : op === '<' ? v < n : v === n)),
  );
}
