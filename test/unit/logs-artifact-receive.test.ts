/**
 * receiveToFile over a real HTTP server and client: the body lands on disk with its sha256; a chunked body
 * over the limit is refused with payload_too_large, the server can still answer 413, and no file is left.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiveToFile } from '../../master/engine/artifacts/receive';
import { SlipwayError } from '../../shared/errors';

const LIMIT = 100_000;
let dir: string;
let server: http.Server;
let url: string;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-receive-'));
  server = http.createServer(async (req, res) => {
    const file = join(dir, `upload-${++n}`);
    try {
      const got = await receiveToFile(req, file, LIMIT, 'artifact x.bin');
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ...got, file }));
    } catch (err) {
      const status = err instanceof SlipwayError ? err.httpStatus : 500;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: (err as Error).message, file }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** PUT `parts` as a chunked body (no Content-Length), the way a stream of unknown size arrives. */
function putChunked(parts: Buffer[]): Promise<{ status: number; body: { sha256?: string; size?: number; message?: string; file: string } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    // The server may answer and close before the whole body is written.
    req.on('error', (err) => (err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err));
    for (const p of parts) req.write(p);
    req.end();
  });
}

describe('receiveToFile', () => {
  it('stores the body and returns its size and sha256', async () => {
    const parts = Array.from({ length: 10 }, (_, i) => Buffer.alloc(9_000, i));
    const { status, body } = await putChunked(parts);
    expect(status).toBe(201);
    expect(body.size).toBe(90_000);
    expect(body.sha256).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
    expect(readFileSync(body.file)).toEqual(Buffer.concat(parts));
  });

  it('refuses a body over the limit with payload_too_large and leaves no file', async () => {
    const { status, body } = await putChunked(Array.from({ length: 12 }, () => Buffer.alloc(9_000, 1)));
    expect(status).toBe(413);
    expect(body.message).toBe(`artifact x.bin is larger than the limit of ${LIMIT} bytes (SLIPWAY_MAX_ARTIFACT_BYTES)`);
    expect(existsSync(body.file)).toBe(false);
  });
});
