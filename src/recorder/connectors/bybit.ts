/**
 * Bybit v5 public streams (venue id `bybit`; USDT perpetuals by default, spot with the `/v5/public/spot` URL).
 * Trades from `publicTrade.<sym>`, BBO from `orderbook.1.<sym>`, the L2 book from `orderbook.50.<sym>`: a
 * `snapshot` message on subscription, then `delta` messages. Integrity, from Bybit's docs: `u` (update id) counts
 * the topic's messages one by one, so each delta's `u` is the previous `u + 1`; a `snapshot`, or a message with
 * `u == 1` (the service restarted), replaces the book. On a gap the book topic is unsubscribed and subscribed
 * again, and the snapshot that follows resynchronises it. Sizes of `"0"` delete a level.
 */
import type { RecordInput } from "../../format/records.js";
import { type BookFeed, eventRecord, type Stamp } from "../book-feed.js";
import type {
  ConnectionPlan,
  Connector,
  FeedContext,
  FeedSelection,
  Heartbeat,
  VenueUrls,
} from "../connector.js";
import {
  arrayOf,
  decimalOf,
  integerOf,
  levelPairsOf,
  millisOf,
  objectOf,
  stringOf,
} from "../frame-fields.js";
import { type JsonObject, parseJsonText } from "../json-text.js";
import { LevelBook } from "../level-book.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { StreamBookConnector } from "../stream-book-connector.js";
import type { VenueEntry } from "./index.js";

export const BYBIT_URLS: VenueUrls = {
  ws: "wss://stream.bybit.com/v5/public/linear",
  rest: "https://api.bybit.com",
};

/** The depth of the book topic recorded. */
export const BYBIT_BOOK_DEPTH = 50;
/** Topics per subscribe request (Bybit's limit for spot; linear allows more). */
const ARGS_PER_MESSAGE = 10;
/** Resubscriptions back off from 2 s (Bybit limits connection and subscription rates). */
const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;

export class BybitConnector extends StreamBookConnector implements Connector {
  readonly venue = "bybit";
  readonly sendsPerSecond = 5;
  /** Bybit asks for a ping every 20 s; it answers `{"op":"ping","ret_msg":"pong",…}` (or `"op":"pong"`). */
  readonly heartbeat: Heartbeat = {
    idleMs: 20_000,
    ping: '{"op":"ping"}',
    isPong: (t) => t.includes('"ret_msg":"pong"') || t.includes('"op":"pong"'),
    venueBeats: false,
  };
  /** The top of each book from `orderbook.1`, for BBO records. */
  private readonly tops = new Map<string, LevelBook>();
  /** Trade ids seen lately: what arrives twice is dropped. */
  private readonly recent = new RecentIdsByKey();

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = BYBIT_URLS,
  ) {
    super(selection.symbols);
  }

  connections(): ConnectionPlan[] {
    const topics: string[] = [];
    for (const s of this.selection.symbols) {
      if (this.selection.trades) topics.push(`publicTrade.${s}`);
      if (this.selection.book) topics.push(`orderbook.${BYBIT_BOOK_DEPTH}.${s}`);
      if (this.selection.bbo) topics.push(`orderbook.1.${s}`);
    }
    const subscribe: string[] = [];
    for (let i = 0; i < topics.length; i += ARGS_PER_MESSAGE) {
      subscribe.push(JSON.stringify({ op: "subscribe", args: topics.slice(i, i + ARGS_PER_MESSAGE) }));
    }
    return [{ url: this.urls.ws, subscribe, symbols: [...this.selection.symbols] }];
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    const msg = objectOf(parseJsonText(text), "frame");
    if (msg.op !== undefined) return this.onReply(msg, recvNs, ctx);
    const topic = stringOf(msg.topic, "topic");
    const [channel = "", a = "", b] = topic.split(".");
    const symbol = b ?? a;
    if (!this.books.selected(symbol)) {
      // Not asked for: counted, its frame kept as a raw record of no symbol.
      ctx.counters.ignoredFrames++;
      return "";
    }
    if (channel === "publicTrade") {
      for (const d of arrayOf(msg.data, "data")) this.onTrade(objectOf(d, "data[]"), recvNs, ctx);
    } else if (channel === "orderbook" && a === String(BYBIT_BOOK_DEPTH))
      this.onBook(symbol, msg, recvNs, ctx);
    else if (channel === "orderbook" && a === "1") this.onTop(symbol, msg, recvNs, ctx);
    else ctx.counters.ignoredFrames++;
    return symbol;
  }

  /** Answers to our requests: acknowledgements are skipped, a refusal is written down. */
  private onReply(msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    if (msg.success === false) {
      const detail = `Bybit refused ${typeof msg.op === "string" ? msg.op : "a request"}: ${typeof msg.ret_msg === "string" ? msg.ret_msg : ""}`;
      ctx.record(eventRecord("", "info", detail, { ts: recvNs ?? 0n, recvNs }));
    } else ctx.counters.ignoredFrames++;
    return "";
  }

  private onTrade(d: JsonObject, recvNs: bigint | null, ctx: FeedContext): void {
    const symbol = stringOf(d.s, "s");
    if (!this.books.selected(symbol)) {
      ctx.counters.ignoredFrames++;
      return;
    }
    const tradeId = stringOf(d.i, "i");
    if (this.recent.repeated("publicTrade", symbol, tradeId, ctx.counters)) return;
    const side = stringOf(d.S, "S");
    const rec: RecordInput = {
      kind: "trade",
      symbol,
      ts: millisOf(d.T, "T"),
      price: decimalOf(d.p, "p"),
      size: decimalOf(d.v, "v"),
      // `S`: the taker's side.
      side: side === "Buy" ? "buy" : side === "Sell" ? "sell" : "unknown",
      tradeId,
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  /** The exchange time of a book message: the matching engine's (`cts`) when given, else the push time. */
  private stampOf(msg: JsonObject, recvNs: bigint | null): Stamp {
    return {
      ts: millisOf(msg.cts !== undefined ? msg.cts : msg.ts, msg.cts !== undefined ? "cts" : "ts"),
      recvNs,
    };
  }

  private onBook(symbol: string, msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): void {
    const feed = this.books.get(symbol);
    const type = stringOf(msg.type, "type");
    if (feed === undefined || (type !== "snapshot" && type !== "delta")) {
      ctx.counters.ignoredFrames++;
      return;
    }
    const d = objectOf(msg.data, "data");
    const u = integerOf(d.u, "data.u");
    const at = this.stampOf(msg, recvNs);
    const bids = levelPairsOf(d.b, "data.b");
    const asks = levelPairsOf(d.a, "data.a");
    if (type === "snapshot" || u === 1n) {
      feed.snapshot(ctx, bids, asks, u, at);
      return;
    }
    if (!feed.synced) {
      // Deltas of a book out of sync are not applied; if the resubscription was held back, ask now.
      ctx.counters.ignoredFrames++;
      if (feed.needsResync) this.resubscribe(feed, ctx, recvNs);
      return;
    }
    const last = feed.lastSeq ?? 0n;
    if (u <= last && feed.holds(u)) {
      ctx.counters.duplicates++;
      return;
    }
    if (u !== last + 1n) {
      const what =
        u > last ? `updates ${last + 1n}..${u - 1n} missing` : "the numbering went back (a reset missed)";
      feed.lose(ctx, "gap", `update ${u} after ${last}: ${what}`, u, at);
      this.resubscribe(feed, ctx, recvNs);
      return;
    }
    if (!feed.update(ctx, bids, asks, u, at)) this.resubscribe(feed, ctx, recvNs);
    else if (feed.book.crossed()) {
      feed.lose(ctx, "crossed_book", `best bid at or above best ask after update ${u}`, u, at);
      this.resubscribe(feed, ctx, recvNs);
    }
  }

  /** `orderbook.1`: the best bid and ask, as a BBO record after each message. */
  private onTop(symbol: string, msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): void {
    if (this.books.get(symbol) === undefined) {
      ctx.counters.ignoredFrames++;
      return;
    }
    let top = this.tops.get(symbol);
    if (top === undefined) {
      top = new LevelBook();
      this.tops.set(symbol, top);
    }
    const d = objectOf(msg.data, "data");
    if (msg.type === "snapshot") top.clear();
    for (const [price, size] of levelPairsOf(d.b, "data.b")) top.side("bid").set(price, size);
    for (const [price, size] of levelPairsOf(d.a, "data.a")) top.side("ask").set(price, size);
    // Depth 1 is pushed as snapshots only: a delta (not in Bybit's docs) must not grow the copy beyond its depth.
    top.bids.truncate(1);
    top.asks.truncate(1);
    const rec: Extract<RecordInput, { kind: "bbo" }> = {
      kind: "bbo",
      symbol,
      ts: this.stampOf(msg, recvNs).ts,
    };
    const bid = top.bids.top(1)[0];
    const ask = top.asks.top(1)[0];
    if (bid !== undefined) [rec.bidPrice, rec.bidSize] = [bid.price, bid.size];
    if (ask !== undefined) [rec.askPrice, rec.askSize] = [ask.price, ask.size];
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  /** A fresh snapshot: unsubscribe and subscribe the symbol's book topic again. */
  protected resubscribe(feed: BookFeed, ctx: FeedContext, nowNs: bigint | null): void {
    if (!feed.mayRequest(nowNs, RESUBSCRIBE_MIN_GAP_NS)) return;
    const args = [`orderbook.${BYBIT_BOOK_DEPTH}.${feed.symbol}`];
    ctx.send(JSON.stringify({ op: "unsubscribe", args }));
    ctx.send(JSON.stringify({ op: "subscribe", args }));
  }
}

export const VENUE: VenueEntry = {
  id: "bybit",
  urls: BYBIT_URLS,
  example: "BTCUSDT",
  create: (selection, urls) => new BybitConnector(selection, urls),
};
