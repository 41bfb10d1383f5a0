/**
 * The one error mapping of the HTTP API: SlipwayError -> its status and ErrorBody; express body-parser
 * errors -> invalid_request / payload_too_large; anything else -> 500 with a generic message (the details
 * go to the log, never to the client).
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { SlipwayError } from '../../shared/errors';

/** Unknown /api routes answer JSON, not express's HTML page. */
export const apiNotFound: RequestHandler = (req, res) => {
  res.status(404).json(new SlipwayError('not_found', `no API route ${req.method} ${req.originalUrl.split('?')[0]}`).toBody());
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toSlipwayError(err);
    if (e.code === 'internal') log.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(e.httpStatus).json(e.toBody());
  };
}

function toSlipwayError(err: unknown): SlipwayError {
  if (err instanceof SlipwayError && err.code !== 'internal') return err;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  if (e?.type === 'entity.too.large') return new SlipwayError('payload_too_large', `request body is larger than ${e.limit} bytes`);
  if (e?.type === 'entity.parse.failed') return new SlipwayError('invalid_request', `request body is not valid JSON: ${e.message}`);
  if (e?.type?.startsWith('encoding') || e?.type === 'charset.unsupported') return new SlipwayError('invalid_request', e.message ?? 'bad body encoding');
  return new SlipwayError('internal', 'internal error');
}
