/**
 * Kraken spot WebSocket v2 (venue id `kraken`). Trades from `trade`, BBO from `ticker` (`event_trigger: "bbo"`),
 * the L2 book from `book` at a subscribed depth (25): a snapshot, then updates. Kraken's v2 book has no sequence
 * ids; its integrity is the CRC-32 `checksum` of each message, from Kraken's "book checksum" guide: the top 10
 * asks (lowest first) then the top 10 bids (highest first), each level as its price then its quantity with the
 * decimal point and leading zeros removed, concatenated; CRC-32 of that text, unsigned. Prices and quantities are
 * JSON numbers whose digits matter (`0.10000000`, `45281.0`): they are kept as sent. Kraken sends no delete for a
 * level pushed out of the subscribed depth, so after each update the book keeps only that depth, and the levels
 * it drops are written as deletions. A checksum mismatch resubscribes the book.
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
import {
  arrayOf,
  integerOf,
  integerTextOf,
  isoTimeOf,
  objectOf,
  plainDecimalOf,
  stringOf,
} from "../frame-fields.js";
import { type JsonObject, type JsonValue, parseJsonText } from "../json-text.js";
import type { TextLevel } from "../level-book.js";
import { CRC32_START, crc32End, crc32Level, LEVEL_PART } from "../level-crc32.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { StreamBookConnector } from "../stream-book-connector.js";
import type { VenueEntry } from "./index.js";

export const KRAKEN_URLS: VenueUrls = { ws: "wss://ws.kraken.com/v2", rest: "https://api.kraken.com" };

/** The depth subscribed (Kraken offers 10, 25, 100, 500, 1000). */
export const KRAKEN_BOOK_DEPTH = 25;
/** Levels a side that the checksum covers. */
const CHECKSUM_LEVELS = 10;
const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;

/** Kraken v2's book checksum over the levels as received (best first on each side). */
export function krakenChecksum(bids: readonly TextLevel[], asks: readonly TextLevel[]): number {
  let crc = CRC32_START;
  for (let i = 0; i < CHECKSUM_LEVELS && i < asks.length; i++)
    crc = crc32Level(crc, asks[i]!, LEVEL_PART.digits);
  for (let i = 0; i < CHECKSUM_LEVELS && i < bids.length; i++)
    crc = crc32Level(crc, bids[i]!, LEVEL_PART.digits);
  return crc32End(crc);
}

/** Kraken v2 levels: `{"price": number, "qty": number}`. */
function levelsOf(v: JsonValue | undefined, field: string): LevelChange[] {
  return arrayOf(v, field).map((item) => {
    const l = objectOf(item, field);
    return [plainDecimalOf(l.price, `${field}.price`), plainDecimalOf(l.qty, `${field}.qty`)];
  });
}

export class KrakenConnector extends StreamBookConnector implements Connector {
  readonly venue = "kraken";
  readonly sendsPerSecond = 5;
  /** Kraken sends a heartbeat every second while subscribed; `ping` is answered with `pong`. */
  readonly heartbeat: Heartbeat = {
    idleMs: 10_000,
    ping: '{"method":"ping"}',
    isPong: (t) => t.includes('"method":"pong"'),
    venueBeats: true,
  };
  private readonly recent = new RecentIdsByKey();
  /** The latest exchange time seen, for messages that carry none (tickers). */
  private lastTs = 0n;

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = KRAKEN_URLS,
  ) {
    super(selection.symbols);
  }

  connections(): ConnectionPlan[] {
    const symbol = [...this.selection.symbols];
    const subscribe: string[] = [];
    const sub = (params: Record<string, unknown>) =>
      subscribe.push(JSON.stringify({ method: "subscribe", params: { ...params, symbol } }));
    if (this.selection.book) sub({ channel: "book", depth: KRAKEN_BOOK_DEPTH, snapshot: true });
    if (this.selection.trades) sub({ channel: "trade", snapshot: false });
    if (this.selection.bbo) sub({ channel: "ticker", event_trigger: "bbo" });
    return [{ url: this.urls.ws, subscribe, symbols: symbol }];
  }

  private stamp(ts: bigint | null, recvNs: bigint | null): Stamp {
    if (ts !== null && ts > this.lastTs) this.lastTs = ts;
    return { ts: ts ?? recvNs ?? this.lastTs, recvNs };
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    const msg = objectOf(parseJsonText(text), "frame");
    if (msg.method !== undefined) return this.onReply(msg, recvNs, ctx);
    const channel = stringOf(msg.channel, "channel");
    if (channel === "book") return this.onBook(msg, recvNs, ctx);
    if (channel === "trade") {
      let symbol = "";
      for (const d of arrayOf(msg.data, "data"))
        symbol = this.onTrade(objectOf(d, "data[]"), recvNs, ctx) || symbol;
      return symbol;
    }
    if (channel === "ticker") {
      let symbol = "";
      for (const d of arrayOf(msg.data, "data"))
        symbol = this.onTicker(objectOf(d, "data[]"), recvNs, ctx) || symbol;
      return symbol;
    }
    // heartbeat, status
    ctx.counters.ignoredFrames++;
    return "";
  }

  /** Acknowledgements and pongs are skipped; a refused request is written down. */
  private onReply(msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    if (msg.success === false) {
      const detail = `Kraken refused ${typeof msg.method === "string" ? msg.method : "a request"}: ${typeof msg.error === "string" ? msg.error : ""}`;
      ctx.record(eventRecord("", "info", detail, this.stamp(null, recvNs)));
    } else ctx.counters.ignoredFrames++;
    return typeof msg.symbol === "string" && this.books.selected(msg.symbol) ? msg.symbol : "";
  }

  private onTrade(d: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    const symbol = stringOf(d.symbol, "symbol");
    if (!this.books.selected(symbol)) {
      // Not asked for: counted, its frame kept as a raw record (of no symbol when it names no other).
      ctx.counters.ignoredFrames++;
      return "";
    }
    const tradeId = integerTextOf(d.trade_id, "trade_id");
    if (this.recent.repeated("trade", symbol, tradeId, ctx.counters)) return symbol;
    const side = stringOf(d.side, "side");
    const rec: RecordInput = {
      kind: "trade",
      symbol,
      ts: this.stamp(isoTimeOf(d.timestamp, "timestamp"), recvNs).ts,
      price: plainDecimalOf(d.price, "price"),
      size: plainDecimalOf(d.qty, "qty"),
      // `side`: the taker's.
      side: side === "buy" ? "buy" : side === "sell" ? "sell" : "unknown",
      tradeId,
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
    return symbol;
  }

  private onTicker(d: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    const symbol = stringOf(d.symbol, "symbol");
    if (!this.books.selected(symbol)) {
      // Not asked for: counted, its frame kept as a raw record (of no symbol when it names no other).
      ctx.counters.ignoredFrames++;
      return "";
    }
    const rec: Extract<RecordInput, { kind: "bbo" }> = {
      kind: "bbo",
      symbol,
      ts: this.stamp(null, recvNs).ts,
      bidPrice: plainDecimalOf(d.bid, "bid"),
      bidSize: plainDecimalOf(d.bid_qty, "bid_qty"),
      askPrice: plainDecimalOf(d.ask, "ask"),
      askSize: plainDecimalOf(d.ask_qty, "ask_qty"),
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
    return symbol;
  }

  private onBook(msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    const type = stringOf(msg.type, "type");
    let symbol = "";
    for (const item of arrayOf(msg.data, "data")) {
      const d = objectOf(item, "data[]");
      const name = stringOf(d.symbol, "symbol");
      const feed = this.books.get(name);
      if (feed === undefined || (type !== "snapshot" && type !== "update")) {
        ctx.counters.ignoredFrames++;
        continue;
      }
      symbol = name;
      const at = this.stamp(d.timestamp === undefined ? null : isoTimeOf(d.timestamp, "timestamp"), recvNs);
      const checksum = integerOf(d.checksum, "checksum");
      const bids = levelsOf(d.bids, "bids");
      const asks = levelsOf(d.asks, "asks");
      if (type === "snapshot") feed.snapshot(ctx, bids, asks, null, at);
      else {
        if (!feed.synced) {
          ctx.counters.ignoredFrames++;
          if (feed.needsResync) this.resubscribe(feed, ctx, recvNs);
          continue;
        }
        if (!feed.update(ctx, bids, asks, null, at)) {
          this.resubscribe(feed, ctx, recvNs);
          continue;
        }
        this.keepDepth(feed, at, ctx);
      }
      ctx.counters.checksumsChecked++;
      const book = feed.book;
      const actual = krakenChecksum(book.bids.top(CHECKSUM_LEVELS), book.asks.top(CHECKSUM_LEVELS));
      if (BigInt(actual) !== checksum) {
        feed.lose(
          ctx,
          "checksum_failure",
          `checksum ${checksum} sent, ${actual} computed over the top ${CHECKSUM_LEVELS} levels`,
          null,
          at,
        );
        this.resubscribe(feed, ctx, recvNs);
      }
    }
    return symbol;
  }

  /** Drops (and writes as deletions) the levels past the subscribed depth: Kraken sends no delete for them. */
  private keepDepth(feed: BookFeed, at: Stamp, ctx: FeedContext): void {
    const book = feed.book;
    if (book.bids.length <= KRAKEN_BOOK_DEPTH && book.asks.length <= KRAKEN_BOOK_DEPTH) return;
    const beyond = (levels: readonly TextLevel[]): LevelChange[] =>
      levels.slice(KRAKEN_BOOK_DEPTH).map((l) => [l.price, "0"]);
    const bids = beyond(book.bids.top(Number.POSITIVE_INFINITY));
    const asks = beyond(book.asks.top(Number.POSITIVE_INFINITY));
    if (bids.length + asks.length > 0) feed.update(ctx, bids, asks, null, at);
  }

  /** A fresh snapshot: unsubscribe and subscribe the pair's book again. */
  protected resubscribe(feed: BookFeed, ctx: FeedContext, nowNs: bigint | null): void {
    if (!feed.mayRequest(nowNs, RESUBSCRIBE_MIN_GAP_NS)) return;
    const params = { channel: "book", symbol: [feed.symbol], depth: KRAKEN_BOOK_DEPTH };
    ctx.send(JSON.stringify({ method: "unsubscribe", params }));
    ctx.send(JSON.stringify({ method: "subscribe", params: { ...params, snapshot: true } }));
  }
}

export const VENUE: VenueEntry = {
  id: "kraken",
  urls: KRAKEN_URLS,
  example: "BTC/USD",
  create: (selection, urls) => new KrakenConnector(selection, urls),
};
