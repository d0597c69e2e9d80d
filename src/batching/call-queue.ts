import type { BatchShape, PendingCall } from './pending-call.js';

/** The waiting calls of one shape, oldest first. */
class CallGroup {
  readonly calls: PendingCall[] = [];
  /** Its first call has waited maxWaitMs (or it was flushed): it runs as soon as a slot frees. */
  due = false;
  /** Drained or closed: it stays due until it empties, whatever joins it. */
  flushed = false;
  timer: ReturnType<typeof setTimeout> | null = null;
  constructor(readonly shape: BatchShape) {}
}

/** A batch taken from the queue: calls of one shape, oldest first. */
export interface TakenBatch {
  readonly shape: BatchShape;
  readonly calls: readonly PendingCall[];
}

/**
 * The calls waiting for a batch, grouped by shape (see BatchShape). A group becomes ready when
 * it holds maxBatch calls or its first call has waited maxWaitMs; `onReady` is then called (the
 * batcher starts batches while it has free slots). A ready group that finds no free slot keeps
 * taking calls until one frees or it is full, so under load batches fill up at no extra wait.
 */
export class CallQueue {
  private readonly groups = new Map<string, CallGroup>();
  /** Calls waiting, over all groups. */
  size = 0;

  constructor(
    private readonly maxBatch: number,
    private readonly maxWaitMs: number,
    private readonly onReady: () => void,
  ) {}

  add(call: PendingCall, shape: BatchShape): void {
    let group = this.groups.get(call.key);
    if (group === undefined) {
      group = new CallGroup(shape);
      this.groups.set(call.key, group);
    }
    group.calls.push(call);
    this.size++;
    if (group.calls.length === 1) this.arm(group);
    if (group.calls.length >= this.maxBatch) this.onReady();
  }

  /** Takes a waiting call out (its signal aborted); false when it is not waiting (its batch started). */
  remove(call: PendingCall): boolean {
    const group = this.groups.get(call.key);
    const at = group ? group.calls.indexOf(call) : -1;
    if (group === undefined || at < 0) return false;
    group.calls.splice(at, 1);
    this.size--;
    if (group.calls.length === 0) this.drop(call.key, group);
    return true;
  }

  /**
   * The next batch to run: up to maxBatch of the oldest calls of the ready group whose first
   * call has waited longest; null when no group is ready.
   */
  take(): TakenBatch | null {
    let key: string | null = null;
    let best: CallGroup | null = null;
    for (const [k, g] of this.groups) {
      const ready = g.due || g.calls.length >= this.maxBatch;
      if (ready && (best === null || g.calls[0]!.enqueuedAt < best.calls[0]!.enqueuedAt)) {
        best = g;
        key = k;
      }
    }
    if (best === null) return null;
    const calls = best.calls.splice(0, this.maxBatch);
    this.size -= calls.length;
    if (best.calls.length === 0) this.drop(key!, best);
    else this.arm(best);
    return { shape: best.shape, calls };
  }

  /** Makes every waiting call due now (drain, close): none waits for its timer any more. */
  flushAll(): void {
    for (const g of this.groups.values()) {
      g.flushed = true;
      this.markDue(g);
    }
    if (this.groups.size > 0) this.onReady();
  }

  /** The calls waiting now. */
  *calls(): IterableIterator<PendingCall> {
    for (const g of this.groups.values()) yield* g.calls;
  }

  /** Sets the group's deadline from its first call: due now, or when its timer fires. */
  private arm(group: CallGroup): void {
    if (group.timer !== null) clearTimeout(group.timer);
    group.timer = null;
    const left = group.calls[0]!.enqueuedAt + this.maxWaitMs - performance.now();
    if (group.flushed || this.maxWaitMs === 0 || left <= 0) {
      this.markDue(group);
      this.onReady();
      return;
    }
    group.due = false;
    group.timer = setTimeout(() => {
      group.timer = null;
      group.due = true;
      this.onReady();
    }, left);
  }

  private markDue(group: CallGroup): void {
    if (group.timer !== null) clearTimeout(group.timer);
    group.timer = null;
    group.due = true;
  }

  private drop(key: string, group: CallGroup): void {
    if (group.timer !== null) clearTimeout(group.timer);
    this.groups.delete(key);
  }
}
