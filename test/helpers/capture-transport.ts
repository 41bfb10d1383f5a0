/** A RecordTransport for agent tests that keeps everything a RecordLog sends, in order. */
import type { RecordTransport } from '../../agent/record-log';
import { decodeLogChunk } from '../../shared/protocol';

export class CaptureTransport implements RecordTransport {
  ready = true;
  /** Binary and text frames in the order they were sent. */
  sent: (Buffer | string)[] = [];
  /** Binary frames (log chunks) only. */
  frames: Buffer[] = [];
  sendBinary(frame: Buffer): void {
    this.sent.push(frame);
    this.frames.push(frame);
  }
  sendText(json: string): void {
    this.sent.push(json);
  }
  /** The log text carried by the chunks. */
  text(): string {
    return Buffer.concat(this.frames.map((f) => (decodeLogChunk(f) as { data: Buffer }).data)).toString();
  }
  /** The seq of every record sent. */
  seqs(): number[] {
    return this.sent.map((f) => (typeof f === 'string' ? JSON.parse(f).seq : (decodeLogChunk(f) as { seq: number }).seq));
  }
}
