/**
 * A book moving to a new connection's snapshot while the old connection still delivers (Coinbase, while a
 * connection is replaced). Each connection stamps its own messages, so the old connection's last rows may be
 * stamped after the snapshot: readers, who replay by time, apply them on top of it. That is right when they are
 * changes the snapshot does not hold yet (the new connection then sends them too), and wrong when the snapshot
 * holds them and later changes (a clock a little ahead, a lagging connection): the book would read valid with
 * levels set back.
 *
 * `RecentLevels` keeps the level changes a book's connection wrote lately; at a takeover, `TakeoverWatch` takes
 * those stamped after the snapshot and follows the new connection's updates. Readers hold such a level at the old
 * change's size from its time until a change stamped after it: where the venue's size (the new connection's) was
 * another meanwhile, the book in the files has been wrong since the old change. The watch must be decided before the
 * hour's file it concerns is sealed (the connector: by the new connection's other messages too, at the hour's end,
 * and at the connection's close).
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

/** An old change stamped after the snapshot, and the level's size as the new connection has it meanwhile. */
interface Open {
  size: number;
  ts: bigint;
  truth: number;
}

export class TakeoverWatch {
  private constructor(
    /** Per level, the old connection's last change stamped after the snapshot, until a later change settles it. */
    private readonly open: Map<string, Open>,
    /** The latest time of the new connection seen: its snapshot's, then its updates' and other messages'. */
    private latest: bigint,
  ) {}

  /**
   * The watch of a takeover by a snapshot stamped `ts`, whose levels `book` holds, given the old connection's
   * changes: null when none is stamped after it, "unknown" when they cannot all be told (more than were kept).
   */
  static start(recent: RecentLevels, ts: bigint, book: LevelBook): TakeoverWatch | null | "unknown" {
    const later = recent.after(ts);
    if (later === null) return "unknown";
    if (later.length === 0) return null;
    const held = sizes(book);
    // The last change of each level is the one a reader ends with.
    const open = new Map<string, Open>();
    for (const c of later) open.set(c.key, { size: c.size, ts: c.ts, truth: held.get(c.key) ?? 0 });
    return new TakeoverWatch(open, ts);
  }

  /**
   * Follows an update of the new connection, stamped `ts`. Returns the time since which the book in the files is
   * wrong, or null. Readers hold each open level at the old change's size from its time until a change stamped
   * after it (which settles it): wrong when the venue's size meanwhile (the new connection's) was another, unless
   * that change is the old one's copy. Once the update is well past every open change, each is compared with the
   * venue's size as it stands.
   */
  update(ts: bigint, bids: readonly LevelChange[], asks: readonly LevelChange[]): bigint | null {
    if (ts > this.latest) this.latest = ts;
    let wrong = this.follow(ts, "bid", bids, null);
    wrong = this.follow(ts, "ask", asks, wrong);
    if (wrong !== null) {
      this.open.clear();
      return wrong;
    }
    if (this.open.size === 0) return null;
    for (const o of this.open.values()) if (ts <= o.ts + SETTLE_NS) return null;
    return this.decide();
  }

  /** Ends the watch: the time of the first open change whose size is not the venue's, or null. */
  decide(): bigint | null {
    let wrong: bigint | null = null;
    for (const o of this.open.values()) if (o.size !== o.truth) wrong = earliest(wrong, o.ts);
    this.open.clear();
    return wrong;
  }

  /**
   * Ends the watch before it is settled, as its hour's file is about to be sealed: a change the new connection is
   * not yet a second past counts as wrong as well, since an update of the new connection that shows it wrong (one
   * stamped before it) may still be on its way. A false alarm costs a resync; a book left wrong, a file that reads
   * valid and is not.
   */
  decideUnsettled(): bigint | null {
    let wrong: bigint | null = null;
    for (const o of this.open.values())
      if (o.size !== o.truth || this.latest <= o.ts + SETTLE_NS) wrong = earliest(wrong, o.ts);
    this.open.clear();
    return wrong;
  }

  private follow(
    ts: bigint,
    side: "bid" | "ask",
    levels: readonly LevelChange[],
    wrong: bigint | null,
  ): bigint | null {
    for (const [price, size] of levels) {
      const key = levelKey(side === "bid", Number(price));
      const o = this.open.get(key);
      if (o === undefined) continue;
      const v = Number(size);
      if (ts <= o.ts) o.truth = v;
      else {
        if (v !== o.size && o.truth !== o.size) wrong = earliest(wrong, o.ts);
        this.open.delete(key);
      }
    }
    return wrong;
  }

  get done(): boolean {
    return this.open.size === 0;
  }
}

function earliest(a: bigint | null, b: bigint): bigint {
  return a === null || b < a ? b : a;
}

/** A book's sizes by level key. */
function sizes(book: LevelBook): Map<string, number> {
  const out = new Map<string, number>();
  for (const side of ["bid", "ask"] as const)
    for (const l of book.side(side).top(Number.POSITIVE_INFINITY))
      out.set(levelKey(side === "bid", Number(l.price)), Number(l.size));
  return out;
}
