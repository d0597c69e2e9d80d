import type { WireError } from './wire.js';

/**
 * What applying one change of a shard's log did, as a replica reports it (NAME.applied.I):
 *
 *   applied   the index took the change
 *   refused   the index refused it (a duplicate key, an unknown key to remove): all-or-nothing,
 *             so the index is unchanged; every replica refuses it alike, since they apply the
 *             same log to the same state
 *   unknown   the replica holds the change (its position is past it) but not what it did: it
 *             loaded a snapshot that already held it, or the change is older than the
 *             refusals it keeps. Another replica of the shard may still know.
 */
export type ApplyOutcome =
  | {
      /** The change was applied. */
      readonly outcome: 'applied';
    }
  | {
      /** The change was refused (every replica refuses it the same way). */
      readonly outcome: 'refused';
      /** Why. */
      readonly refusal: WireError;
    }
  | {
      /** Not known here: at or before what the replica started from, or not yet handled. */
      readonly outcome: 'unknown';
    };

/** Refusals a replica keeps by default: applied changes cost nothing to remember (see ApplyResults). */
export const DEFAULT_KEPT_REFUSALS = 10_000;

/**
 * A replica's memory of what its changes did, since it started. Successes are implicit: a
 * change past `knownAfter` and up to `seq` that is not among the refusals was applied. So the
 * memory is bounded by the refusals it keeps (the oldest go first, and `knownAfter` moves
 * past them), and a replica knows the outcome of every change it applied itself unless a
 * great many were refused since.
 */
export class ApplyResults {
  /** Insertion order is log order: the first entry is the oldest. */
  private readonly refusals = new Map<number, WireError>();
  /** Outcomes of changes at or below this position are not known here. */
  private knownAfter: number;
  private last: number;

  /** `startSeq`: the log position the replica's index file held when it opened. */
  constructor(
    startSeq: number,
    private readonly keep = DEFAULT_KEPT_REFUSALS,
  ) {
    this.knownAfter = startSeq;
    this.last = startSeq;
  }

  /** The last log position handled (applied or refused). */
  get seq(): number {
    return this.last;
  }

  /** Records what change `seq` (the next one in log order) did: null when applied. */
  record(seq: number, refusal: WireError | null): void {
    this.last = seq;
    if (refusal === null) return;
    this.refusals.set(seq, refusal);
    if (this.refusals.size > this.keep) {
      const oldest = this.refusals.keys().next().value as number;
      this.refusals.delete(oldest);
      this.knownAfter = oldest;
    }
  }

  /** What change `seq` did; call it once `seq` is handled (seq <= this.seq). */
  outcome(seq: number): ApplyOutcome {
    if (seq <= this.knownAfter || seq > this.last) return { outcome: 'unknown' };
    const refusal = this.refusals.get(seq);
    return refusal === undefined ? { outcome: 'applied' } : { outcome: 'refused', refusal };
  }
}
