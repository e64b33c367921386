/**
 * One symbol's book as a connector keeps it: whether it is in sync with the venue, the last sequence id applied,
 * the levels (for checksums and the crossed-book check), and the `book` rows and `event`s that go to the file.
 * Connectors decide *when* a book is in sync (each venue has its own chain rule); this class makes the outcome
 * uniform: snapshot rows carry the snapshot flag, an update is written only while in sync, and every loss of sync
 * is one `event` with the sequence ids on both sides.
 */
import type { TapeValueError } from "../format/errors.js";
import type { EventType, RecordInput } from "../format/records.js";
import type { FeedContext } from "./connector.js";
import { LevelBook } from "./level-book.js";

/** A level as the venue sent it: price and new size, as decimal text ("0" deletes). */
export type LevelChange = readonly [price: string, size: string];

/** Why a book lost sync. */
export type SyncLoss = Extract<EventType, "gap" | "checksum_failure" | "crossed_book" | "disconnect">;

export interface Stamp {
  /** Exchange time, ns. */
  ts: bigint;
  /** Receive time, ns, when known. */
  recvNs: bigint | null;
}

export class BookFeed {
  readonly book = new LevelBook();
  /** True between a snapshot and the next loss of sync: only then are updates applied and written. */
  synced = false;
  /** The sequence id of the last snapshot or update applied (the venue's own id), null when none. */
  lastSeq: bigint | null = null;
  /** Exchange time of the last snapshot or update applied: the time of the book's current state. */
  lastTs: bigint | null = null;
  /** Receive time of the rows last written (with `lastTs`, where they sort for readers). */
  private lastRecvNs: bigint | null = null;
  /** The rows last written are a snapshot's (its own or a carried-over one): no update since. */
  private snapshotLast = false;
  /** A snapshot after a loss of sync is a resync (counted, and announced by a `resync` event). */
  private lost = false;
  /** When sync was last lost (the time of its event), null before. */
  lostAt: Stamp | null = null;
  /**
   * The ids of the updates (and snapshots) applied last, `RECENT_IDS` of them, in a ring: as numbers where exact (a
   * ring of bigints lived through young collections, which copied and promoted each), in `recentBig` otherwise.
   */
  private readonly recent = new Float64Array(RECENT_IDS).fill(Number.NaN);
  private recentBig: (bigint | null)[] | null = null;
  private recentNext = 0;
  /**
   * The ids the last snapshot holds that may still arrive: `after` < id <= `upTo`, `after` being the last id applied
   * before it (a new connection's snapshot, while the old one still delivers). Null `after`: a first snapshot, and
   * no message from before it arrives after it.
   */
  private covered: { after: bigint | null; upTo: bigint } | null = null;

  constructor(readonly symbol: string) {}

  /** Receive time of the last request for a fresh snapshot (REST or resubscription). */
  private requestedAt: bigint | null = null;
  /** Requests since an update was last applied in sync. */
  private requests = 0;

  /**
   * Whether a fresh snapshot may be asked for now. The first request after a good update goes at once; each
   * further one waits `minGapNs`, doubling up to a minute, until an update applies again — so a venue answering
   * with garbage, or a book failing its checksum on every snapshot, is not asked in a tight loop (venues ban
   * that). Without a receive time (offline ingest) asking is free.
   */
  mayRequest(nowNs: bigint | null, minGapNs: bigint): boolean {
    if (nowNs === null) return true;
    if (this.requestedAt !== null && this.requests > 0) {
      const gap = minGapNs * 2n ** BigInt(Math.min(this.requests - 1, 16));
      if (nowNs - this.requestedAt < (gap < 60_000_000_000n ? gap : 60_000_000_000n)) return false;
    }
    this.requestedAt = nowNs;
    this.requests++;
    return true;
  }

  /**
   * True while out of sync: after a loss, and before the first snapshot (an update before any snapshot means the
   * subscription's snapshot was missed). Asking again is paced by `mayRequest`.
   */
  get needsResync(): boolean {
    return !this.synced;
  }

  /** Replaces the book with a snapshot and writes its rows. */
  snapshot(
    ctx: FeedContext,
    bids: readonly LevelChange[],
    asks: readonly LevelChange[],
    seq: bigint | null,
    at: Stamp,
  ): void {
    if (
      this.synced &&
      this.snapshotLast &&
      this.lastTs === at.ts &&
      this.lastSeq === seq &&
      !this.holdsAll(bids, asks)
    ) {
      // Readers tell snapshots apart by (ts, seq) (docs/FORMAT.md §6.5.3): this one would continue the last one and
      // keep the levels it no longer has. The venue's book changed while no update reached us: a loss, stated
      // before the snapshot and sorting before it (its rows one ns later in receive time).
      this.lose(
        ctx,
        "gap",
        "the venue's book changed with no update between two snapshots of the same time",
        seq,
        at,
      );
      at = justAfter(at);
    }
    if (this.lost) {
      ctx.counters.resyncs++;
      this.event(
        ctx,
        "resync",
        `book resynchronised from a snapshot${seq === null ? "" : ` at ${seq}`}`,
        this.lastSeq,
        seq,
        at,
      );
      this.lost = false;
    }
    this.book.clear();
    this.apply(ctx, bids, asks, seq, at, true);
    if (bids.length === 0 && asks.length === 0) this.emitEmptySnapshot(ctx, seq, at);
    this.synced = true;
    // The ids it holds: after the last one applied before it, up to its own.
    this.covered = seq === null ? null : { after: this.lastSeq, upTo: seq };
    this.remember(seq);
    this.lastSeq = seq;
    this.lastTs = at.ts;
    this.lastRecvNs = at.recvNs;
    this.snapshotLast = true;
  }

  /** Whether every level of the book has its price among these (a reader keeping both would have these). */
  private holdsAll(bids: readonly LevelChange[], asks: readonly LevelChange[]): boolean {
    for (const [side, levels] of [
      ["bid", bids],
      ["ask", asks],
    ] as const) {
      const prices = new Set(levels.filter(([, size]) => Number(size) !== 0).map(([price]) => Number(price)));
      for (const l of this.book.side(side).top(Number.POSITIVE_INFINITY))
        if (!prices.has(Number(l.price))) return false;
    }
    return true;
  }

  /**
   * Whether an update of id `seq` (at or before `lastSeq`) is in the book already: one applied lately, or one the
   * last snapshot holds. An id lower than those is not a message seen again but a numbering that restarted (a reset
   * whose message was lost): the connector reports a gap instead of dropping the updates that follow.
   */
  holds(seq: bigint): boolean {
    if (isExact(seq) ? this.recent.includes(Number(seq)) : (this.recentBig?.includes(seq) ?? false))
      return true;
    const c = this.covered;
    return c !== null && seq <= c.upTo && c.after !== null && seq > c.after;
  }

  private remember(seq: bigint | null): void {
    if (seq === null) return;
    const i = this.recentNext;
    if (isExact(seq)) {
      this.recent[i] = Number(seq);
      if (this.recentBig !== null) this.recentBig[i] = null;
    } else {
      this.recent[i] = Number.NaN;
      this.recentBig ??= new Array<bigint | null>(RECENT_IDS).fill(null);
      this.recentBig[i] = seq;
    }
    this.recentNext = (i + 1) % RECENT_IDS;
  }

  /**
   * The time of a loss that no message dates (a closed connection, a resync the recorder asks for), noticed at
   * `recvNs`: on the venue's clock, which rows are stamped with and readers replay by (the recorder's own clock may
   * run ahead of it): the latest exchange time the feed received (`ctx.venueTime`), never before the book's last
   * row. Its event then sorts after every row written before it, and before the rows that follow (a fresh snapshot,
   * a new connection's), which the venue made later.
   */
  lossStamp(ctx: FeedContext, recvNs: bigint | null): Stamp {
    let ts = ctx.venueTime;
    if (this.lastTs !== null && this.lastTs > ts) ts = this.lastTs;
    return { ts: ts > 0n ? ts : (recvNs ?? 0n), recvNs };
  }

  /**
   * Applies an update that the connector found in sequence, and writes its rows. Readers replay rows by exchange
   * time: an update stamped before the book's last one (not a thing venues do) would be applied before updates it
   * follows, and the book read valid. The book loses sync instead (a `gap` right after its last row, received with
   * the update), and the update is not applied; the connector asks for a fresh snapshot.
   * Returns whether the update was applied.
   */
  update(
    ctx: FeedContext,
    bids: readonly LevelChange[],
    asks: readonly LevelChange[],
    seq: bigint | null,
    at: Stamp,
  ): boolean {
    if (this.lastTs !== null && at.ts < this.lastTs) {
      const why = `exchange time went back from ${this.lastTs} to ${at.ts} within the book's sequence`;
      this.lose(ctx, "gap", why, seq, at);
      return false;
    }
    // Rows sort by time, then receive time: an update applied after a snapshot of the same time that was placed
    // after a loss (Binance: buffered while it was fetched) must not sort before the snapshot.
    if (
      at.ts === this.lastTs &&
      at.recvNs !== null &&
      this.lastRecvNs !== null &&
      at.recvNs < this.lastRecvNs
    )
      at = { ts: at.ts, recvNs: this.lastRecvNs };
    this.apply(ctx, bids, asks, seq, at, false);
    if (seq !== null) this.lastSeq = seq;
    this.remember(seq);
    this.lastTs = at.ts;
    this.lastRecvNs = at.recvNs;
    this.snapshotLast = false;
    this.requests = 0;
    return true;
  }

  /**
   * Writes the book as it stands as snapshot rows (after an `info` event that says so), without changing it: at the
   * start of each hour's file (receive time `recvNs`), so that every file holds a book to start from.
   */
  carry(ctx: FeedContext, recvNs: bigint): void {
    if (!this.synced) return;
    // Stamped with the time of the state it holds, so that replay by exchange time puts it before what follows.
    const at: Stamp = { ts: this.lastTs ?? recvNs, recvNs };
    const seq = this.lastSeq === null ? "" : ` at sequence ${this.lastSeq}`;
    this.event(ctx, "info", `book carried over from the previous file${seq}`, this.lastSeq, null, at);
    const rows = (side: "bid" | "ask") => this.book.side(side).top(Number.POSITIVE_INFINITY);
    const bids = rows("bid").map((l): LevelChange => [l.price, l.size]);
    const asks = rows("ask").map((l): LevelChange => [l.price, l.size]);
    this.emitRows(ctx, "bid", bids, this.lastSeq, at, true);
    this.emitRows(ctx, "ask", asks, this.lastSeq, at, true);
    if (bids.length === 0 && asks.length === 0) this.emitEmptySnapshot(ctx, this.lastSeq, at);
    this.snapshotLast = true;
  }

  /**
   * A snapshot of an empty book, as one snapshot row of size 0 (docs/FORMAT.md §6.5.3): a new snapshot empties the
   * book and the size deletes nothing. Without a row, readers would keep the levels they had, as valid.
   */
  private emitEmptySnapshot(ctx: FeedContext, seq: bigint | null, at: Stamp): void {
    this.emitRows(ctx, "bid", [["0", "0"]], seq, at, true);
  }

  /** Marks the book out of sync and writes the event that says why; nothing is applied until a snapshot. */
  lose(ctx: FeedContext, type: SyncLoss, message: string, seqAfter: bigint | null, at: Stamp): void {
    // Never dated before the book's last rows: readers would hold the book valid over the loss until then.
    if (this.lastTs !== null && at.ts < this.lastTs) at = { ts: this.lastTs, recvNs: at.recvNs };
    this.markLost(ctx, type, message, seqAfter, at);
  }

  /**
   * A loss found after rows were written: the book in the files has been wrong since `at` (before its last rows).
   * Its `gap` is dated there, so that readers hold the book invalid from then on.
   */
  loseSince(ctx: FeedContext, message: string, at: Stamp): void {
    this.markLost(ctx, "gap", message, null, at);
  }

  private markLost(
    ctx: FeedContext,
    type: SyncLoss,
    message: string,
    seqAfter: bigint | null,
    at: Stamp,
  ): void {
    if (type === "gap") ctx.counters.gaps++;
    if (type === "checksum_failure") ctx.counters.checksumFailures++;
    if (type === "crossed_book") ctx.counters.crossed++;
    this.event(ctx, type, message, this.lastSeq, seqAfter, at);
    // A crossed book does not invalidate a book for readers (docs/FORMAT.md §6.5.3), but its updates are no longer
    // written: a gap says so, and keeps the files' book from reading as valid until the resync.
    if (type === "crossed_book")
      this.event(
        ctx,
        "gap",
        "updates not written until the book is resynchronised",
        this.lastSeq,
        seqAfter,
        at,
      );
    this.synced = false;
    this.lost = true;
    this.lostAt = at;
    // A new connection asks at once: the reconnect backoff already paces a venue that keeps dropping us.
    if (type === "disconnect") this.requests = 0;
  }

  private apply(
    ctx: FeedContext,
    bids: readonly LevelChange[],
    asks: readonly LevelChange[],
    seq: bigint | null,
    at: Stamp,
    snapshot: boolean,
  ): void {
    this.side(ctx, "bid", bids, seq, at, snapshot);
    this.side(ctx, "ask", asks, seq, at, snapshot);
  }

  private side(
    ctx: FeedContext,
    side: "bid" | "ask",
    levels: readonly LevelChange[],
    seq: bigint | null,
    at: Stamp,
    snapshot: boolean,
  ): void {
    const book = this.book.side(side);
    for (const [price, size] of levels) book.set(price, size);
    this.emitRows(ctx, side, levels, seq, at, snapshot);
  }

  private emitRows(
    ctx: FeedContext,
    side: "bid" | "ask",
    levels: readonly LevelChange[],
    seq: bigint | null,
    at: Stamp,
    snapshot: boolean,
  ): void {
    for (const [price, size] of levels) {
      const rec: Extract<RecordInput, { kind: "book" }> = {
        kind: "book",
        symbol: this.symbol,
        ts: at.ts,
        side,
        price,
        size,
        snapshot,
      };
      if (at.recvNs !== null) rec.recvTs = at.recvNs;
      if (seq !== null) rec.seq = seq;
      ctx.record(rec);
    }
  }

  private event(
    ctx: FeedContext,
    type: EventType,
    message: string,
    seqBefore: bigint | null,
    seqAfter: bigint | null,
    at: Stamp,
  ): void {
    ctx.record(eventRecord(this.symbol, type, message, at, seqBefore, seqAfter));
  }
}

/**
 * Where a record sorts right after rows stamped `at` (readers order by exchange time, then receive time): one
 * nanosecond later in receive time; `at` itself without a receive time.
 */
export function justAfter(at: Stamp): Stamp {
  return at.recvNs === null ? at : { ts: at.ts, recvNs: at.recvNs + 1n };
}

/** An `event` record. */
export function eventRecord(
  symbol: string,
  type: EventType,
  message: string,
  at: Stamp,
  seqBefore: bigint | null = null,
  seqAfter: bigint | null = null,
): RecordInput {
  const rec: Extract<RecordInput, { kind: "event" }> = { kind: "event", symbol, ts: at.ts, type, message };
  if (at.recvNs !== null) rec.recvTs = at.recvNs;
  if (seqBefore !== null) rec.seqBefore = seqBefore;
  if (seqAfter !== null) rec.seqAfter = seqAfter;
  return rec;
}

/**
 * The `gap` events that state records the format refused (a value beyond its limits), for the writer of a feed and
 * for ingest. An event refused in turn is not stated again, which could go on without end: only counted.
 */
export class RefusalEvents {
  private readonly made = new WeakSet<RecordInput>();

  /** The event stating that `rec` was refused, at `at`; null when `rec` is itself such an event. */
  of(rec: RecordInput, err: TapeValueError, at: Stamp): RecordInput | null {
    if (this.made.has(rec)) return null;
    const symbol = JSON.stringify(rec.symbol).slice(0, 100);
    const event = eventRecord(
      "",
      "gap",
      `a ${rec.kind} record of ${symbol} not written: refused by the format (${err.message})`,
      at,
    );
    this.made.add(event);
    return event;
  }
}

/** Ids of applied updates remembered per book: enough for a venue repeating itself or two connections overlapping. */
const RECENT_IDS = 1024;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** An id a double holds exactly. */
function isExact(id: bigint): boolean {
  return id <= MAX_EXACT && id >= -MAX_EXACT;
}
