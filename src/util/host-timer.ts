/**
 * Time the host spends running JavaScript for one call, excluding time awaiting the GPU:
 * pause() before an await, resume() after it. Several async lanes may share one timer, since
 * JavaScript runs one lane's segment at a time.
 */
export class HostTimer {
  private total = 0;
  private since: number | null = null;

  resume(): void {
    this.since ??= performance.now();
  }

  pause(): void {
    if (this.since === null) return;
    this.total += performance.now() - this.since;
    this.since = null;
  }

  /** Awaits `p` with the clock stopped. */
  async wait<T>(p: Promise<T>): Promise<T> {
    this.pause();
    try {
      return await p;
    } finally {
      this.resume();
    }
  }

  get ms(): number {
    return this.total + (this.since === null ? 0 : performance.now() - this.since);
  }
}

/** Gives the event loop a turn (MessageChannel where it exists: no 4 ms timer clamp). */
export function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'function') {
    return new Promise((r) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        r();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}
