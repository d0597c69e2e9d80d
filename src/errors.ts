/**
 * Every error webannolo throws on bad input is a WebannoloError with a stable `code`, so that
 * callers (and the CLI) can react to the kind of problem and print one readable line.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DIMENSION_MISMATCH'
  | 'NON_FINITE'
  | 'EMPTY_DATA'
  | 'BAD_SPARSE_ROW'
  | 'TRUNCATED_FILE'
  | 'FOREIGN_FILE'
  | 'UNSUPPORTED_VERSION'
  | 'CORRUPT_FILE'
  | 'UNSUPPORTED_FORMAT'
  | 'NO_GPU'
  | 'GPU_FAILURE'
  /** Aborted by its AbortSignal before it finished (a build, an add, a batched search not yet started). */
  | 'CANCELLED'
  /** Refused because a bounded queue is full (QueryBatcher's maxQueue): try again later. */
  | 'OVERLOADED'
  /** Refused because the receiver was closed (a closed QueryBatcher, a closed worker pool). */
  | 'CLOSED'
  /** A worker thread died (exited, crashed, or sent a reply that could not be read) while it ran the call's work; the pool replaces it. */
  | 'WORKER_FAILED'
  /** Storage failed or is full (a write or fsync of the write-ahead log, a browser save over quota); the change or save did not happen. */
  | 'IO_FAILURE'
  /** The call cannot run in the current state (say a write to an index that has no keys, or one served read-only). */
  | 'READ_ONLY'
  /** A part of a distributed service did not answer in time (a shard with no live replica); try again later. */
  | 'UNAVAILABLE';

/** The error the library throws for bad input, files and failures: `code` is stable (see ErrorCode), the message names the problem. */
export class WebannoloError extends Error {
  /** What went wrong, for programs: a stable name such as DIMENSION_MISMATCH. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'WebannoloError';
    this.code = code;
  }
}

export function fail(code: ErrorCode, message: string): never {
  throw new WebannoloError(code, message);
}

/** Throws INVALID_ARGUMENT unless `value` is an integer in [min, max]. */
export function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    fail('INVALID_ARGUMENT', `${name} must be an integer ${range}, got ${String(value)}`);
  }
  return value;
}
