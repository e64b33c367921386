/**
 * The recorder's own copy of a venue's L2 book, kept to check what the venue sends: checksums are computed over
 * the price and size *strings as received* (OKX, Kraken), so levels keep their text; they are ordered by numeric
 * price, because one price can arrive with different decimals ("30316" and "30316.0").
 */
import { HashedLevel } from "./level-crc32.js";

export interface TextLevel {
  price: string;
  size: string;
}

/** One side, sorted worst first and best last: updates cluster at the touch, so splices move few elements. */
class TextSide {
  private readonly keys: number[] = [];
  private readonly levels: TextLevel[] = [];
  constructor(private readonly bestIsHighest: boolean) {}

  get length(): number {
    return this.keys.length;
  }

  private find(key: number): number {
    const k = this.keys;
    const up = this.bestIsHighest;
    let lo = 0;
    let hi = k.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = k[mid]!;
      if (v === key) return mid;
      if (up ? v < key : v > key) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }

  /** Sets a level; a size that is zero deletes it. */
  set(price: string, size: string): void {
    const key = Number(price);
    const i = this.find(key);
    const remove = Number(size) === 0;
    if (i >= 0) {
      if (remove) {
        this.keys.splice(i, 1);
        this.levels.splice(i, 1);
      } else this.levels[i] = new HashedLevel(price, size);
    } else if (!remove) {
      const at = -i - 1;
      this.keys.splice(at, 0, key);
      this.levels.splice(at, 0, new HashedLevel(price, size));
    }
  }

  /** The n best levels, best first. */
  top(n: number): TextLevel[] {
    const out: TextLevel[] = [];
    for (let i = this.levels.length - 1; i >= 0 && out.length < n; i--) out.push(this.levels[i]!);
    return out;
  }

  best(): number | undefined {
    return this.keys[this.keys.length - 1];
  }

  /** Keeps only the n best levels (venues that send no delete for levels pushed out of the subscribed depth). */
  truncate(n: number): void {
    const drop = this.keys.length - n;
    if (drop > 0) {
      this.keys.splice(0, drop);
      this.levels.splice(0, drop);
    }
  }

  clear(): void {
    this.keys.length = 0;
    this.levels.length = 0;
  }
}

export class LevelBook {
  readonly bids = new TextSide(true);
  readonly asks = new TextSide(false);

  side(side: "bid" | "ask"): TextSide {
    return side === "bid" ? this.bids : this.asks;
  }

  clear(): void {
    this.bids.clear();
    this.asks.clear();
  }

  /** Best bid at or above best ask: a book in that state has missed an update. */
  crossed(): boolean {
    const b = this.bids.best();
    const a = this.asks.best();
    return b !== undefined && a !== undefined && b >= a;
  }
}
