/**
 * Binance spot (venue id `binance`). Trades from `<sym>@trade` (and `aggTrade` in recordings made by other
 * tools), BBO from `<sym>@bookTicker`, the L2 book from `<sym>@depth@100ms` diffs continued from a REST snapshot
 * (`/api/v3/depth`). The sequence rule, from Binance's "how to manage a local order book":
 * buffer the stream while the snapshot is fetched; drop events with `u <= lastUpdateId`; the first applied event
 * has `U <= lastUpdateId + 1 <= u`; then each event's `U` is the previous `u + 1`. Anything else is a gap: an
 * `event`, a fresh snapshot, and nothing applied across it. Streams come through the combined endpoint
 * (`/stream?streams=…`), whose `{"stream","data"}` envelope is optional in recordings. Spot streams are asked for
 * their times in microseconds (`timeUnit=MICROSECOND`); times are read in either unit, so recordings made with
 * milliseconds read as they did.
 */
import type { RecordInput } from "../../format/records.js";
import { BookFeed, justAfter, type LevelChange, type Stamp } from "../book-feed.js";
import type {
  ConnectionPlan,
  Connector,
  FeedContext,
  FeedSelection,
  Heartbeat,
  VenueUrls,
} from "../connector.js";
import {
  booleanOf,
  decimalOf,
  frameError,
  integerOf,
  integerTextOf,
  levelPairsOf,
  objectOf,
  stringOf,
} from "../frame-fields.js";
import { isObject, type JsonObject, parseJsonText } from "../json-text.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { SymbolStates } from "../symbol-states.js";
import {
  BinanceFrameReader,
  binanceTimeOf,
  type ReadBookTicker,
  type ReadDepth,
  type ReadTrade,
} from "./binance-frame-reader.js";
import type { VenueEntry } from "./index.js";

export const BINANCE_URLS: VenueUrls = {
  ws: "wss://stream.binance.com:9443",
  rest: "https://api.binance.com",
};

/** Binance allows 1024 streams per connection. */
const STREAMS_PER_CONNECTION = 1024;
/** Updates kept while a snapshot is awaited; older ones are dropped (the snapshot is newer than them). */
const MAX_BUFFERED_UPDATES = 10_000;
export const BINANCE_SNAPSHOT_LIMIT = 5000;
/** A depth snapshot of 5000 levels costs 250 of the 6000 request weight a minute: at most one a second a symbol. */
const SNAPSHOT_MIN_GAP_NS = 1_000_000_000n;

export interface DepthUpdate {
  first: bigint;
  last: bigint;
  /** USD-M futures: the final id of the previous event (`pu`); null on spot. */
  prev: bigint | null;
  bids: LevelChange[];
  asks: LevelChange[];
  at: Stamp;
}

interface PendingSnapshot {
  bids: LevelChange[];
  asks: LevelChange[];
  lastUpdateId: bigint;
}

export class SymbolState {
  readonly feed: BookFeed;
  /** Updates received while no snapshot has been applied. */
  buffer: DepthUpdate[] = [];
  /** A snapshot has been requested and not yet received. */
  awaiting = false;
  /** The `lastUpdateId` of the snapshot applied last: stream events up to it are already in the book. */
  snapshotId = -1n;
  /** No update applied since the snapshot: the first one may straddle it (`U <= lastUpdateId + 1 <= u`). */
  fresh = false;
  /** The time of the last update received (stamps a snapshot that finds no update buffered). */
  lastAt: Stamp | null = null;
  /**
   * A snapshot with no exchange time that came before any update: applied (and its rows stamped) with the first
   * update, whose time is the first the rows can take and still sort before what follows them.
   */
  pending: PendingSnapshot | null = null;
  constructor(symbol: string) {
    this.feed = new BookFeed(symbol);
  }
}

export class BinanceConnector implements Connector {
  readonly venue: string = "binance";
  readonly sendsPerSecond = 5;
  readonly heartbeat: Heartbeat = { idleMs: 30_000, ping: null, isPong: () => false, venueBeats: false };
  /** The REST depth snapshot endpoint and its largest `limit`. */
  protected readonly depthPath: string = "/api/v3/depth";
  protected readonly snapshotLimit: number = BINANCE_SNAPSHOT_LIMIT;
  protected readonly states: SymbolStates<SymbolState>;
  /** The latest exchange time seen, for messages that carry none (bookTicker, REST snapshots). */
  private lastTs = 0n;
  /** Trade and quote ids seen lately, by stream: what arrives twice is dropped. */
  private readonly recent = new RecentIdsByKey();
  private readonly reader = new BinanceFrameReader();

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = BINANCE_URLS,
  ) {
    this.states = new SymbolStates(
      selection.symbols.map((s) => s.toUpperCase()),
      (s) => new SymbolState(s),
    );
  }

  connections(): ConnectionPlan[] {
    const streams: { stream: string; symbol: string }[] = [];
    for (const s of this.selection.symbols) {
      const lower = s.toLowerCase();
      if (this.selection.trades) streams.push({ stream: `${lower}@trade`, symbol: s.toUpperCase() });
      if (this.selection.book) streams.push({ stream: `${lower}@depth@100ms`, symbol: s.toUpperCase() });
      if (this.selection.bbo) streams.push({ stream: `${lower}@bookTicker`, symbol: s.toUpperCase() });
    }
    const plans: ConnectionPlan[] = [];
    for (let i = 0; i < streams.length; i += STREAMS_PER_CONNECTION) {
      const part = streams.slice(i, i + STREAMS_PER_CONNECTION);
      plans.push({
        url: `${this.urls.ws.replace(/\/+$/, "")}/stream?streams=${part.map((p) => p.stream).join("/")}${this.streamQuery()}`,
        subscribe: [],
        symbols: [...new Set(part.map((p) => p.symbol))],
      });
    }
    return plans;
  }

  onOpen(plan: ConnectionPlan, recvNs: bigint | null, ctx: FeedContext): void {
    if (!this.selection.book) return;
    for (const s of plan.symbols) {
      const st = this.states.get(s);
      if (st !== undefined && !st.feed.synced) this.requestSnapshot(st, ctx, recvNs);
    }
  }

  onClose(plan: ConnectionPlan, recvNs: bigint | null, reason: string, ctx: FeedContext): void {
    for (const s of plan.symbols) {
      const st = this.states.known(s);
      // A snapshot waiting for the stream's first update is of this connection's stream.
      if (st !== undefined) st.pending = null;
      if (st === undefined || !st.feed.synced) continue;
      st.feed.lose(ctx, "disconnect", `connection lost: ${reason}`, null, st.feed.lossStamp(ctx, recvNs));
      st.buffer = [];
      st.awaiting = false;
    }
  }

  /**
   * Asked of the streams after their names: spot sends its times in microseconds when asked, the default here (they
   * are read in either unit: `BINANCE_MICROS_FROM`).
   */
  protected streamQuery(): string {
    return this.selection.timeUnit === "millisecond" ? "" : "&timeUnit=MICROSECOND";
  }

  snapshotPath(symbol: string): string {
    return `${this.depthPath}?symbol=${symbol}&limit=${this.snapshotLimit}`;
  }

  protected requestSnapshot(st: SymbolState, ctx: FeedContext, nowNs: bigint | null): void {
    if (st.awaiting || !st.feed.mayRequest(nowNs, SNAPSHOT_MIN_GAP_NS)) return;
    st.awaiting = true;
    ctx.requestRest(this.snapshotPath(st.feed.symbol));
  }

  protected stamp(ts: bigint | null, recvNs: bigint | null): Stamp {
    if (ts !== null && ts > this.lastTs) this.lastTs = ts;
    return { ts: ts ?? recvNs ?? this.lastTs, recvNs };
  }

  resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void {
    for (const st of this.states.values()) {
      if (!st.feed.synced) continue;
      st.feed.lose(ctx, "gap", reason, null, st.feed.lossStamp(ctx, recvNs));
      st.buffer = [];
      this.requestSnapshot(st, ctx, recvNs);
    }
  }

  bookOf(symbol: string): BookFeed | undefined {
    // Binance names symbols in upper case; a configuration may not.
    return this.states.known(symbol.toUpperCase())?.feed;
  }

  *allBooks(): Iterable<BookFeed> {
    for (const st of this.states.values()) yield st.feed;
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    // Most frames are read straight from their text; the others (and every bad one) by the general parser.
    const read = this.reader.read(text);
    if (read !== null) {
      if (read.type === "depth") return this.depth(read, recvNs, ctx);
      if (!this.states.selected(read.symbol)) return this.ignored(ctx);
      return read.type === "trade" ? this.trade(read, recvNs, ctx) : this.bookTicker(read, recvNs, ctx);
    }
    const top = objectOf(parseJsonText(text), "frame");
    const msg = isObject(top.data) && typeof top.stream === "string" ? top.data : top;
    const e = msg.e;
    if (e === "depthUpdate") return this.onDepth(msg, recvNs, ctx);
    if (e === "trade" || e === "aggTrade") return this.onTrade(msg, recvNs, ctx);
    // Spot's bookTicker has no event type; the futures one says `bookTicker`.
    if (
      e === "bookTicker" ||
      (e === undefined && msg.u !== undefined && msg.b !== undefined && msg.A !== undefined)
    ) {
      return this.onBookTicker(msg, recvNs, ctx);
    }
    ctx.counters.ignoredFrames++;
    return typeof msg.s === "string" && this.states.selected(msg.s) ? msg.s : "";
  }

  /** A message of a symbol not asked for: counted, its frame kept as a raw record of no symbol. */
  private ignored(ctx: FeedContext): string {
    ctx.counters.ignoredFrames++;
    return "";
  }

  private onTrade(m: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    const symbol = stringOf(m.s, "s");
    if (!this.states.selected(symbol)) return this.ignored(ctx);
    const event = m.e === "aggTrade" ? "aggTrade" : "trade";
    const exchangeNs = binanceTimeOf(m.T, "T");
    const id = event === "aggTrade" ? integerTextOf(m.a, "a") : integerTextOf(m.t, "t");
    const price = decimalOf(m.p, "p");
    const size = decimalOf(m.q, "q");
    const buyerMaker = booleanOf(m.m, "m");
    return this.trade({ type: "trade", event, symbol, exchangeNs, id, price, size, buyerMaker }, recvNs, ctx);
  }

  private trade(t: ReadTrade, recvNs: bigint | null, ctx: FeedContext): string {
    const at = this.stamp(t.exchangeNs, recvNs);
    if (this.recent.repeated(t.event, t.symbol, t.id, ctx.counters)) return t.symbol;
    const rec: RecordInput = {
      kind: "trade",
      symbol: t.symbol,
      ts: at.ts,
      price: t.price,
      size: t.size,
      // `m`: the buyer is the maker, so the taker sold.
      side: t.buyerMaker ? "sell" : "buy",
      tradeId: t.id,
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
    return t.symbol;
  }

  private onBookTicker(m: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    const symbol = stringOf(m.s, "s");
    if (!this.states.selected(symbol)) return this.ignored(ctx);
    const updateId = integerTextOf(m.u, "u");
    const exchangeNs =
      m.T !== undefined ? binanceTimeOf(m.T, "T") : m.E !== undefined ? binanceTimeOf(m.E, "E") : null;
    const quote: ReadBookTicker = {
      type: "bookTicker",
      symbol,
      updateId,
      exchangeNs,
      bidPrice: decimalOf(m.b, "b"),
      bidSize: decimalOf(m.B, "B"),
      askPrice: decimalOf(m.a, "a"),
      askSize: decimalOf(m.A, "A"),
    };
    return this.bookTicker(quote, recvNs, ctx);
  }

  private bookTicker(q: ReadBookTicker, recvNs: bigint | null, ctx: FeedContext): string {
    if (this.recent.repeated("bookTicker", q.symbol, q.updateId, ctx.counters)) return q.symbol;
    const at = this.stamp(q.exchangeNs, recvNs);
    const rec: RecordInput = {
      kind: "bbo",
      symbol: q.symbol,
      ts: at.ts,
      bidPrice: q.bidPrice,
      bidSize: q.bidSize,
      askPrice: q.askPrice,
      askSize: q.askSize,
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
    return q.symbol;
  }

  private onDepth(m: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    const depth: ReadDepth = {
      type: "depth",
      symbol: stringOf(m.s, "s"),
      first: integerOf(m.U, "U"),
      last: integerOf(m.u, "u"),
      prev: m.pu === undefined ? null : integerOf(m.pu, "pu"),
      bids: levelPairsOf(m.b, "b"),
      asks: levelPairsOf(m.a, "a"),
      exchangeNs: binanceTimeOf(m.E, "E"),
    };
    return this.depth(depth, recvNs, ctx);
  }

  private depth(d: ReadDepth, recvNs: bigint | null, ctx: FeedContext): string {
    const update: DepthUpdate = {
      first: d.first,
      last: d.last,
      prev: d.prev,
      bids: d.bids,
      asks: d.asks,
      at: this.stamp(d.exchangeNs, recvNs),
    };
    if (update.first > update.last)
      throw frameError("U", `first update id ${update.first} after last ${update.last}`);
    const st = this.states.get(d.symbol);
    if (st === undefined) return this.ignored(ctx);
    st.lastAt = update.at;
    if (st.feed.synced) this.continueChain(st, update, ctx);
    else this.bufferUpdate(st, update, ctx);
    return d.symbol;
  }

  protected bufferUpdate(st: SymbolState, update: DepthUpdate, ctx: FeedContext): void {
    st.buffer.push(update);
    if (st.buffer.length > MAX_BUFFERED_UPDATES) st.buffer.shift();
    if (st.pending !== null) this.applySnapshot(st, st.pending, update.at, ctx, update.at.recvNs);
    else this.requestSnapshot(st, ctx, update.at.recvNs);
  }

  /** Applies an update to a book in sync, or records the gap it reveals. */
  protected continueChain(st: SymbolState, u: DepthUpdate, ctx: FeedContext): void {
    const last = st.feed.lastSeq ?? -1n;
    if (u.last <= last) {
      // Neither one seen lately nor one the snapshot holds: the numbering went back, and what follows would all be
      // dropped as seen.
      if (!st.fresh && !st.feed.holds(u.last)) {
        this.idsWentBack(st, u, last, ctx);
        return;
      }
      // At or before the snapshot: Binance says drop it. After: the stream sent it twice.
      if (u.last <= st.snapshotId) ctx.counters.ignoredFrames++;
      else ctx.counters.duplicates++;
      return;
    }
    // After the first update, ids follow on exactly: an overlap means the stream is not what it claims.
    if (st.fresh ? u.first > last + 1n : u.first !== last + 1n) {
      const what = u.first > last + 1n ? `ids ${last + 1n}..${u.first - 1n} missing` : "overlapping ids";
      st.feed.lose(ctx, "gap", `update ${u.first}..${u.last} after ${last}: ${what}`, u.first, u.at);
      this.bufferUpdate(st, u, ctx);
      return;
    }
    this.apply(st, u, ctx);
  }

  /** An update at or below the last id applied that is not one seen again: the numbering restarted lower. */
  protected idsWentBack(st: SymbolState, u: DepthUpdate, last: bigint, ctx: FeedContext): void {
    st.feed.lose(ctx, "gap", `update ${u.first}..${u.last} after ${last}: the ids went back`, u.first, u.at);
    this.bufferUpdate(st, u, ctx);
  }

  /** Applies an update found in sequence; a crossed book after it loses sync. */
  protected apply(st: SymbolState, u: DepthUpdate, ctx: FeedContext): void {
    if (!st.feed.update(ctx, u.bids, u.asks, u.last, u.at)) {
      this.requestSnapshot(st, ctx, u.at.recvNs);
      return;
    }
    st.fresh = false;
    if (st.feed.book.crossed()) {
      st.feed.lose(
        ctx,
        "crossed_book",
        `best bid at or above best ask after update ${u.first}..${u.last}`,
        u.last,
        u.at,
      );
      this.requestSnapshot(st, ctx, u.at.recvNs);
    }
  }

  onRest(path: string, body: string, recvNs: bigint | null, ctx: FeedContext): string {
    const query = new URLSearchParams(path.split("?")[1] ?? "");
    const symbol = (query.get("symbol") ?? "").toUpperCase();
    const st = this.states.get(symbol);
    if (!path.startsWith(this.depthPath) || st === undefined) {
      ctx.counters.ignoredFrames++;
      return st === undefined ? "" : symbol;
    }
    st.awaiting = false;
    if (st.feed.synced) {
      // The stream already continues an earlier snapshot; a second one adds nothing.
      ctx.counters.ignoredFrames++;
      return symbol;
    }
    const snap = objectOf(parseJsonText(body, "REST body"), "body");
    const pending: PendingSnapshot = {
      lastUpdateId: integerOf(snap.lastUpdateId, "lastUpdateId"),
      bids: levelPairsOf(snap.bids, "bids"),
      asks: levelPairsOf(snap.asks, "asks"),
    };
    const snapshotTs = snap.E !== undefined ? binanceTimeOf(snap.E, "E") : null;
    // No time to stamp its rows with yet (none of its own, no update received): they wait for the first update.
    if (snapshotTs === null && st.buffer.length === 0 && st.lastAt === null) st.pending = pending;
    else this.applySnapshot(st, pending, this.stamp(snapshotTs, recvNs), ctx, recvNs);
    return symbol;
  }

  /** Writes a snapshot's rows, then the buffered updates it does not hold. */
  private applySnapshot(
    st: SymbolState,
    snap: PendingSnapshot,
    own: Stamp,
    ctx: FeedContext,
    recvNs: bigint | null,
  ): void {
    const buffered = st.buffer;
    const at = this.snapshotStamp(st, buffered, snap.lastUpdateId, own);
    st.pending = null;
    st.feed.snapshot(ctx, snap.bids, snap.asks, snap.lastUpdateId, at);
    st.snapshotId = snap.lastUpdateId;
    st.fresh = true;
    st.buffer = [];
    this.continueBuffered(st, buffered, ctx, recvNs);
  }

  /**
   * The time a snapshot's rows are stamped with. Readers rebuild a book in exchange-time order, so the rows must
   * sort after the stream's updates the snapshot holds and before those applied after it. Neither the REST receive
   * time (a spot snapshot has no exchange time; the buffered updates were sent before it arrived) nor the
   * snapshot's own `E` does that. So: the time of the last buffered update it holds; else that of the first it does
   * not (its rows come first in the file), 1 ns earlier when a gap follows (its event must come after the rows);
   * else the last update received; else its own exchange time (USD-M; a spot snapshot that comes before any update
   * waits for the first, see `pending`). And after the event of the last loss of sync, which the rows end.
   */
  private snapshotStamp(
    st: SymbolState,
    buffered: readonly DepthUpdate[],
    lastUpdateId: bigint,
    own: Stamp,
  ): Stamp {
    let held: DepthUpdate | undefined;
    let at: Stamp | undefined;
    for (const u of buffered) {
      if (u.last > lastUpdateId) {
        if (held !== undefined) at = held.at;
        else at = u.first > lastUpdateId + 1n ? { ts: u.at.ts - 1n, recvNs: u.at.recvNs } : u.at;
        break;
      }
      held = u;
    }
    at ??= held?.at ?? st.lastAt ?? own;
    return afterLoss(at, st.feed.lostAt);
  }

  /**
   * After a snapshot: the buffered updates the stream sent while it was fetched, from the first that the snapshot
   * does not hold already; a gap when the stream had moved on past it.
   */
  protected continueBuffered(
    st: SymbolState,
    updates: readonly DepthUpdate[],
    ctx: FeedContext,
    recvNs: bigint | null,
  ): void {
    const lastUpdateId = st.snapshotId;
    const buffered = updates.filter((u) => u.last > lastUpdateId);
    const first = buffered[0];
    if (first !== undefined && first.first > lastUpdateId + 1n) {
      // The stream had moved on past what the snapshot holds: the updates between are lost.
      st.feed.lose(
        ctx,
        "gap",
        `snapshot ${lastUpdateId} is older than the buffered stream (first update ${first.first})`,
        first.first,
        first.at,
      );
      st.buffer = buffered;
      this.requestSnapshot(st, ctx, recvNs);
      return;
    }
    for (const u of buffered) {
      if (st.feed.synced) this.continueChain(st, u, ctx);
      else st.buffer.push(u);
    }
  }
}

export const VENUE: VenueEntry = {
  id: "binance",
  urls: BINANCE_URLS,
  example: "BTCUSDT",
  create: (selection, urls) => new BinanceConnector(selection, urls),
};

/** `at`, or just after `loss` when `at` would not sort after it (readers order by time, then receive time). */
function afterLoss(at: Stamp, loss: Stamp | null): Stamp {
  if (loss === null || at.ts > loss.ts) return at;
  if (at.ts === loss.ts && at.recvNs !== null && loss.recvNs !== null && at.recvNs > loss.recvNs) return at;
  return loss.recvNs === null ? { ts: loss.ts + 1n, recvNs: null } : justAfter(loss);
}
