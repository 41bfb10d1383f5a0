/**
 * The error hierarchy shared by master, agent, CLI and web. Every error has a stable string code;
 * `httpStatus` is the one mapping from codes to HTTP statuses, used by the master's error handler.
 * Errors cross the wire as ErrorBody (toBody / fromBody), never as stack traces.
 */

export const ErrorCode = {
  invalid_request: 400,
  invalid_job: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ErrorCode;

/** Where a validation problem is: file, line and column when known, and the field path. */
export interface FieldIssue {
  file?: string;
  line?: number;
  column?: number;
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; issues?: FieldIssue[] };
}

export class SlipwayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
  get httpStatus(): number {
    return ErrorCode[this.code];
  }
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Bad input that can be pinned to fields (and to file lines for YAML). */
export class ValidationError extends SlipwayError {
  constructor(
    code: 'invalid_request' | 'invalid_job',
    readonly issues: FieldIssue[],
  ) {
    super(code, issues.map(formatIssue).join('\n'));
  }
  override toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, issues: this.issues } };
  }
}

export const notFound = (what: string) => new SlipwayError('not_found', `${what} not found`);
export const forbidden = (why: string) => new SlipwayError('forbidden', why);
export const unauthenticated = (why = 'login required') => new SlipwayError('unauthenticated', why);
export const conflict = (why: string) => new SlipwayError('conflict', why);
export const badRequest = (why: string) => new SlipwayError('invalid_request', why);

/** "jobs/demo.yml:12:9: stages[0].timeout: not a duration" */
export function formatIssue(i: FieldIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ` : '';
  return `${where}${i.field}: ${i.message}`;
}

/** Rebuild an error from an API response body (CLI and web use this). */
export function fromBody(status: number, body: unknown): SlipwayError {
  const e = (body as ErrorBody | undefined)?.error;
  if (e && typeof e.code === 'string' && e.code in ErrorCode) {
    if (e.issues) return new ValidationError(e.code as 'invalid_job', e.issues);
    return new SlipwayError(e.code as ErrorCode, e.message);
  }
  return new SlipwayError(status >= 500 ? 'internal' : 'invalid_request', `HTTP ${status}`);
}
