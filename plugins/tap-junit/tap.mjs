/**
 * TAP (version 13/14, as `node --test --test-reporter=tap` writes it) to JUnit XML. Test points are
 * `ok N - name` / `not ok N - name [# SKIP|TODO reason]`; subtests are indented by four spaces and come before
 * their parent's point, so a point with subtests is a suite (its name becomes its tests' classname) and only
 * leaf points are test cases. The YAML block after a point gives duration_ms and the failure's error.
 */
const POINT = /^(\s*)(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$/i;

const esc = (s) => String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** The YAML diagnostics block starting at lines[i] (`---` ... `...`): { end (its last line), duration, error, suite }. */
function diagnostics(lines, i) {
  // Without a block, `end` is the point's own line: the caller resumes right after it.
  const out = { end: i - 1, durationMs: 0, error: undefined, suite: false };
  if (!/^\s*---\s*$/.test(lines[i] ?? '')) return out;
  const indent = lines[i].match(/^\s*/)[0].length;
  let j = i + 1;
  for (; j < lines.length && !/^\s*\.\.\.\s*$/.test(lines[j]); j++) {
    const m = /^\s*([A-Za-z_]+):\s*(.*)$/.exec(lines[j]);
    if (!m || lines[j].match(/^\s*/)[0].length !== indent) continue;
    const [, key, raw] = m;
    if (key === 'duration_ms') out.durationMs = Number(raw) || 0;
    if (key === 'type' && /suite/.test(raw)) out.suite = true;
    if (key === 'error') {
      if (/^\|/.test(raw)) {
        const body = [];
        for (let k = j + 1; k < lines.length && (lines[k].trim() === '' || lines[k].match(/^\s*/)[0].length > indent); k++) body.push(lines[k].trim());
        out.error = body.join('\n').trim();
      } else out.error = raw.replace(/^'(.*)'$/, '$1').replace(/''/g, "'").replace(/^"(.*)"$/, '$1');
    }
  }
  return { ...out, end: j };
}

export function tapToJunit(text, suiteName = 'tap') {
  const lines = text.split(/\r?\n/);
  const cases = [];
  /** Leaf points seen at each indent, waiting for a parent point at a smaller indent. */
  const pending = new Map();
  for (let i = 0; i < lines.length; i++) {
    const m = POINT.exec(lines[i]);
    if (!m || /^\s*#/.test(lines[i])) continue;
    const indent = m[1].length;
    const d = diagnostics(lines, i + 1);
    i = Math.max(i, d.end);
    const point = { name: m[4].trim() || `test ${m[3] ?? ''}`.trim(), ok: m[2].toLowerCase() === 'ok', directive: m[5]?.toUpperCase(), reason: m[6], durationMs: d.durationMs, error: d.error, classname: '' };
    const children = [...pending.entries()].filter(([k]) => k > indent).flatMap(([k, v]) => (pending.delete(k), v));
    if (children.length || d.suite) {
      for (const c of children) c.classname = c.classname ? `${point.name} > ${c.classname}` : point.name;
      pending.set(indent, [...(pending.get(indent) ?? []), ...children]);
      continue;
    }
    cases.push(point);
    pending.set(indent, [...(pending.get(indent) ?? []), point]);
  }
  const failures = cases.filter((c) => !c.ok && !c.directive).length;
  const skipped = cases.filter((c) => c.directive).length;
  const seconds = (ms) => (ms / 1000).toFixed(3);
  const total = cases.reduce((n, c) => n + c.durationMs, 0);
  const body = cases.map((c) => {
    const attrs = `classname="${esc(c.classname || suiteName)}" name="${esc(c.name)}" time="${seconds(c.durationMs)}"`;
    if (c.directive) return `    <testcase ${attrs}><skipped message="${esc(`${c.directive}${c.reason ? ` ${c.reason}` : ''}`)}"/></testcase>`;
    if (!c.ok) return `    <testcase ${attrs}><failure message="${esc((c.error ?? 'failed').split('\n')[0])}">${esc(c.error ?? '')}</failure></testcase>`;
    return `    <testcase ${attrs}/>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${seconds(total)}">`,
    `  <testsuite name="${esc(suiteName)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(total)}">`,
    ...body,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
