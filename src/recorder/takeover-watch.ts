/**
 * A book moving to a new connection's snapshot while the old connection still delivers (Coinbase, while a
 * connection is replaced). Each connection stamps its own messages, so the old connection's last rows may be
 * stamped after the snapshot: readers, who replay by time, apply them on top of it. That is right when they are
 * changes the snapshot does not hold yet (the new connection then sends them too), and wrong when the snapshot
 * holds them and later changes (a clock a little ahead, a lagging connection): the book would read valid with
 * levels set back.
 *
 * `RecentLevels` keeps the level changes a book's connection wrote lately; at a takeover, `TakeoverWatch` takes
 * those stamped after the snapshot and follows the new connection's updates: a change of the level stamped after
 * one settles it (readers apply it last). Once the new connection's time is well past them, readers end each
 * unsettled level with the old change's size: where the venue's book (the connector's) has another, the book in
 * the files has been wrong since that change.
 */
import type { LevelChange } from "./book-feed.js";
import type { LevelBook } from "./level-book.js";

/** Level changes kept per book: more than a connection delivers in the time a snapshot takes to arrive. */
const KEPT = 256;
/**
 * How far past an unsettled change the new connection's time must be before it is taken as held by the snapshot:
 * the new connection may stamp on a clock a little ahead, and send the copy of that change with a later time.
 */
const SETTLE_NS = 1_000_000_000n;

interface Change {
  ts: bigint;
  key: string;
  size: number;
}

/** A level's identity as readers have it (prices keyed as numbers). */
function levelKey(bid: boolean, price: number): string {
  return `${bid ? "bid" : "ask"} ${price}`;
}

/** The level changes a book's connection wrote lately, as numbers (no text kept: it would hold its frame). */
export class RecentLevels {
  private readonly ts: bigint[] = new Array(KEPT);
  private readonly bid = new Uint8Array(KEPT);
  private readonly price = new Float64Array(KEPT);
  private readonly size = new Float64Array(KEPT);
  private next = 0;
  private count = 0;

  add(ts: bigint, bids: readonly LevelChange[], asks: readonly LevelChange[]): void {
    this.keep(ts, bids, 1);
    this.keep(ts, asks, 0);
  }

  private keep(ts: bigint, levels: readonly LevelChange[], bid: number): void {
    for (const [price, size] of levels) {
      const i = this.next;
      this.ts[i] = ts;
      this.bid[i] = bid;
      this.price[i] = Number(price);
      this.size[i] = Number(size);
      this.next = (i + 1) % KEPT;
      if (this.count < KEPT) this.count++;
    }
  }

  /** The changes stamped after `ts`, oldest first, or null when some of them may have been dropped. */
  after(ts: bigint): Change[] | null {
    const out: Change[] = [];
    const first = (this.next - this.count + KEPT) % KEPT;
    if (this.count === KEPT && this.ts[first]! > ts) return null;
    for (let k = 0; k < this.count; k++) {
      const i = (first + k) % KEPT;
      if (this.ts[i]! > ts)
        out.push({ ts: this.ts[i]!, key: levelKey(this.bid[i] === 1, this.price[i]!), size: this.size[i]! });
    }
    return out;
  }
}

export class TakeoverWatch {
  private constructor(
    /** Per level, the old connection's last change stamped after the snapshot, until a later change settles it. */
    private readonly open: Map<string, { size: number; ts: bigint }>,
  ) {}

  /**
   * The watch of a takeover by a snapshot stamped `ts`, given the old connection's changes: null when none is
   * stamped after it, "unknown" when they cannot all be told (more than were kept).
   */
  static start(recent: RecentLevels, ts: bigint): TakeoverWatch | null | "unknown" {
    const later = recent.after(ts);
    if (later === null) return "unknown";
    // The last change of each level is the one a reader ends with.
    const last = new Map<string, { size: number; ts: bigint }>();
    for (const c of later) last.set(c.key, { size: c.size, ts: c.ts });
    return last.size === 0 ? null : new TakeoverWatch(last);
  }

  /**
   * Follows an update of the new connection, stamped `ts`, applied to `book`. A change of a level stamped after an
   * old change settles it (readers apply it last). Once the update is well past every unsettled change, each is
   * compared with the book: the time of the first one whose size differs (readers end with that size, the venue
   * has another) is returned, the time since which the book in the files is wrong; null otherwise.
   */
  update(
    ts: bigint,
    bids: readonly LevelChange[],
    asks: readonly LevelChange[],
    book: LevelBook,
  ): bigint | null {
    this.settle(ts, "bid", bids);
    this.settle(ts, "ask", asks);
    if (this.open.size === 0) return null;
    for (const o of this.open.values()) if (ts <= o.ts + SETTLE_NS) return null;
    return this.decide(book);
  }

  /**
   * Ends the watch: the time of the first unsettled change whose size differs from `book`'s (readers end that level
   * with it, the venue has another), the time since which the book in the files is wrong; null when there is none.
   */
  decide(book: LevelBook): bigint | null {
    const size = new Map<string, number>();
    for (const side of ["bid", "ask"] as const)
      for (const l of book.side(side).top(Number.POSITIVE_INFINITY))
        size.set(levelKey(side === "bid", Number(l.price)), Number(l.size));
    let wrong: bigint | null = null;
    for (const [key, o] of this.open)
      if (o.size !== (size.get(key) ?? 0) && (wrong === null || o.ts < wrong)) wrong = o.ts;
    this.open.clear();
    return wrong;
  }

  private settle(ts: bigint, side: "bid" | "ask", levels: readonly LevelChange[]): void {
    for (const [price] of levels) {
      const key = levelKey(side === "bid", Number(price));
      const o = this.open.get(key);
      if (o !== undefined && ts > o.ts) this.open.delete(key);
    }
  }

  get done(): boolean {
    return this.open.size === 0;
  }
}
