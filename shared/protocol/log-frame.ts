/**
 * Binary frame for log chunks, agent -> master. Log data is the hot path, so it skips JSON and zod:
 * the master checks this fixed header at the socket edge and stores the payload bytes as they came.
 *
 *   offset size field
 *   0      1    kind      FrameKind.LogChunk (0x4c, 'L')
 *   1      1    version   PROTOCOL_VERSION & 0xff
 *   2      2    reserved  0
 *   4      4    stageRunId  u32 BE
 *   8      4    epoch       u32 BE
 *   12     4    seq         u32 BE, shares the record sequence of the stage run (see messages.ts)
 *   16     8    offset      f64 BE, byte offset of the payload in the stage run's log
 *   24     ...  payload     raw bytes of the step's output, secrets already masked
 *
 * Browser-safe: the codec works on Uint8Array through a DataView and never names Node's Buffer at run
 * time, so shared/protocol's index can be imported by the web UI. Under Node the bytes are Buffers (a
 * Buffer is a Uint8Array; subarray of a Buffer is a Buffer), which is what master and agent get back.
 */
import { acceptsProtocolVersion, MIN_AGENT_PROTOCOL_VERSION, PROTOCOL_VERSION } from './messages';

export const FrameKind = { LogChunk: 0x4c } as const;
export const LOG_HEADER_BYTES = 24;

/**
 * The platform's byte array: Node's Buffer where @types/node declares it (master, agent, CLI, tests),
 * plain Uint8Array in a browser build. Resolved from the global declarations, so shared/ names no Node type.
 */
export type Bytes = typeof globalThis extends { Buffer: { allocUnsafe(size: number): infer B } } ? B : Uint8Array;

export interface LogChunk {
  stageRunId: number;
  epoch: number;
  seq: number;
  offset: number;
  data: Bytes;
}

/** Allocates with Buffer.allocUnsafe where it exists (no zero fill on the hot path), else a Uint8Array. */
function alloc(size: number): Bytes {
  const B = (globalThis as { Buffer?: { allocUnsafe(size: number): Uint8Array } }).Buffer;
  return (B ? B.allocUnsafe(size) : new Uint8Array(size)) as Bytes;
}

export function encodeLogChunk(c: { stageRunId: number; epoch: number; seq: number; offset: number; data: Uint8Array }): Bytes {
  const buf = alloc(LOG_HEADER_BYTES + c.data.length) as Uint8Array;
  const view = new DataView(buf.buffer, buf.byteOffset, LOG_HEADER_BYTES);
  view.setUint8(0, FrameKind.LogChunk);
  view.setUint8(1, PROTOCOL_VERSION & 0xff);
  view.setUint16(2, 0);
  view.setUint32(4, c.stageRunId);
  view.setUint32(8, c.epoch);
  view.setUint32(12, c.seq);
  view.setFloat64(16, c.offset);
  buf.set(c.data, LOG_HEADER_BYTES);
  return buf as Bytes;
}

/** Decode a binary frame; returns an error string (never throws) when the header is not valid. */
export function decodeLogChunk(buf: Uint8Array): LogChunk | string {
  if (buf.length < LOG_HEADER_BYTES) return `log frame shorter than its ${LOG_HEADER_BYTES}-byte header`;
  if (buf[0] !== FrameKind.LogChunk) return `unknown binary frame kind 0x${buf[0].toString(16)}`;
  // The frame layout is the same for every version the master accepts (acceptsProtocolVersion).
  if (!acceptsProtocolVersion(buf[1])) return `log frame version ${buf[1]} not accepted (${MIN_AGENT_PROTOCOL_VERSION}..${PROTOCOL_VERSION & 0xff})`;
  const view = new DataView(buf.buffer, buf.byteOffset, LOG_HEADER_BYTES);
  const stageRunId = view.getUint32(4);
  const epoch = view.getUint32(8);
  const seq = view.getUint32(12);
  const offset = view.getFloat64(16);
  if (stageRunId === 0 || seq === 0) return 'log frame with stageRunId 0 or seq 0';
  if (!Number.isSafeInteger(offset) || offset < 0) return 'log frame with a bad offset';
  return { stageRunId, epoch, seq, offset, data: buf.subarray(LOG_HEADER_BYTES) as Bytes };
}
