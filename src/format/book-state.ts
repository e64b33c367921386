/**
 * The writer's copy of each symbol's order book, kept from the `book` and `event` rows it is given, so that it
 * can write book checkpoints (format 1.1, docs/FORMAT.md §6.5). Exact: prices and sizes stay decimal mantissas
 * with their scales. The rules are the reader's (OrderBook): rows of a new snapshot replace the book, a gap,
 * checksum failure or disconnect event makes it invalid until the next snapshot.
 *
 * It runs for every book row the writer takes, so it works on numbers: times are ns relative to the first time
 * it saw (exact within 2^53 ns, 104 days; beyond, it stops writing checkpoints), prices key levels as doubles
 * when they have at most 15 significant digits (distinct decimals, distinct doubles) and as text otherwise.
 */
import { type BlockInput, MAX_BLOCK_ROWS } from "./block.js";
import { DecimalBuilder, IntBuilder, U8Builder } from "./builders.js";
import type { Column } from "./columns.js";
import type { Mantissa } from "./decimal.js";

interface Level {
  price: Mantissa;
  priceScale: number;
  size: Mantissa;
  sizeScale: number;
}

const INVALIDATING = new Set(["gap", "checksum_failure", "disconnect"]);
const EXACT = 2 ** 53;
const EXACT_BIG = 2n ** 53n;
/** Absent receive times sort first. */
export const NO_RECV = Number.NEGATIVE_INFINITY;

const POW10 = Array.from({ length: 19 }, (_, i) => 10 ** i);

/** A key for a price: equal decimal values get equal keys whatever their scale. */
function priceKey(m: Mantissa, scale: number): number | string {
  if (typeof m === "number" && Math.abs(m) < 1e15) return m / POW10[scale]!;
  let b = BigInt(m);
  let s = scale;
  while (s > 0 && b % 10n === 0n && b !== 0n) {
    b /= 10n;
    s--;
  }
  return `${b}e-${s}`;
}

/** Compares two decimals exactly (a - b). */
function compare(am: Mantissa, as: number, bm: Mantissa, bs: number): number {
  // Same scale, safe integers: plain numbers compare exactly.
  if (as === bs && typeof am === "number" && typeof bm === "number") return am - bm;
  const s = Math.max(as, bs);
  const x = BigInt(am) * 10n ** BigInt(s - as);
  const y = BigInt(bm) * 10n ** BigInt(s - bs);
  return x < y ? -1 : x > y ? 1 : 0;
}

export class BookState {
  /**
   * Each side's levels by price key. A deleted level stays, at size 0, until deleted ones outnumber the others three
   * to one (see `remove`): deleting from a `Map` and adding again, as books do all the time at the touch, made V8
   * rebuild its table every few thousand changes, and each new table outlived young collections.
   */
  private readonly sides = [new Map<number | string, Level>(), new Map<number | string, Level>()];
  /** Levels of each side with a size. */
  private readonly live = [0, 0];
  /** The time all others are relative to (the first one seen). */
  private origin: bigint | null = null;
  /** A time beyond 2^53 ns of the origin was seen: no checkpoint is exact any more. */
  private far = false;
  valid = false;
  /** Identity (ts, seq) of the snapshot being applied: rows of one snapshot share it. */
  private snapshotId: string | null = null;
  /** Exchange time of the snapshot the book descends from (relative). */
  private since = 0;
  /** Latest exchange time among the rows applied, book and event (relative; -Infinity before any). */
  private maxTs = Number.NEGATIVE_INFINITY;
  /** Exchange time of the last row that changed the book or its validity (relative). */
  private lastChange = 0;
  /** Rows of the symbol's book and event streams applied so far (their positions in the file). */
  private bookRows = 0;
  private eventRows = 0;
  /** Exchange time of the last checkpoint written or tried (relative; null: none yet). */
  private lastCheckpoint: number | null = null;
  /** `bookRows` when that checkpoint was written or tried (0: none yet). */
  private bookRowsAtCheckpoint = 0;
  /**
   * Whether the rows applied since the book's snapshot came in replay order, so that the book built in append
   * order is the book a reader builds in time order: a stream's rows in (ts, recvTs) order (ties keep their
   * order), and book and event rows never tied (a tie between the two streams is ordered by where their blocks
   * land in the file, which the writer does not know yet).
   */
  private ordered = false;
  /** The largest (ts, recvTs) keys of the symbol's book rows and event rows so far. */
  private maxBookTs = Number.NEGATIVE_INFINITY;
  private maxBookRecv = Number.NEGATIVE_INFINITY;
  private maxEventTs = Number.NEGATIVE_INFINITY;
  private maxEventRecv = Number.NEGATIVE_INFINITY;

  get levels(): number {
    return this.live[0]! + this.live[1]!;
  }

  /** `t` relative to the origin, as a number (the difference `shift` adds to offsets of a batch). */
  relative(t: bigint): number {
    if (this.origin === null) this.origin = t;
    const d = t - this.origin;
    if (d >= EXACT_BIG || d <= -EXACT_BIG) this.far = true;
    return Number(d);
  }

  /** A time relative to the origin; marks the state far when it is not exact. */
  checkExact(t: number): number {
    if (!(Math.abs(t) < EXACT)) this.far = true;
    return t;
  }

  /**
   * Applies a book row. `ts` and `recv` are relative (`recv` NO_RECV when absent); `seq` matters only for
   * snapshot rows (their identity): callers may leave it out for the others.
   */
  applyBook(
    ts: number,
    recv: number,
    seq: bigint | undefined,
    side: number,
    price: Mantissa,
    priceScale: number,
    size: Mantissa,
    sizeScale: number,
    snapshot: boolean,
  ): void {
    if (ts > this.maxTs) this.maxTs = ts;
    this.bookRows++;
    const afterBooks = ts > this.maxBookTs || (ts === this.maxBookTs && recv >= this.maxBookRecv);
    const afterEvents = ts > this.maxEventTs || (ts === this.maxEventTs && recv > this.maxEventRecv);
    if (ts > this.maxBookTs || (ts === this.maxBookTs && recv > this.maxBookRecv)) {
      this.maxBookTs = ts;
      this.maxBookRecv = recv;
    }
    const inOrder = afterBooks && afterEvents;
    if (snapshot) {
      const id = `${ts}/${seq}`;
      if (id !== this.snapshotId) {
        this.sides[0]!.clear();
        this.sides[1]!.clear();
        this.live[0] = 0;
        this.live[1] = 0;
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
    const key = priceKey(price, priceScale);
    const level = levels.get(key);
    if (size === 0 || size === 0n) {
      if (level !== undefined && level.size !== 0) this.remove(side, level);
    } else if (level === undefined) {
      levels.set(key, { price, priceScale, size, sizeScale });
      this.live[side]!++;
    } else {
      if (level.size === 0) {
        // Deleted and now added again: as a new level would be, with the price as sent this time.
        level.price = price;
        level.priceScale = priceScale;
        this.live[side]!++;
      }
      level.size = size;
      level.sizeScale = sizeScale;
    }
    this.lastChange = ts;
  }

  /** Deletes a level (size 0); rebuilds the side without its deleted levels once they are 3x the others (and 1024). */
  private remove(side: number, level: Level): void {
    level.size = 0;
    level.sizeScale = 0;
    const live = --this.live[side]!;
    const levels = this.sides[side]!;
    if (levels.size - live <= Math.max(1024, 3 * live)) return;
    const kept = new Map<number | string, Level>();
    for (const [k, l] of levels) if (l.size !== 0) kept.set(k, l);
    this.sides[side] = kept;
  }

  applyEvent(ts: number, recv: number, type: string): void {
    if (ts > this.maxTs) this.maxTs = ts;
    this.eventRows++;
    const afterEvents = ts > this.maxEventTs || (ts === this.maxEventTs && recv >= this.maxEventRecv);
    const afterBooks = ts > this.maxBookTs || (ts === this.maxBookTs && recv > this.maxBookRecv);
    this.ordered &&= afterEvents && afterBooks;
    if (ts > this.maxEventTs || (ts === this.maxEventTs && recv > this.maxEventRecv)) {
      this.maxEventTs = ts;
      this.maxEventRecv = recv;
    }
    if (INVALIDATING.has(type)) {
      this.valid = false;
      this.snapshotId = null;
      this.lastChange = ts;
    }
  }

  /**
   * Whether a checkpoint is due before a row at `ts` (relative): the book is valid, not empty and was built in
   * replay order, every row so far is older than `ts` (so the checkpoint is a clean cut in time), and its time
   * (the latest row's) is `interval` after the last checkpoint's (or the snapshot's), and at least `perLevel`
   * times as many book rows as the book has levels came since that checkpoint: a quiet symbol with a deep book
   * would otherwise store its whole book every interval, to save a reader the replay of a few updates.
   */
  due(ts: number, interval: number, perLevel: number): boolean {
    if (!this.valid || !this.ordered || this.far || ts <= this.maxTs) return false;
    const levels = this.levels;
    if (levels === 0 || this.bookRows - this.bookRowsAtCheckpoint < perLevel * levels) return false;
    return this.maxTs - (this.lastCheckpoint ?? this.since) >= interval;
  }

  /** The checkpoint block of the current state (bids then asks, best first), or null if it cannot be stored. */
  checkpoint(symbol: string, symbolId: number): BlockInput | null {
    const origin = this.origin!;
    const ts = origin + BigInt(this.maxTs);
    // A checkpoint that cannot be stored is not tried again before the next interval.
    this.lastCheckpoint = this.maxTs;
    this.bookRowsAtCheckpoint = this.bookRows;
    const byPrice = (a: Level, b: Level) => compare(a.price, a.priceScale, b.price, b.priceScale);
    const present = (l: Level) => l.size !== 0;
    const bid = [...this.sides[0]!.values()].filter(present).sort((a, b) => byPrice(b, a));
    const ask = [...this.sides[1]!.values()].filter(present).sort(byPrice);
    const rows = bid.length + ask.length;
    if (rows > MAX_BLOCK_ROWS) return null;
    const side = new U8Builder();
    const price = new DecimalBuilder();
    const size = new DecimalBuilder();
    for (const [s, levels] of [
      [0, bid],
      [1, ask],
    ] as const) {
      for (const l of levels) {
        // Levels too far apart for one block's number ranges: no checkpoint this time.
        if (!price.add({ mantissa: l.price, scale: l.priceScale })) return null;
        if (!size.add({ mantissa: l.size, scale: l.sizeScale })) return null;
        side.add(s);
      }
    }
    const constant = (v: bigint): Column => {
      const b = new IntBuilder();
      for (let i = 0; i < rows; i++) b.add(v);
      return b.column();
    };
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
        since: constant(origin + BigInt(this.since)),
        lastChange: constant(origin + BigInt(this.lastChange)),
      },
    };
  }
}
