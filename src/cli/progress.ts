import type { OutStream } from './args.js';

/**
 * Progress of a long step, on stderr only (stdout stays clean for the results and the JSON
 * line other tools parse). On a terminal: one bar redrawn in place, at most ~10 times a
 * second. Elsewhere (a log file, CI, a pipe): a few plain lines such as `build: 50%`, and
 * none at all for steps that finish within a second.
 */
export class Progress {
  private readonly tty: boolean;
  private readonly start = performance.now();
  private lastDraw = -Infinity;
  private nextMilestone = 25;
  private drawn = false;
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly stream: OutStream,
    options: { enabled?: boolean } = {},
  ) {
    this.tty = options.enabled !== false && stream.isTTY === true;
    if (options.enabled === false) this.finished = true;
  }

  /** Reports `done` of `total` units. Cheap enough to call for every unit. */
  update(done: number, total: number): void {
    if (this.finished) return;
    const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && frac < 1) return;
      this.lastDraw = now;
      this.draw(frac, done, total, now);
      return;
    }
    const milestone = Math.floor(frac * 4) * 25;
    if (milestone < this.nextMilestone) return;
    this.nextMilestone = milestone + 25;
    // Quick steps print nothing; slow ones print the milestone they passed.
    if (now - this.start >= 1000) this.stream.write(`${this.label}: ${milestone}%\n`);
  }

  /** Ends the bar (a final redraw and a newline on terminals). */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tty && this.drawn) this.stream.write('\r\x1b[K');
  }

  private draw(frac: number, done: number, total: number, now: number): void {
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 && frac < 1 ? ` eta ${clock(elapsed * (1 / frac - 1))}` : '';
    const tail = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${done}/${total} ${clock(elapsed)}${eta}`;
    const columns = this.stream.columns || 80;
    const width = Math.max(10, Math.min(40, columns - this.label.length - tail.length - 4));
    const fill = Math.round(frac * width);
    const bar = `${'#'.repeat(fill)}${'.'.repeat(width - fill)}`;
    this.stream.write(`\r\x1b[K${this.label} [${bar}]${tail}`);
    this.drawn = true;
  }
}

function clock(s: number): string {
  const t = Math.round(s);
  return t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}
