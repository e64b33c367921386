/**
 * Coinbase Advanced Trade market data (venue id `coinbase`). Trades from `market_trades`, BBO from `ticker`, the L2
 * book from `level2` (`l2_data`: a snapshot event, then update events whose levels carry the new quantity), and the
 * `heartbeats` channel, which keeps a connection of quiet products alive. Integrity, from Coinbase's docs: every
 * message of a connection carries `sequence_num`, counting the connection's messages from 0; a jump means
 * messages were lost, and since any of them may have been a book update, every book of the connection loses sync
 * and `level2` is subscribed again for a fresh snapshot. A number seen again is a duplicate and is dropped.
 */
import type { RecordInput } from "../../format/records.js";
import { type BookFeed, eventRecord, type LevelChange, type Stamp } from "../book-feed.js";
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
import { RecentIdsByKey } from "../recent-ids.js";
import { StreamBookConnector } from "../stream-book-connector.js";
import type { VenueEntry } from "./index.js";

export const COINBASE_URLS: VenueUrls = {
  ws: "wss://advanced-trade-ws.coinbase.com",
  rest: "https://api.coinbase.com",
};

const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;

export class CoinbaseConnector extends StreamBookConnector implements Connector {
  readonly venue = "coinbase";
  readonly sendsPerSecond = 5;
  /** The `heartbeats` channel sends a message every second; silence means a dead connection. */
  readonly heartbeat: Heartbeat = { idleMs: 5_000, ping: null, isPong: () => false };
  private readonly recent = new RecentIdsByKey();
  /** The connection's last `sequence_num`; null before its first message. */
  private lastSequence: bigint | null = null;

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

  override onOpen(): void {
    // A new connection counts its messages from 0 again.
    this.lastSequence = null;
  }

  override resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void {
    this.loseAll(reason, null, this.lossStamp(recvNs), ctx);
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
    let last = this.lastSequence;
    if (n === 0n && last !== null) {
      // Numbering restarts only on a new connection (a recording read offline has no other sign of one).
      this.loseAll("a new connection: its messages are numbered from 0 again", null, at, ctx);
      last = null;
    }
    if (last !== null && n <= last) {
      ctx.counters.duplicates++;
      return "";
    }
    this.lastSequence = n;
    if (last !== null && n !== last + 1n) {
      this.loseAll(`messages ${last + 1n}..${n - 1n} of the connection missing`, n, at, ctx);
    }
    const events = arrayOf(msg.events, "events");
    let product = "";
    if (channel === "l2_data")
      for (const e of events) product = this.onBook(objectOf(e, "events[]"), at, ctx);
    else if (channel === "market_trades")
      for (const e of events) product = this.onTrades(objectOf(e, "events[]"), recvNs, ctx);
    else if (channel === "ticker")
      for (const e of events) product = this.onTicker(objectOf(e, "events[]"), at, ctx);
    else ctx.counters.ignoredFrames++; // heartbeats, subscriptions
    return product;
  }

  /** One book's fresh snapshot: `level2` subscribed again for its product. */
  protected resubscribe(feed: BookFeed, ctx: FeedContext, nowNs: bigint | null): void {
    if (!feed.mayRequest(nowNs, RESUBSCRIBE_MIN_GAP_NS)) return;
    const product_ids = [feed.symbol];
    ctx.send(JSON.stringify({ type: "unsubscribe", product_ids, channel: "level2" }));
    ctx.send(JSON.stringify({ type: "subscribe", product_ids, channel: "level2" }));
  }

  /** Every book in sync loses it (one event each), and `level2` is subscribed again for them, in one request. */
  private loseAll(reason: string, seqAfter: bigint | null, at: Stamp, ctx: FeedContext): void {
    const lost: string[] = [];
    for (const feed of this.books.values()) {
      if (!feed.synced) continue;
      feed.lose(ctx, "gap", reason, seqAfter, at);
      if (feed.mayRequest(at.recvNs, RESUBSCRIBE_MIN_GAP_NS)) lost.push(feed.symbol);
    }
    if (lost.length === 0) return;
    ctx.send(JSON.stringify({ type: "unsubscribe", product_ids: lost, channel: "level2" }));
    ctx.send(JSON.stringify({ type: "subscribe", product_ids: lost, channel: "level2" }));
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
    if (type === "snapshot") feed.snapshot(ctx, bids, asks, null, at);
    else if (feed.synced) {
      feed.update(ctx, bids, asks, null, at);
      if (feed.book.crossed()) {
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
      const rec: Extract<RecordInput, { kind: "bbo" }> = {
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
      if (at.recvNs !== null) rec.recvTs = at.recvNs;
      ctx.record(rec);
    }
    return product;
  }
}

export const VENUE: VenueEntry = {
  id: "coinbase",
  urls: COINBASE_URLS,
  example: "BTC-USD",
  create: (selection, urls) => new CoinbaseConnector(selection, urls),
};
