/**
 * Coalesces a step's output into log chunks of up to maxChunkBytes, cut after the last newline inside the
 * limit when there is one, so a chunk usually holds whole lines. No per-line work: bytes are only scanned
 * backwards from the cut point. Whatever is pending is emitted by flush() (the shipper calls it every ~50 ms
 * and at the end of a step).
 */
const NEWLINE = 0x0a;

export class LogChunker {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly maxChunkBytes: number,
    private readonly emit: (chunk: Buffer) => void,
  ) {
    if (!(maxChunkBytes > 0)) throw new Error(`maxChunkBytes must be positive, got ${maxChunkBytes}`);
  }

  get pendingBytes(): number {
    return this.size;
  }

  push(data: Buffer): void {
    if (!data.length) return;
    this.parts.push(data);
    this.size += data.length;
    if (this.size >= this.maxChunkBytes) this.cut();
  }

  /** Emit everything pending as one chunk (or several when above the limit). */
  flush(): void {
    if (this.size >= this.maxChunkBytes) this.cut();
    if (!this.size) return;
    const all = this.take();
    this.emit(all);
  }

  private take(): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return all;
  }

  private cut(): void {
    let all = this.take();
    while (all.length >= this.maxChunkBytes) {
      const nl = all.lastIndexOf(NEWLINE, this.maxChunkBytes - 1);
      const end = nl >= 0 ? nl + 1 : this.maxChunkBytes;
      this.emit(all.subarray(0, end));
      all = all.subarray(end);
    }
    if (all.length) {
      this.parts = [all];
      this.size = all.length;
    }
  }
}
