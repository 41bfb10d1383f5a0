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
 */
import { acceptsProtocolVersion, MIN_AGENT_PROTOCOL_VERSION, PROTOCOL_VERSION } from './messages';

export const FrameKind = { LogChunk: 0x4c } as const;
export const LOG_HEADER_BYTES = 24;

export interface LogChunk {
  stageRunId: number;
  epoch: number;
  seq: number;
  offset: number;
  data: Buffer;
}

export function encodeLogChunk(c: LogChunk): Buffer {
  const buf = Buffer.allocUnsafe(LOG_HEADER_BYTES + c.data.length);
  buf[0] = FrameKind.LogChunk;
  buf[1] = PROTOCOL_VERSION & 0xff;
  buf.writeUInt16BE(0, 2);
  buf.writeUInt32BE(c.stageRunId, 4);
  buf.writeUInt32BE(c.epoch, 8);
  buf.writeUInt32BE(c.seq, 12);
  buf.writeDoubleBE(c.offset, 16);
  c.data.copy(buf, LOG_HEADER_BYTES);
  return buf;
}

/** Decode a binary frame; returns an error string (never throws) when the header is not valid. */
export function decodeLogChunk(buf: Buffer): LogChunk | string {
  if (buf.length < LOG_HEADER_BYTES) return `log frame shorter than its ${LOG_HEADER_BYTES}-byte header`;
  if (buf[0] !== FrameKind.LogChunk) return `unknown binary frame kind 0x${buf[0].toString(16)}`;
  // The frame layout is the same for every version the master accepts (acceptsProtocolVersion).
  if (!acceptsProtocolVersion(buf[1])) return `log frame version ${buf[1]} not accepted (${MIN_AGENT_PROTOCOL_VERSION}..${PROTOCOL_VERSION & 0xff})`;
  const stageRunId = buf.readUInt32BE(4);
  const epoch = buf.readUInt32BE(8);
  const seq = buf.readUInt32BE(12);
  const offset = buf.readDoubleBE(16);
  if (stageRunId === 0 || seq === 0) return 'log frame with stageRunId 0 or seq 0';
  if (!Number.isSafeInteger(offset) || offset < 0) return 'log frame with a bad offset';
  return { stageRunId, epoch, seq, offset, data: buf.subarray(LOG_HEADER_BYTES) };
}
