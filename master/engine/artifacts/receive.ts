/**
 * Receives an upload body into a file while computing its sha256 and enforcing a size limit, without ever
 * holding the body in memory. The request is never destroyed here, so the caller can still answer it
 * (a refused body is discarded by node's HTTP server after the response).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { SlipwayError } from '../../../shared/errors';

export interface Received {
  size: number;
  sha256: string;
}

/**
 * Writes the body of `req` to `file` (created exclusively, mode 0600). Rejects with payload_too_large past
 * `maxBytes`, or with the stream error; the file is removed on every rejection.
 */
export async function receiveToFile(req: IncomingMessage, file: string, maxBytes: number, what: string): Promise<Received> {
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const hash = createHash('sha256');
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        req.off('data', onData);
        req.resume();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          fail(new SlipwayError('payload_too_large', `${what} is larger than the limit of ${maxBytes} bytes (SLIPWAY_MAX_ARTIFACT_BYTES)`));
          return;
        }
        hash.update(chunk);
        // Backpressure: the disk, not memory, sets the pace.
        if (!out.write(chunk)) {
          req.pause();
          out.once('drain', () => req.resume());
        }
      };
      req.on('data', onData);
      req.once('end', () => out.end(() => resolve()));
      req.once('aborted', () => fail(new SlipwayError('invalid_request', `${what}: upload aborted by the client`)));
      req.once('error', fail);
      out.once('error', fail);
    });
    return { size, sha256: hash.digest('hex') };
  } catch (err) {
    out.destroy();
    await rm(file, { force: true });
    throw err;
  }
}
