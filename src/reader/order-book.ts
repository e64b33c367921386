/**
 * An L2 order book (price → size per side) rebuilt from `book` rows, with the validity that `event` rows imply:
 * a snapshot makes it valid, a gap, checksum failure or disconnect makes it invalid until the next snapshot.
 */
import type { BookRow, Row } from "../format/index.js";

export interface Level {
  price: number;
  size: number;
}

/** Event types after which the book is known to have missed updates. */
const INVALIDATING = new Set(["gap", "checksum_failure", "disconnect"]);

/**
 * One side's levels sorted worst first, best last: updates cluster at the touch, so inserts and deletes move
 * few elements.
 */
class Side {
  prices: number[] = [];
  sizes: number[] = [];
  constructor(private readonly bestIsHighest: boolean) {}

  get length(): number {
    return this.prices.length;
  }

  /** Index of `price`, or -(insertion point) - 1. */
  private find(price: number): number {
    const p = this.prices;
    let lo = 0;
    let hi = p.length;
    // Sorted ascending for bids (best highest), descending for asks (best lowest).
    const up = this.bestIsHighest;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = p[mid]!;
      if (v === price) return mid;
      if (up ? v < price : v > price) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }

  set(price: number, size: number): void {
    const i = this.find(price);
    if (i >= 0) {
      if (size === 0) {
        this.prices.splice(i, 1);
        this.sizes.splice(i, 1);
      } else this.sizes[i] = size;
    } else if (size !== 0) {
      const at = -i - 1;
      this.prices.splice(at, 0, price);
      this.sizes.splice(at, 0, size);
    }
  }

  sizeAt(price: number): number {
    const i = this.find(price);
    return i >= 0 ? this.sizes[i]! : 0;
  }

  best(): Level | null {
    const n = this.prices.length;
    return n === 0 ? null : { price: this.prices[n - 1]!, size: this.sizes[n - 1]! };
  }

  /** The best `n` levels, best first. */
  top(n: number): Level[] {
    const out: Level[] = [];
    for (let i = this.prices.length - 1; i >= 0 && out.length < n; i--)
      out.push({ price: this.prices[i]!, size: this.sizes[i]! });
    return out;
  }

  clear(): void {
    this.prices = [];
    this.sizes = [];
  }

  copyFrom(other: Side): void {
    this.prices = other.prices.slice();
    this.sizes = other.sizes.slice();
  }
}

export class OrderBook {
  private readonly bidSide = new Side(true);
  private readonly askSide = new Side(false);
  /** False until a snapshot, and after a gap, checksum failure or disconnect until the next snapshot. */
  valid = false;
  /** Why the book is invalid (null when valid). */
  invalidReason: string | null = "no snapshot yet";
  /** Exchange time (ns, as a number) of the last row applied. */
  ts: number | null = null;
  /** Sequence id of the last update applied, when the venue has one. */
  seq: number | null = null;
  /** Identity (ts, seq) of the snapshot being applied: rows of one snapshot share it. */
  private snapshotId: string | null = null;

  constructor(
    readonly symbol: string,
    /** When set, rows of other exchanges are ignored. */
    readonly exchange = "",
  ) {}

  /**
   * Applies a `book` row (a snapshot row starts a new book unless it continues the snapshot being applied) or
   * an `event` row (invalidating types mark the book invalid). Other kinds and other symbols are ignored.
   * Returns whether the row changed the book or its validity. `time`, the row's exact exchange time (whole ms and
   * the ns remainder), tells apart snapshots whose times differ by less than a double of ns can (about 256 ns).
   */
  apply(row: Row, time?: { ms: number; rem: number }): boolean {
    if (this.exchange !== "" && row.exchange !== this.exchange) return false;
    // Events without a symbol (a missing hour, a lost tail) concern every symbol of the exchange; but not the close
    // of one connection (`disconnect`): the recorder states the loss of each book that connection carried, and a
    // connection replaced by a newer one loses nothing.
    if (
      row.symbol !== this.symbol &&
      !(row.kind === "event" && row.symbol === "" && row.type !== "disconnect")
    )
      return false;
    if (row.kind === "book") {
      this.applyBook(row, time);
      return true;
    }
    if (row.kind === "event" && INVALIDATING.has(row.type)) {
      this.valid = false;
      this.invalidReason = `${row.type}: ${row.message}`;
      this.snapshotId = null;
      return true;
    }
    return false;
  }

  private applyBook(row: BookRow, time: { ms: number; rem: number } | undefined): void {
    if (row.snapshot) {
      // The row's ns time is a double: two snapshots a few hundred ns apart can share it. Exact when given.
      const id = time === undefined ? `${row.ts}/${row.seq}` : `${time.ms}.${time.rem}/${row.seq}`;
      if (id !== this.snapshotId) {
        this.bidSide.clear();
        this.askSide.clear();
        this.snapshotId = id;
        this.valid = true;
        this.invalidReason = null;
      }
    } else this.snapshotId = null;
    (row.side === "bid" ? this.bidSide : this.askSide).set(row.price, row.size);
    this.ts = row.ts;
    if (row.seq !== null) this.seq = row.seq;
  }

  /**
   * Replaces the book with these levels (a checkpoint's) and marks it valid; `ts` is the time of its last
   * change. The sequence id is not known then: `seq` stays null until an update brings one.
   */
  restore(levels: readonly (Level & { side: "bid" | "ask" })[], ts: number | null = null): void {
    this.bidSide.clear();
    this.askSide.clear();
    for (const l of levels) (l.side === "bid" ? this.bidSide : this.askSide).set(l.price, l.size);
    this.valid = true;
    this.invalidReason = null;
    this.snapshotId = null;
    this.ts = ts;
    this.seq = null;
  }

  bestBid(): Level | null {
    return this.bidSide.best();
  }
  bestAsk(): Level | null {
    return this.askSide.best();
  }
  /** Mid price, or null when a side is empty. */
  mid(): number | null {
    const b = this.bidSide.best();
    const a = this.askSide.best();
    return b === null || a === null ? null : (b.price + a.price) / 2;
  }
  /** Best ask minus best bid, or null when a side is empty. */
  spread(): number | null {
    const b = this.bidSide.best();
    const a = this.askSide.best();
    return b === null || a === null ? null : a.price - b.price;
  }
  /** The best `n` levels of each side, best first. */
  top(n: number): { bids: Level[]; asks: Level[] } {
    return { bids: this.bidSide.top(n), asks: this.askSide.top(n) };
  }
  /** Size resting at a price (0 when there is no level). */
  depthAt(side: "bid" | "ask", price: number): number {
    return (side === "bid" ? this.bidSide : this.askSide).sizeAt(price);
  }
  get bidLevels(): number {
    return this.bidSide.length;
  }
  get askLevels(): number {
    return this.askSide.length;
  }

  /** An independent copy (for snapshots on a grid). */
  clone(): OrderBook {
    const b = new OrderBook(this.symbol, this.exchange);
    b.bidSide.copyFrom(this.bidSide);
    b.askSide.copyFrom(this.askSide);
    b.valid = this.valid;
    b.invalidReason = this.invalidReason;
    b.ts = this.ts;
    b.seq = this.seq;
    b.snapshotId = this.snapshotId;
    return b;
  }
}
