/**
 * ANSI escape sequences of one log line -> styled text segments. Pure data: the view renders each segment
 * as a text node inside a <span> (never as HTML), so a log line can never inject markup or script; the only
 * things taken from the log into styles are the SGR colour numbers, which are clamped to 0-255.
 *
 * Supported: SGR (ESC [ ... m) reset, bold, dim, italic, underline, inverse, the 8/16 standard colours
 * (30-37, 90-97, 40-47, 100-107), 256-colour (38;5;n) and truecolour (38;2;r;g;b). Every other escape
 * sequence (cursor moves, erase, OSC titles and links) is dropped. A carriage return keeps what follows it,
 * as a terminal would overwrite the line (progress bars). Style state starts fresh on every line, so a
 * line renders the same wherever the virtualised view starts.
 */

export interface AnsiStyle {
  /** A palette index 0-15 (class ansi-fg-N) or a CSS rgb() colour for 256/truecolour. */
  fg?: number | string;
  bg?: number | string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

// CSI (ESC [ parameter bytes, intermediate bytes, final byte: ECMA-48), OSC (ESC ] ... BEL or ESC \\),
// and any other escape with the one character after it.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[([0-?]*)([ -/]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

const byte = (s: string | undefined) => Math.max(0, Math.min(255, Number.parseInt(s ?? '0', 10) || 0));

/** xterm's 256-colour palette: 0-15 the classes, 16-231 a 6x6x6 cube, 232-255 greys. */
function palette256(n: number): number | string {
  if (n < 16) return n;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}

/** Applies one SGR parameter list to the style (mutates a copy the caller owns). */
function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  const p = params === '' ? ['0'] : params.split(/[;:]/);
  let s = { ...style };
  for (let i = 0; i < p.length; i++) {
    const n = Number.parseInt(p[i], 10) || 0;
    if (n === 0) s = {};
    else if (n === 1) s.bold = true;
    else if (n === 2) s.dim = true;
    else if (n === 3) s.italic = true;
    else if (n === 4) s.underline = true;
    else if (n === 7) s.inverse = true;
    else if (n === 22) s.bold = s.dim = false;
    else if (n === 23) s.italic = false;
    else if (n === 24) s.underline = false;
    else if (n === 27) s.inverse = false;
    else if (n >= 30 && n <= 37) s.fg = n - 30;
    else if (n >= 90 && n <= 97) s.fg = n - 90 + 8;
    else if (n === 39) delete s.fg;
    else if (n >= 40 && n <= 47) s.bg = n - 40;
    else if (n >= 100 && n <= 107) s.bg = n - 100 + 8;
    else if (n === 49) delete s.bg;
    else if (n === 38 || n === 48) {
      const key = n === 38 ? 'fg' : 'bg';
      if (p[i + 1] === '5') {
        s[key] = palette256(byte(p[i + 2]));
        i += 2;
      } else if (p[i + 1] === '2') {
        s[key] = `rgb(${byte(p[i + 2])},${byte(p[i + 3])},${byte(p[i + 4])})`;
        i += 4;
      }
    }
  }
  return s;
}

/** Removes every escape sequence and control character: the plain text a user searches in. */
export function stripAnsi(line: string): string {
  return lastCarriageReturn(line).replace(ESCAPES, '').replace(CONTROL, '');
}

function lastCarriageReturn(line: string): string {
  const body = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cr = body.lastIndexOf('\r');
  return cr === -1 ? body : body.slice(cr + 1);
}

/** Splits one line (without its newline) into styled segments; empty text segments are left out. */
export function parseAnsiLine(line: string): AnsiSegment[] {
  const text = lastCarriageReturn(line);
  const out: AnsiSegment[] = [];
  let style: AnsiStyle = {};
  let last = 0;
  const push = (t: string) => {
    const clean = t.replace(CONTROL, '');
    if (clean) out.push({ text: clean, style });
  };
  ESCAPES.lastIndex = 0;
  for (let m = ESCAPES.exec(text); m; m = ESCAPES.exec(text)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[3] === 'm' && !m[2]) style = applySgr(style, m[1]);
  }
  push(text.slice(last));
  return out;
}

/** CSS classes and inline colours of a segment (inline only for 256/truecolour, built from clamped numbers). */
export function segmentClass(style: AnsiStyle): { className: string; color?: string; background?: string } {
  let { fg, bg } = style;
  if (style.inverse) [fg, bg] = [bg ?? 'inv-fg', fg ?? 'inv-bg'];
  const cls: string[] = [];
  let color: string | undefined;
  let background: string | undefined;
  if (typeof fg === 'number') cls.push(`ansi-fg-${fg}`);
  else if (fg === 'inv-fg') cls.push('ansi-fg-inv');
  else if (fg) color = fg;
  if (typeof bg === 'number') cls.push(`ansi-bg-${bg}`);
  else if (bg === 'inv-bg') cls.push('ansi-bg-inv');
  else if (bg) background = bg;
  if (style.bold) cls.push('ansi-bold');
  if (style.dim) cls.push('ansi-dim');
  if (style.italic) cls.push('ansi-italic');
  if (style.underline) cls.push('ansi-underline');
  return { className: cls.join(' '), color, background };
}
