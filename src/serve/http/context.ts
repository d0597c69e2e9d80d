import type { ServeBackend } from '../backend.js';
import type { HttpAuth } from './auth.js';
import type { ServeMetrics } from './metrics.js';
import type { RequestLimits } from './schemas.js';

/** Search parameters a request may leave out. */
export interface SearchDefaults {
  /** Neighbours per query. Default 10. */
  readonly k: number;
  /** Beam width; undefined: the index's default (max(k, 64)). */
  readonly ef?: number;
  /** Candidates re-scored by their plain vectors; undefined: none. */
  readonly rerank?: number;
}

/** What every route of one server shares. */
export interface HttpContext {
  readonly backend: ServeBackend;
  readonly auth: HttpAuth;
  readonly metrics: ServeMetrics;
  readonly limits: RequestLimits;
  readonly defaults: SearchDefaults;
  /** Milliseconds a search may take before it is answered with a 504 (0: no deadline). */
  readonly deadlineMs: number;
  /** The served vectors' dimension (fixed for the server's life). */
  readonly dim: number;
  /** Set once close() began: /health answers 503 from then on. */
  readonly state: { closing: boolean };
  readonly startedAt: number;
}
