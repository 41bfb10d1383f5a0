/**
 * Strips terminal escape sequences (colours, cursor moves, OSC titles and hyperlinks) from log text, so the
 * search index holds what a reader sees and search results do not carry raw escapes.
 */

// CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences, and the 8-bit CSI.
const ANSI_RE = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]/g;

/** The text without ANSI escape sequences; other characters are kept as they are. */
export function stripAnsi(text: string): string {
  // Most chunks have no escapes at all: skip the regex then.
  return text.includes('\u001b') || text.includes('\u009b') ? text.replace(ANSI_RE, '') : text;
}
