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
