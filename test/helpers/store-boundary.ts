/**
 * The store boundary check of test/unit/store-boundary.test.ts: which lines of a master source file touch the
 * database directly (prepare, pragma, exec / transaction on a database, better-sqlite3, SQL in a string).
 */
const RULES: { what: string; re: RegExp }[] = [
  { what: 'prepares a statement', re: /\.prepare\s*[(<]/ },
  { what: 'sets a pragma', re: /\.pragma\s*\(/ },
  // exec and transaction are ordinary names elsewhere (RegExp.exec, the engine's EnginePort.transaction):
  // flagged on a database receiver (db, this.db, ctx.db, core.db, ...).
  { what: 'runs SQL or a transaction on a database', re: /\b\w*[dD]b\s*\.\s*(exec|transaction)\s*[(<]/ },
  { what: 'imports better-sqlite3', re: /from\s+['"]better-sqlite3['"]|require\(\s*['"]better-sqlite3['"]\s*\)/ },
  { what: 'holds an SQL statement', re: /\b(SELECT\s[\s\S]{0,200}?\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|DELETE\s+FROM\s|UPDATE\s+\w+\s+SET\s|CREATE\s+(TEMP\s+)?(TABLE|TRIGGER|INDEX)\s)/ },
];

/** Problems of one file's text as `path:line: what: excerpt`. */
export function violations(path: string, text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    for (const rule of RULES) {
      // SQL statements may span lines: the SQL rule looks at this line and the next two.
      const window = rule.what === 'holds an SQL statement' ? lines.slice(i, i + 3).join('\n') : line;
      const m = rule.re.exec(window);
      if (m && (rule.what !== 'holds an SQL statement' || m.index <= line.length)) out.push(`${path}:${i + 1}: ${rule.what}: ${line.trim().slice(0, 120)}`);
    }
  });
  return out;
}

