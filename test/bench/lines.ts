/** The log lines every log benchmark sends: about 80 bytes each, numbered so loss or duplication shows. */
export const LINE_BYTES = 80;

export function line(i: number): string {
  const head = `line ${String(i).padStart(8, '0')} `;
  return head + 'x'.repeat(LINE_BYTES - head.length - 1) + '\n';
}

/** A block of `count` lines starting at `from`, as one Buffer. */
export function block(from: number, count: number): Buffer {
  let s = '';
  for (let i = from; i < from + count; i++) s += line(i);
  return Buffer.from(s);
}

/** Shell command that prints the same lines fast (awk), for a real step. */
export function printLinesCommand(count: number): string {
  const pad = LINE_BYTES - 'line 00000000 '.length - 1;
  return `awk 'BEGIN { x = sprintf("%${pad}s", ""); gsub(/ /, "x", x); for (i = 0; i < ${count}; i++) printf "line %08d %s\\n", i, x }'`;
}
