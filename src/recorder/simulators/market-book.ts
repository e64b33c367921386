/**
 * One side of a simulated book in integer ticks and lots, best first. Integers keep the generator exact and cheap;
 * text is made only for what is sent. A simulated book holds at most a few hundred levels, so a sorted array
 * with binary search is enough.
 */

export interface SimLevel {
  /** Price in ticks. */
  tick: number;
  /** Size in lots (never 0: a level of size 0 is deleted). */
  lots: number;
  /** Orders resting at the level (OKX prints the count). */
  orders: number;
}

export class MarketSide {
  /** Ticks, best first: descending for bids, ascending for asks. */
  private readonly ticks: number[] = [];
  private readonly levels = new Map<number, SimLevel>();

  constructor(readonly isBid: boolean) {}

  get length(): number {
    return this.ticks.length;
  }

  /** The i-th best level (0 is the touch). */
  at(i: number): SimLevel | undefined {
    const t = this.ticks[i];
    return t === undefined ? undefined : this.levels.get(t);
  }

  get(tick: number): SimLevel | undefined {
    return this.levels.get(tick);
  }

  best(): number | undefined {
    return this.ticks[0];
  }

  worst(): number | undefined {
    return this.ticks[this.ticks.length - 1];
  }

  /** Sets a level; 0 lots deletes it. */
  set(tick: number, lots: number, orders: number): void {
    const i = this.find(tick);
    if (lots === 0) {
      if (i >= 0) {
        this.ticks.splice(i, 1);
        this.levels.delete(tick);
      }
      return;
    }
    if (i < 0) this.ticks.splice(-i - 1, 0, tick);
    this.levels.set(tick, { tick, lots, orders });
  }

  /** Index of `tick`, or -(insertion point) - 1. */
  private find(tick: number): number {
    const k = this.ticks;
    let lo = 0;
    let hi = k.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = k[mid]!;
      if (v === tick) return mid;
      if (this.isBid ? v > tick : v < tick) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }
}
