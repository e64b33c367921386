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

  /** Where `price` (as the number `key`) is, or -(insertion point) - 1. */
  private find(key: number, price: string): number {
    const k = this.keys;
    const up = this.bestIsHighest;
    let lo = 0;
    let hi = k.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = k[mid]!;
      // Prices of more than about 16 digits can share a double: the text decides between them.
      const order = v !== key ? (v < key ? -1 : 1) : textOrder(this.levels[mid]!.price, price);
      if (order === 0) return mid;
      if (up ? order < 0 : order > 0) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }

  /** Sets a level; a size that is zero deletes it. */
  set(price: string, size: string): void {
    const key = Number(price);
    const i = this.find(key, price);
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

  /** The best level's price as received. */
  bestPrice(): string | undefined {
    return this.levels[this.levels.length - 1]?.price;
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
    if (b === undefined || a === undefined) return false;
    return b > a || (b === a && compareDecimalText(this.bids.bestPrice()!, this.asks.bestPrice()!) >= 0);
  }
}

/** `compareDecimalText`, with the common case first: the same text as the level's. */
function textOrder(a: string, b: string): number {
  return a === b ? 0 : compareDecimalText(a, b);
}

/** The exact order of two decimal texts as venues send them (an optional `-`, digits, an optional fraction). */
export function compareDecimalText(a: string, b: string): number {
  const negA = a.startsWith("-");
  const negB = b.startsWith("-");
  if (negA !== negB) return isZeroText(a) && isZeroText(b) ? 0 : negA ? -1 : 1;
  const order = compareMagnitude(negA ? a.slice(1) : a, negB ? b.slice(1) : b);
  return negA ? -order : order;
}

function compareMagnitude(a: string, b: string): number {
  const [ia, fa] = splitDecimal(a);
  const [ib, fb] = splitDecimal(b);
  if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
  if (ia !== ib) return ia < ib ? -1 : 1;
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}

/** Integer digits without leading zeros, fraction digits without trailing zeros. */
function splitDecimal(text: string): [string, string] {
  const dot = text.indexOf(".");
  const int = (dot === -1 ? text : text.slice(0, dot)).replace(/^0+/, "");
  const frac = dot === -1 ? "" : text.slice(dot + 1).replace(/0+$/, "");
  return [int, frac];
}

function isZeroText(text: string): boolean {
  return /^-?0*(\.0*)?$/.test(text);
}
