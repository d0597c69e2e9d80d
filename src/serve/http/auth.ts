import { createHash, timingSafeEqual } from 'node:crypto';
import { fail } from '../../errors.js';
import { RequestError } from './errors-to-status.js';

/**
 * Who may write, and who may read. Writes (adding and removing items, snapshots) need the
 * bearer token unless anonymous writes were allowed explicitly; without either, writes are
 * refused with a 403 that says how to enable them (the server still starts, so reads work).
 * Reads (searches, metrics) are open unless `reads` is set. /health is always open: it is
 * what load balancers and orchestrators probe.
 */
export interface HttpAuthOptions {
  /** The token clients send as `Authorization: Bearer <token>`; null: none configured. */
  token?: string | null;
  /** Writes without a token (for a service only reachable by trusted clients). Default false. */
  allowAnonymousWrites?: boolean;
  /** Reads need the token too. Default false. Needs a token. */
  reads?: boolean;
}

/** How writes are guarded, as the ready line and /health report it. */
export type WriteAccess = 'token' | 'anonymous' | 'disabled';

export class HttpAuth {
  /** SHA-256 of the token: comparing digests of equal length keeps the comparison constant-time whatever the lengths. */
  private readonly digest: Buffer | null;
  private readonly anonymousWrites: boolean;
  private readonly guardReads: boolean;

  constructor(options: HttpAuthOptions = {}) {
    const token = options.token ?? null;
    if (token !== null && token.length === 0) fail('INVALID_ARGUMENT', 'the auth token is empty');
    this.digest = token === null ? null : sha256(token);
    this.anonymousWrites = options.allowAnonymousWrites === true;
    this.guardReads = options.reads === true;
    if (this.guardReads && this.digest === null)
      fail('INVALID_ARGUMENT', 'guarding reads needs a token: give one (--auth-token-file FILE) with --auth-reads');
  }

  get writeAccess(): WriteAccess {
    if (this.digest !== null) return 'token';
    return this.anonymousWrites ? 'anonymous' : 'disabled';
  }

  get readsGuarded(): boolean {
    return this.guardReads;
  }

  /** Throws 401/403 unless the request may write. A configured token is required even when anonymous writes are allowed. */
  checkWrite(authorization: string | undefined): void {
    if (this.digest === null) {
      if (this.anonymousWrites) return;
      throw new RequestError(
        403,
        'writes are disabled on this server: start it with --auth-token-file FILE (and send Authorization: Bearer <token>) or with --allow-anonymous-writes',
        'authorization',
        'WRITES_DISABLED',
      );
    }
    this.checkToken(authorization);
  }

  /** Throws 401 unless the request may read. */
  checkRead(authorization: string | undefined): void {
    if (this.guardReads) this.checkToken(authorization);
  }

  private checkToken(authorization: string | undefined): void {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const challenge = { 'www-authenticate': 'Bearer realm="webannolo"' };
    if (!match)
      throw new RequestError(401, 'this request needs Authorization: Bearer <token>', 'authorization', 'UNAUTHENTICATED', challenge);
    if (!timingSafeEqual(sha256(match[1]!), this.digest!))
      throw new RequestError(401, 'the bearer token is not the one this server was given', 'authorization', 'UNAUTHENTICATED', challenge);
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
