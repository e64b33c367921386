/**
 * Coinbase Advanced Trade market data (venue id `coinbase`). Trades from `market_trades`, BBO from `ticker`, the L2
 * book from `level2` (`l2_data`: a snapshot event, then update events whose levels carry the new quantity), and the
 * `heartbeats` channel, which keeps a connection of quiet products alive. Integrity, from Coinbase's docs: every
 * message of a connection carries `sequence_num`, counting the connection's messages from 0; a jump means
 * messages were lost, and since any of them may have been a book update, every book of the connection loses sync
 * and `level2` is subscribed again for a fresh snapshot. A message received again (same number, same text) is a
 * duplicate and is dropped; a skipped number that comes late keeps only its trades; any other number at or below
 * the last means the numbering went back, a loss like a jump.
 *
 * While a connection is replaced, two are open and each counts its own messages. Level 2 updates carry no number of
 * their book, so a book takes its updates from one connection only: the one whose snapshot it was built from (the
 * new connection's snapshot takes the book over; the old one's updates are then copies, and its last changes stamped
 * after the snapshot are watched: takeover-watch.ts). Trades are told apart by id, quotes come from the newest
 * connection that sent the product's quote.
 */
import type { RecordInput } from "../../format/records.js";
import { type BookFeed, eventRecord, justAfter, type LevelChange, type Stamp } from "../book-feed.js";
import type {
  ConnectionPlan,
  Connector,
  FeedContext,
  FeedSelection,
  Heartbeat,
  VenueUrls,
} from "../connector.js";
import { arrayOf, decimalOf, frameError, integerOf, isoTimeOf, objectOf, stringOf } from "../frame-fields.js";
import { type JsonObject, parseJsonStrings } from "../json-text.js";
import { MessageNumbers } from "../message-numbers.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { StreamBookConnector } from "../stream-book-connector.js";
import { RecentLevels, TakeoverWatch } from "../takeover-watch.js";
import type { VenueEntry } from "./index.js";

export const COINBASE_URLS: VenueUrls = {
  ws: "wss://advanced-trade-ws.coinbase.com",
  rest: "https://api.coinbase.com",
};

const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;
/** Quotes remembered per product to drop the copies a replaced connection sent first. */
const RECENT_QUOTES = 32;

type Quote = Extract<RecordInput, { kind: "bbo" }>;

const REPLACED_CHANGE =
  "a change the replaced connection sent after the new connection's snapshot is not the venue's";

export class CoinbaseConnector extends StreamBookConnector implements Connector {
  readonly venue = "coinbase";
  readonly sendsPerSecond = 5;
  /** The `heartbeats` channel sends a message every second: silence (pongs aside) means a dead feed. */
  readonly heartbeat: Heartbeat = { idleMs: 5_000, ping: null, isPong: () => false, venueBeats: true };
  private readonly recent = new RecentIdsByKey();
  /** Each open connection's `sequence_num`s, by socket (the two newest sockets: an overlap has two). */
  private readonly numbers = new Map<number, MessageNumbers>();
  /** The socket whose snapshot each book was built from: its updates alone apply to the book. */
  private readonly bookSocket = new Map<string, number>();
  /** Each book's level changes written lately, and the takeover being watched (docs in takeover-watch.ts). */
  private readonly recentLevels = new Map<string, RecentLevels>();
  private readonly takeovers = new Map<string, TakeoverWatch>();
  /** The time of each book's last snapshot. */
  private readonly snapshotTs = new Map<string, bigint>();
  /** The newest socket that sent each product's quote: older ones send copies while they are replaced. */
  private readonly quoteSocket = new Map<string, number>();
  /** Each product's latest quotes recorded, oldest first: a replacing connection's first quotes are copies. */
  private readonly recentQuotes = new Map<string, Quote[]>();

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = COINBASE_URLS,
  ) {
    super(selection.symbols);
  }

  connections(): ConnectionPlan[] {
    const product_ids = [...this.selection.symbols];
    const sub = (channel: string) => JSON.stringify({ type: "subscribe", product_ids, channel });
    const subscribe = [JSON.stringify({ type: "subscribe", channel: "heartbeats" })];
    if (this.selection.book) subscribe.push(sub("level2"));
    if (this.selection.trades) subscribe.push(sub("market_trades"));
    if (this.selection.bbo) subscribe.push(sub("ticker"));
    return [{ url: this.urls.ws, subscribe, symbols: product_ids }];
  }

  override resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void {
    this.loseAll(reason, null, (feed) => feed.lossStamp(ctx, recvNs), ctx);
  }

  /**
   * The connection delivers no more (a drop, the recorder's stop): its takeovers still watched are decided now, a
   * change not yet settled counting as wrong (what would have settled it will not come; the books lose their sync
   * at the close anyway, so this costs no resync).
   */
  override onClose(plan: ConnectionPlan, recvNs: bigint | null, reason: string, ctx: FeedContext): void {
    for (const s of plan.symbols) {
      const feed = this.books.known(s);
      if (feed !== undefined) this.endTakeover(feed, recvNs, ctx, true);
    }
    super.onClose(plan, recvNs, reason, ctx);
  }

  /**
   * The hour's file is sealed next: a takeover still watched is decided now, its gap received in that hour, and a
   * change not yet settled counts as wrong (`decideUnsettled`: what shows it wrong may still be on its way; a gap
   * decided later would miss the sealed file). A false alarm costs a resync.
   */
  onHourEnd(hour: bigint, ctx: FeedContext): void {
    for (const product of [...this.takeovers.keys()]) {
      const feed = this.books.known(product)!;
      if (this.endTakeover(feed, hour - 1n, ctx, true)) this.resubscribe(feed, ctx, hour);
    }
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    const msg = objectOf(parseJsonStrings(text), "frame");
    if (msg.type === "error") {
      const detail = `Coinbase error: ${typeof msg.message === "string" ? msg.message : ""}`;
      ctx.record(eventRecord("", "info", detail, { ts: recvNs ?? 0n, recvNs }));
      return "";
    }
    const channel = stringOf(msg.channel, "channel");
    const at: Stamp = { ts: isoTimeOf(msg.timestamp, "timestamp"), recvNs };
    const n = integerOf(msg.sequence_num, "sequence_num");
    const place = this.inSequence(n, text, at, ctx);
    if (place === "repeat") return "";
    const events = arrayOf(msg.events, "events");
    let product = "";
    if (place === "late") {
      // A message that comes after those that followed it: its book updates cannot apply (the books lost sync at
      // the gap it left) and its quotes are stale, but its trades are as good as ever (told apart by id).
      if (channel === "market_trades")
        for (const e of events) product = this.onTrades(objectOf(e, "events[]"), recvNs, ctx);
      else ctx.counters.duplicates++;
      return product;
    }
    if (channel === "l2_data")
      for (const e of events) product = this.onBook(objectOf(e, "events[]"), at, ctx);
    else if (channel === "market_trades")
      for (const e of events) product = this.onTrades(objectOf(e, "events[]"), recvNs, ctx);
    else if (channel === "ticker")
      for (const e of events) product = this.onTicker(objectOf(e, "events[]"), at, ctx);
    else ctx.counters.ignoredFrames++; // heartbeats, subscriptions
    if (this.takeovers.size > 0) this.settleTakeovers(at, ctx);
    return product;
  }

  /**
   * Follows the numbering of the frame's connection: "repeat" for a message received again, "late" for one whose
   * number was skipped (its loss was stated by the gap it left), else "next". A connection met for the first time
   * (a replacement) starts its own numbering; only the two newest connections are remembered.
   */
  private inSequence(n: bigint, text: string, at: Stamp, ctx: FeedContext): "next" | "repeat" | "late" {
    const socket = ctx.socket;
    let numbers = this.numbers.get(socket);
    if (numbers === undefined) {
      numbers = new MessageNumbers();
      this.numbers.set(socket, numbers);
      // The two highest sockets: a retiring one may deliver after its successor was met.
      if (this.numbers.size > 2) this.numbers.delete(Math.min(...this.numbers.keys()));
    }
    let last = numbers.last;
    if (last !== null && n <= last) {
      const behind = numbers.behind(n, text);
      if (behind === "repeat") ctx.counters.duplicates++;
      if (behind !== "back") return behind;
      // Numbering restarts only on a new connection (a recording read offline has no other sign of one).
      const why =
        n === 0n
          ? "a new connection: its messages are numbered from 0 again"
          : `the connection's messages went back from ${last} to ${n}`;
      this.loseAll(why, n === 0n ? null : n, at, ctx, socket);
      last = null;
    }
    numbers.follow(n, text);
    if (last !== null && n !== last + 1n) {
      const missing = `messages ${last + 1n}..${n - 1n} of the connection missing`;
      const lost = this.loseAll(missing, n, at, ctx, socket);
      this.missingTrades(missing, lost, n, at, ctx);
    }
    return "next";
  }

  /**
   * Any message lost may have held trades or quotes: said by a `gap` event for each product whose book did not just
   * say it (books in sync lose it; a book another connection keeps is not touched, and neither are its trades,
   * which that connection delivers).
   */
  private missingTrades(
    missing: string,
    said: ReadonlySet<string>,
    n: bigint,
    at: Stamp,
    ctx: FeedContext,
  ): void {
    if (!this.selection.trades && !this.selection.bbo) return;
    for (const feed of this.books.values()) {
      if (feed.synced || said.has(feed.symbol)) continue;
      ctx.counters.gaps++;
      ctx.record(
        eventRecord(feed.symbol, "gap", `${missing}: trades and quotes may be missing`, at, null, n),
      );
    }
  }

  /** One book's fresh snapshot: `level2` subscribed again for its product. */
  protected resubscribe(feed: BookFeed, ctx: FeedContext, nowNs: bigint | null): void {
    if (!feed.mayRequest(nowNs, RESUBSCRIBE_MIN_GAP_NS)) return;
    const product_ids = [feed.symbol];
    ctx.send(JSON.stringify({ type: "unsubscribe", product_ids, channel: "level2" }));
    ctx.send(JSON.stringify({ type: "subscribe", product_ids, channel: "level2" }));
  }

  /**
   * Every book in sync loses it (one event each, at `at` or at the time `at` gives for the book), and `level2` is
   * subscribed again for them, in one request; with `socket`, only the books whose updates come from that connection.
   * Returns the symbols of the books that lost sync.
   */
  private loseAll(
    reason: string,
    seqAfter: bigint | null,
    at: Stamp | ((feed: BookFeed) => Stamp),
    ctx: FeedContext,
    socket?: number,
  ): Set<string> {
    const lost = new Set<string>();
    const ask: string[] = [];
    for (const feed of this.books.values()) {
      if (!feed.synced || (socket !== undefined && this.bookSocket.get(feed.symbol) !== socket)) continue;
      const stamp = typeof at === "function" ? at(feed) : at;
      feed.lose(ctx, "gap", reason, seqAfter, stamp);
      lost.add(feed.symbol);
      if (feed.mayRequest(stamp.recvNs, RESUBSCRIBE_MIN_GAP_NS)) ask.push(feed.symbol);
    }
    if (ask.length > 0) {
      ctx.send(JSON.stringify({ type: "unsubscribe", product_ids: ask, channel: "level2" }));
      ctx.send(JSON.stringify({ type: "subscribe", product_ids: ask, channel: "level2" }));
    }
    return lost;
  }

  private onBook(e: JsonObject, at: Stamp, ctx: FeedContext): string {
    const product = stringOf(e.product_id, "product_id");
    const type = stringOf(e.type, "type");
    const feed = this.books.get(product);
    if (feed === undefined || (type !== "snapshot" && type !== "update")) {
      ctx.counters.ignoredFrames++;
      return feed === undefined ? "" : product;
    }
    const bids: LevelChange[] = [];
    const asks: LevelChange[] = [];
    for (const item of arrayOf(e.updates, "updates")) {
      const u = objectOf(item, "updates[]");
      const side = stringOf(u.side, "side");
      const level: LevelChange = [
        decimalOf(u.price_level, "price_level"),
        decimalOf(u.new_quantity, "new_quantity"),
      ];
      if (side === "bid") bids.push(level);
      else if (side === "offer" || side === "ask") asks.push(level);
      else throw frameError("side", `expected bid or offer, got ${JSON.stringify(side)}`);
    }
    const owner = this.bookSocket.get(product);
    if (type === "snapshot" && owner !== undefined && ctx.socket < owner) {
      // An older connection's snapshot (a resubscription it answers late): the book has moved to a newer one.
      ctx.counters.duplicates++;
    } else if (type === "snapshot") {
      const takeover = feed.synced && owner !== undefined && ctx.socket > owner;
      const before = this.snapshotTs.get(product);
      // A takeover still watched when the book is fetched again (it lost sync meanwhile): its last state decides.
      this.endTakeover(feed, at.recvNs, ctx);
      feed.snapshot(ctx, bids, asks, null, at);
      this.bookSocket.set(product, ctx.socket);
      this.snapshotTs.set(product, at.ts);
      if (takeover) this.watchTakeover(feed, at, before, ctx);
    } else if (feed.synced && owner !== undefined && ctx.socket < owner) {
      // The replaced connection's copy of what the book's own connection sends.
      ctx.counters.duplicates++;
    } else if (feed.synced && owner !== undefined && ctx.socket > owner) {
      // A newer connection's updates without its snapshot first: they cannot continue the book.
      feed.lose(ctx, "gap", `updates on socket ${ctx.socket} before its snapshot`, null, at);
      this.resubscribe(feed, ctx, at.recvNs);
    } else if (feed.synced) {
      if (!feed.update(ctx, bids, asks, null, at)) this.resubscribe(feed, ctx, at.recvNs);
      else if (this.followTakeover(feed, at, bids, asks, ctx)) this.resubscribe(feed, ctx, at.recvNs);
      else if (feed.book.crossed()) {
        // This book missed an update (the connection's numbering shows no gap): it alone is subscribed again.
        feed.lose(ctx, "crossed_book", "best bid at or above best ask after an update", null, at);
        this.resubscribe(feed, ctx, at.recvNs);
      }
    } else {
      // Updates of a book out of sync are not applied; if the resubscription was held back, ask now.
      ctx.counters.ignoredFrames++;
      if (feed.needsResync) this.resubscribe(feed, ctx, at.recvNs);
    }
    return product;
  }

  /** A newer connection's snapshot took the book over: the old connection's last changes are watched. */
  private watchTakeover(feed: BookFeed, at: Stamp, before: bigint | undefined, ctx: FeedContext): void {
    if (before !== undefined && before > at.ts) {
      // The old connection's last snapshot is stamped after this one: readers take the book back to it (an older
      // state, or a later one: it cannot be told), so the book is lost from its time on.
      const why = "a connection's snapshot took the book over from a snapshot stamped after it";
      feed.lose(ctx, "gap", why, null, { ts: before, recvNs: at.recvNs });
      this.resubscribe(feed, ctx, at.recvNs);
      return;
    }
    const recent = this.recentLevels.get(feed.symbol);
    const watch = recent === undefined ? null : TakeoverWatch.start(recent, at.ts, feed.book);
    if (watch === "unknown") {
      // Too many changes since the snapshot's time to tell: the book is taken as lost from the snapshot on.
      const why = "a connection's snapshot took the book over after more changes than are kept";
      feed.lose(ctx, "gap", why, null, justAfter(at));
      this.resubscribe(feed, ctx, at.recvNs);
    } else if (watch !== null) this.takeovers.set(feed.symbol, watch);
  }

  /**
   * Keeps an applied update's level changes and follows a takeover being watched. True when readers turned out to
   * hold a level at a change the old connection sent after the snapshot's time while the venue had another size:
   * the book in the files has been wrong since that change, and has lost sync.
   */
  private followTakeover(
    feed: BookFeed,
    at: Stamp,
    bids: readonly LevelChange[],
    asks: readonly LevelChange[],
    ctx: FeedContext,
  ): boolean {
    let recent = this.recentLevels.get(feed.symbol);
    if (recent === undefined) {
      recent = new RecentLevels();
      this.recentLevels.set(feed.symbol, recent);
    }
    recent.add(at.ts, bids, asks);
    const watch = this.takeovers.get(feed.symbol);
    if (watch === undefined) return false;
    const wrongSince = watch.update(at.ts, bids, asks);
    // A watch that found the book wrong is done too.
    if (watch.done) this.takeovers.delete(feed.symbol);
    if (wrongSince === null) return false;
    feed.loseSince(ctx, REPLACED_CHANGE, { ts: wrongSince, recvNs: at.recvNs });
    return true;
  }

  /**
   * Any message of a book's connection, not only an update of the book, shows how far that connection got (its
   * messages come in order): one stamped well past the watched changes decides the watch as an update would. A
   * quiet product sends no update, and its watch would stay open until its hour's file is sealed.
   */
  private settleTakeovers(at: Stamp, ctx: FeedContext): void {
    for (const [product, watch] of [...this.takeovers]) {
      if (this.bookSocket.get(product) !== ctx.socket) continue;
      const wrongSince = watch.update(at.ts, [], []);
      if (watch.done) this.takeovers.delete(product);
      if (wrongSince === null) continue;
      const feed = this.books.known(product)!;
      feed.loseSince(ctx, REPLACED_CHANGE, { ts: wrongSince, recvNs: at.recvNs });
      this.resubscribe(feed, ctx, at.recvNs);
    }
  }

  /**
   * Ends `feed`'s takeover watch, if any, on its state (with `unsettled`, changes not yet settled count as wrong): a
   * `gap` (received at `recvNs`) where the book in the files is wrong. Returns whether there was one.
   */
  private endTakeover(feed: BookFeed, recvNs: bigint | null, ctx: FeedContext, unsettled = false): boolean {
    const watch = this.takeovers.get(feed.symbol);
    const wrongSince = (unsettled ? watch?.decideUnsettled() : watch?.decide()) ?? null;
    this.takeovers.delete(feed.symbol);
    if (wrongSince === null) return false;
    feed.loseSince(ctx, REPLACED_CHANGE, { ts: wrongSince, recvNs });
    return true;
  }

  private onTrades(e: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    let product = "";
    for (const item of arrayOf(e.trades, "trades")) {
      const t = objectOf(item, "trades[]");
      const id = stringOf(t.product_id, "product_id");
      if (!this.books.selected(id)) {
        // Not asked for: counted, its frame kept as a raw record.
        ctx.counters.ignoredFrames++;
        continue;
      }
      product = id;
      const tradeId = stringOf(t.trade_id, "trade_id");
      if (this.recent.repeated("market_trades", product, tradeId, ctx.counters)) continue;
      const side = stringOf(t.side, "side");
      const rec: RecordInput = {
        kind: "trade",
        symbol: product,
        ts: isoTimeOf(t.time, "time"),
        price: decimalOf(t.price, "price"),
        size: decimalOf(t.size, "size"),
        // `side`: the taker's, as Coinbase reports it.
        side: side === "BUY" ? "buy" : side === "SELL" ? "sell" : "unknown",
        tradeId,
      };
      if (recvNs !== null) rec.recvTs = recvNs;
      ctx.record(rec);
    }
    return product;
  }

  private onTicker(e: JsonObject, at: Stamp, ctx: FeedContext): string {
    let product = "";
    for (const item of arrayOf(e.tickers, "tickers")) {
      const t = objectOf(item, "tickers[]");
      const id = stringOf(t.product_id, "product_id");
      if (!this.books.selected(id)) {
        ctx.counters.ignoredFrames++;
        continue;
      }
      product = id;
      const from = this.quoteSocket.get(id) ?? 0;
      if (ctx.socket < from) {
        ctx.counters.duplicates++;
        continue;
      }
      const rec: Quote = {
        kind: "bbo",
        symbol: product,
        ts: at.ts,
        bidPrice: decimalOf(t.best_bid, "best_bid"),
        askPrice: decimalOf(t.best_ask, "best_ask"),
      };
      if (t.best_bid_quantity !== undefined)
        rec.bidSize = decimalOf(t.best_bid_quantity, "best_bid_quantity");
      if (t.best_ask_quantity !== undefined)
        rec.askSize = decimalOf(t.best_ask_quantity, "best_ask_quantity");
      if (ctx.socket > from) this.quoteSocket.set(id, ctx.socket);
      if (this.recordedLately(rec)) {
        ctx.counters.duplicates++;
        continue;
      }
      if (at.recvNs !== null) rec.recvTs = at.recvNs;
      ctx.record(rec);
    }
    return product;
  }

  /**
   * Whether the quote is one recorded lately (a copy the replaced connection delivered first); remembers it if not.
   * Newest first, and no further back than the quote's time: usually one comparison.
   */
  private recordedLately(rec: Quote): boolean {
    let recent = this.recentQuotes.get(rec.symbol);
    if (recent === undefined) {
      recent = [];
      this.recentQuotes.set(rec.symbol, recent);
    }
    for (let i = recent.length - 1; i >= 0 && recent[i]!.ts >= rec.ts; i--)
      if (sameQuote(recent[i]!, rec)) return true;
    recent.push(rec);
    if (recent.length > RECENT_QUOTES) recent.shift();
    return false;
  }
}

function sameQuote(a: Quote, b: Quote): boolean {
  return (
    a.ts === b.ts &&
    a.bidPrice === b.bidPrice &&
    a.askPrice === b.askPrice &&
    a.bidSize === b.bidSize &&
    a.askSize === b.askSize
  );
}

export const VENUE: VenueEntry = {
  id: "coinbase",
  urls: COINBASE_URLS,
  example: "BTC-USD",
  create: (selection, urls) => new CoinbaseConnector(selection, urls),
};
