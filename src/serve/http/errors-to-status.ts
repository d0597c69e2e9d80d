import { type ErrorCode, WebannoloError } from '../../errors.js';

/**
 * Every answer the HTTP front gives to a failed request is decided here: which status an error
 * becomes, which headers go with it, and the one-line JSON body `{"error","code"?,"field"?}`.
 * Routes throw (a RequestError for what they check themselves, the backend's WebannoloError
 * for the rest); the server's error handler calls `errorReply`.
 */

/** What a route found wrong with a request, with the status to answer and the field to name. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly code?: string,
    /** Extra headers (Retry-After, WWW-Authenticate). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** 400 naming `field`. */
export function badRequest(field: string, message: string, code: ErrorCode = 'INVALID_ARGUMENT'): RequestError {
  return new RequestError(400, message, field, code);
}

/**
 * The backend's input errors (a 400) as a RequestError naming the field `fieldOf` picks from
 * the message (the backend checks more than the routes do: k against the index size, a filter
 * against its labels, duplicate keys). Other errors pass unchanged.
 */
export function naming(error: unknown, fieldOf: (error: WebannoloError) => string | undefined): unknown {
  if (!(error instanceof WebannoloError) || statusOfCode(error.code) !== 400) return error;
  return new RequestError(400, error.message, fieldOf(error), error.code);
}

/** Seconds a client is told to wait (Retry-After) when the service is overloaded or restarting. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The status of each WebannoloError code. The request's own mistakes are 400s; a full queue,
 * a closed backend, a replaced worker thread or a failed log (writes wait for a restart) are
 * 503s; a write to an index served read-only is a 405; a search that outran its deadline is a
 * 504; the server's own trouble (its files, its GPU) is a 500.
 */
const STATUS_OF_CODE: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  DIMENSION_MISMATCH: 400,
  NON_FINITE: 400,
  EMPTY_DATA: 400,
  BAD_SPARSE_ROW: 400,
  OVERLOADED: 503,
  CLOSED: 503,
  WORKER_FAILED: 503,
  CANCELLED: 504,
  IO_FAILURE: 503,
  UNAVAILABLE: 503,
  READ_ONLY: 405,
  NO_GPU: 500,
  GPU_FAILURE: 500,
  TRUNCATED_FILE: 500,
  FOREIGN_FILE: 500,
  UNSUPPORTED_VERSION: 500,
  CORRUPT_FILE: 500,
  UNSUPPORTED_FORMAT: 500,
};

/** The status a WebannoloError code answers with (500 for a code this table does not know). */
export function statusOfCode(code: string): number {
  return (STATUS_OF_CODE as Record<string, number | undefined>)[code] ?? 500;
}

/** A failed request's answer. */
export interface ErrorReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { error: string; code?: string; field?: string };
  /** True for the server's own failures (5xx other than 503/504): worth a line in the log. */
  readonly internal: boolean;
}

/** Fastify's own errors (bad JSON, body too large, wrong media type) carry a statusCode. */
interface FrameworkError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: readonly ValidationIssue[];
  validationContext?: string;
}

/** One issue Ajv found (what fastify's schema validation passes on). */
interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** The answer for anything a route or fastify threw. */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof RequestError) return fromRequestError(error);
  if (error instanceof WebannoloError) {
    const status = statusOfCode(error.code);
    const headers: Record<string, string> = status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
    return { status, headers, body: { error: oneLine(error.message), code: error.code }, internal: status === 500 };
  }
  const e = (error ?? {}) as FrameworkError;
  if (Array.isArray(e.validation) && e.validation.length > 0) return fromValidation(e.validation[0]!, e.validationContext ?? 'body');
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  if (status === 413) return reply(413, 'the request body is larger than the server takes (--body-limit)', 'body', 'BODY_TOO_LARGE');
  if (status === 415)
    return reply(415, `${oneLine(e.message)}: send application/json (or application/octet-stream rows to /search)`, 'content-type');
  if (status >= 500) return { status: 500, headers: {}, body: { error: 'internal error (see the server log)' }, internal: true };
  return reply(status, oneLine(e.message), status === 400 ? 'body' : undefined, e.code);
}

function fromRequestError(error: RequestError): ErrorReply {
  const headers = { ...error.headers };
  if (error.status === 503 && headers['retry-after'] === undefined) headers['retry-after'] = String(RETRY_AFTER_SECONDS);
  const body = {
    error: oneLine(error.message),
    ...(error.code ? { code: error.code } : {}),
    ...(error.field ? { field: error.field } : {}),
  };
  return { status: error.status, headers, body, internal: error.status === 500 };
}

/** A schema violation: the field as a readable path (`vectors[2][5]`, `filter.label`) and what is wrong with it. */
function fromValidation(issue: ValidationIssue, context: string): ErrorReply {
  const segments = (issue.instancePath ?? '').split('/').filter((s) => s !== '');
  const params = issue.params ?? {};
  const child = params['missingProperty'] ?? params['additionalProperty'];
  if (typeof child === 'string') segments.push(child);
  const path = segments.reduce((p, s) => (/^\d+$/.test(s) ? `${p}[${s}]` : p === '' ? s : `${p}.${s}`), '');
  const field = path === '' ? (context === 'querystring' ? 'query' : 'body') : path;
  let what = issue.message ?? 'is not valid';
  if (issue.keyword === 'required') what = 'is required';
  else if (issue.keyword === 'additionalProperties') what = 'is not a field this request takes';
  const where = context === 'querystring' ? 'query parameter ' : '';
  return reply(400, `${where}${field} ${what}`, field, 'INVALID_ARGUMENT');
}

function reply(status: number, message: string, field?: string, code?: string): ErrorReply {
  return {
    status,
    headers: {},
    body: { error: message, ...(code ? { code } : {}), ...(field ? { field } : {}) },
    internal: false,
  };
}

/** Error messages are one line in a JSON body and in logs. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
