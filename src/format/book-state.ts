/**
 * The writer's copy of each symbol's order book, kept from the `book` and `event` rows it is given, so that it
 * can write book checkpoints (format 1.1, docs/FORMAT.md §6.5). Exact: prices and sizes stay decimal mantissas
 * with their scales. The rules are the reader's (OrderBook): rows of a new snapshot replace the book, a gap,
 * checksum failure or disconnect event makes it invalid until the next snapshot.
 */
import { type BlockInput, MAX_BLOCK_ROWS } from "./block.js";
import { DecimalBuilder, IntBuilder, U8Builder } from "./builders.js";
import type { Column } from "./columns.js";
import type { Decimal } from "./decimal.js";

interface Level {
  price: Decimal;
  size: Decimal;
}

const INVALIDATING = new Set(["gap", "checksum_failure", "disconnect"]);

/** A decimal without trailing zeros in its mantissa: equal values get equal keys whatever their scale. */
function priceKey(d: Decimal): string {
  let m = d.mantissa;
  let s = d.scale;
  if (typeof m === "number") {
    while (s > 0 && m % 10 === 0 && m !== 0) {
      m /= 10;
      s--;
    }
  } else {
    while (s > 0 && m % 10n === 0n && m !== 0n) {
      m /= 10n;
      s--;
    }
  }
  return `${m}e-${s}`;
}

/** Compares two decimals exactly (a - b). */
function compare(a: Decimal, b: Decimal): number {
  const s = Math.max(a.scale, b.scale);
  const x = BigInt(a.mantissa) * 10n ** BigInt(s - a.scale);
  const y = BigInt(b.mantissa) * 10n ** BigInt(s - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A row's place in replay order within a symbol's rows: exchange time, then receive time (absent first). */
type Key = readonly [ts: bigint, recv: bigint];
const NONE: Key = [-1n, -1n];
function compareKeys(a: Key, b: Key): number {
  return a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] !== b[1] ? (a[1] < b[1] ? -1 : 1) : 0;
}

export class BookState {
  private readonly sides = [new Map<string, Level>(), new Map<string, Level>()];
  valid = false;
  /** Identity (ts, seq) of the snapshot being applied: rows of one snapshot share it. */
  private snapshotId: string | null = null;
  /** Exchange time of the snapshot the book descends from. */
  since = 0n;
  /** Latest exchange time among the rows applied (book and event). */
  maxTs: bigint | null = null;
  /** Exchange time of the last row that changed the book or its validity. */
  lastChange = 0n;
  /** Rows of the symbol's book and event streams applied so far (their positions in the file). */
  bookRows = 0;
  eventRows = 0;
  /** Exchange time of the last checkpoint written (null: none yet). */
  lastCheckpoint: bigint | null = null;
  /**
   * Whether the rows applied since the book's snapshot came in replay order, so that the book built in append
   * order is the book a reader builds in time order: a stream's rows in (ts, recvTs) order (ties keep their
   * order), and book and event rows never tied (a tie between two streams is ordered by where their blocks
   * land in the file, which the writer does not know yet).
   */
  private ordered = false;
  /** The largest keys of the symbol's book and event rows so far (a row after them is in replay order). */
  private maxBook: Key = NONE;
  private maxEvent: Key = NONE;

  get levels(): number {
    return this.sides[0]!.size + this.sides[1]!.size;
  }

  applyBook(
    ts: bigint,
    recvTs: bigint | undefined,
    seq: bigint | undefined,
    side: number,
    price: Decimal,
    size: Decimal,
    snapshot: boolean,
  ): void {
    this.see(ts);
    this.bookRows++;
    const key: Key = [ts, recvTs ?? -1n];
    const inOrder = compareKeys(key, this.maxBook) >= 0 && compareKeys(key, this.maxEvent) > 0;
    if (compareKeys(key, this.maxBook) > 0) this.maxBook = key;
    if (snapshot) {
      const id = `${ts}/${seq}`;
      if (id !== this.snapshotId) {
        this.sides[0]!.clear();
        this.sides[1]!.clear();
        this.snapshotId = id;
        this.valid = true;
        this.since = ts;
        // A new book: in order if it starts after everything before it.
        this.ordered = inOrder;
      } else this.ordered &&= inOrder;
    } else {
      this.snapshotId = null;
      this.ordered &&= inOrder;
    }
    const levels = this.sides[side]!;
    const k = priceKey(price);
    if (size.mantissa === 0 || size.mantissa === 0n) levels.delete(k);
    else levels.set(k, { price, size });
    this.lastChange = ts;
  }

  applyEvent(ts: bigint, recvTs: bigint | undefined, type: string): void {
    this.see(ts);
    this.eventRows++;
    const key: Key = [ts, recvTs ?? -1n];
    this.ordered &&= compareKeys(key, this.maxEvent) >= 0 && compareKeys(key, this.maxBook) > 0;
    if (compareKeys(key, this.maxEvent) > 0) this.maxEvent = key;
    if (INVALIDATING.has(type)) {
      this.valid = false;
      this.snapshotId = null;
      this.lastChange = ts;
    }
  }

  private see(ts: bigint): void {
    if (this.maxTs === null || ts > this.maxTs) this.maxTs = ts;
  }

  /**
   * Whether a checkpoint is due before a row at `ts`: the book is valid, not empty and was built in replay
   * order, every row so far is older than `ts` (so the checkpoint is a clean cut in time), and its time (the
   * latest row's) is `interval` after the last checkpoint's (or the snapshot's).
   */
  due(ts: bigint, interval: bigint): boolean {
    if (!this.valid || !this.ordered || this.maxTs === null || ts <= this.maxTs || this.levels === 0)
      return false;
    return this.maxTs - (this.lastCheckpoint ?? this.since) >= interval;
  }

  /** The checkpoint block of the current state (bids then asks, best first), or null if it cannot be stored. */
  checkpoint(symbol: string, symbolId: number): BlockInput | null {
    const ts = this.maxTs!;
    const side = new U8Builder();
    const price = new DecimalBuilder();
    const size = new DecimalBuilder();
    const bid = [...this.sides[0]!.values()].sort((a, b) => compare(b.price, a.price));
    const ask = [...this.sides[1]!.values()].sort((a, b) => compare(a.price, b.price));
    const rows = bid.length + ask.length;
    // A checkpoint that cannot be stored is not tried again before the next interval.
    const skip = (): null => {
      this.lastCheckpoint = ts;
      return null;
    };
    if (rows > MAX_BLOCK_ROWS) return skip();
    for (const [s, levels] of [
      [0, bid],
      [1, ask],
    ] as const) {
      for (const l of levels) {
        // Levels too far apart for one block's number ranges: no checkpoint this time.
        if (!price.add(l.price) || !size.add(l.size)) return skip();
        side.add(s);
      }
    }
    const constant = (v: bigint): Column => {
      const b = new IntBuilder();
      for (let i = 0; i < rows; i++) b.add(v);
      return b.column();
    };
    this.lastCheckpoint = ts;
    return {
      kind: "checkpoint",
      symbolId,
      symbol,
      rowCount: rows,
      minTs: ts,
      maxTs: ts,
      columns: {
        ts: constant(ts),
        side: side.column(),
        price: price.column(),
        size: size.column(),
        bookRows: constant(BigInt(this.bookRows)),
        eventRows: constant(BigInt(this.eventRows)),
        since: constant(this.since),
        lastChange: constant(this.lastChange),
      },
    };
  }
}
