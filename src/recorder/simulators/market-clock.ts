/**
 * Paces the market: `rate` steps a second, counted from the start, so the rate holds on average whatever the
 * timer resolution (a wake-up runs every step that is due). A process that fell far behind (a debugger, a
 * stalled event loop) skips the steps it missed instead of sending a flood.
 */

/** Most steps run in one wake-up. */
const MAX_CATCH_UP = 100;

export class MarketClock {
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private done = 0;

  constructor(
    private readonly rate: number,
    private readonly onStep: () => void,
  ) {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`rate must be a positive number, got ${rate}`);
  }

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer !== null) return;
    this.t0 = performance.now();
    this.done = 0;
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const interval = Math.min(Math.max(1000 / this.rate, 1), 100);
    this.timer = setTimeout(() => this.wake(), interval);
  }

  private wake(): void {
    const due = Math.floor(((performance.now() - this.t0) * this.rate) / 1000);
    if (due - this.done > MAX_CATCH_UP) this.done = due - MAX_CATCH_UP;
    while (this.done < due && this.timer !== null) {
      this.done++;
      this.onStep();
    }
    if (this.timer !== null) this.schedule();
  }
}
