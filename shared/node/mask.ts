/**
 * Streaming secret masker over bytes. Secret values are replaced by `***` before a log chunk leaves the
 * agent, including a secret split across two writes of the step's output: the masker holds back the
 * last (longest secret - 1) bytes until more output or the end of the stream shows they are not a secret.
 * Each line of a multi-line secret is masked on its own too. Values shorter than 3 bytes are not masked
 * (masking "1" would blank every digit of the log).
 *
 * Node-only (it works on Buffer, whose native indexOf keeps masking off the log path's profile): it lives in
 * shared/node/, which the web UI never imports. shared/mask.ts re-exports it for the agent's existing imports.
 */
const MASK = Buffer.from('***');

export class SecretMasker {
  private readonly needles: Buffer[];
  private readonly holdBack: number;
  private pending: Buffer = Buffer.alloc(0);

  constructor(values: Iterable<string>) {
    const set = new Set<string>();
    for (const v of values) {
      for (const part of [v, ...v.split(/\r?\n/)]) if (Buffer.byteLength(part) >= 3) set.add(part);
    }
    // Longest first, so a secret that contains another is masked whole.
    this.needles = [...set].map((s) => Buffer.from(s)).sort((a, b) => b.length - a.length);
    this.holdBack = this.needles.length ? this.needles[0].length - 1 : 0;
  }

  get active(): boolean {
    return this.needles.length > 0;
  }

  /** Feed output; returns the bytes that are safe to send now (possibly empty). */
  push(chunk: Buffer): Buffer {
    if (!this.needles.length) return chunk;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const { out, keepFrom } = this.mask(buf, false);
    this.pending = Buffer.from(buf.subarray(keepFrom));
    return out;
  }

  /** End of stream: returns whatever was held back, masked. */
  flush(): Buffer {
    if (!this.pending.length) return Buffer.alloc(0);
    const { out } = this.mask(this.pending, true);
    this.pending = Buffer.alloc(0);
    return out;
  }

  private mask(buf: Buffer, final: boolean): { out: Buffer; keepFrom: number } {
    const parts: Buffer[] = [];
    let pos = 0;
    // Bytes at or after `safeEnd` might be the start of a secret that continues in the next chunk.
    const safeEnd = final ? buf.length : Math.max(0, buf.length - this.holdBack);
    while (pos < buf.length) {
      let best = -1;
      let bestLen = 0;
      for (const n of this.needles) {
        const i = buf.indexOf(n, pos);
        if (i !== -1 && (best === -1 || i < best || (i === best && n.length > bestLen))) {
          best = i;
          bestLen = n.length;
        }
      }
      if (best === -1) break;
      parts.push(buf.subarray(pos, best), MASK);
      pos = best + bestLen;
    }
    const keepFrom = Math.max(pos, safeEnd);
    parts.push(buf.subarray(pos, keepFrom));
    return { out: parts.length === 1 ? parts[0] : Buffer.concat(parts), keepFrom };
  }
}
