/**
 * Coinbase Advanced Trade market data (venue id `coinbase`). Trades from `market_trades`, BBO from `ticker`, the L2
 * book from `level2` (`l2_data`: a snapshot event, then update events whose levels carry the new quantity), and the
 * `heartbeats` channel, which keeps a connection of quiet products alive. Integrity, from Coinbase's docs: every
 * message of a connection carries `sequence_num`, counting the connection's messages from 0; a jump means
 * messages were lost, and since any of them may have been a book update, every book of the connection loses sync
 * and `level2` is subscribed again for a fresh snapshot. A number seen again is a duplicate and is dropped.
 */
import { parseTime } from "../../common/time.js";
import type { RecordInput } from "../../format/records.js";
import { BookFeed, eventRecord, type LevelChange, type Stamp } from "../book-feed.js";
import type {
  ConnectionPlan,
  Connector,
  FeedContext,
  FeedSelection,
  Heartbeat,
  VenueUrls,
} from "../connector.js";
import { arrayOf, decimalOf, frameError, integerOf, objectOf, stringOf } from "../frame-fields.js";
import { type JsonObject, type JsonValue, parseJsonText } from "../json-text.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { SymbolStates } from "../symbol-states.js";
import type { VenueEntry } from "./index.js";

export const COINBASE_URLS: VenueUrls = {
  ws: "wss://advanced-trade-ws.coinbase.com",
  rest: "https://api.coinbase.com",
};

const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;

function timeOf(v: JsonValue | undefined, field: string): bigint {
  const text = stringOf(v, field);
  try {
    return parseTime(text);
  } catch {
    throw frameError(field, `expected an RFC 3339 time, got ${JSON.stringify(text)}`);
  }
}

class ProductState {
  readonly feed: BookFeed;
  constructor(product: string) {
    this.feed = new BookFeed(product);
  }
}

export class CoinbaseConnector implements Connector {
  readonly venue = "coinbase";
  readonly sendsPerSecond = 5;
  /** The `heartbeats` channel sends a message every second; silence means a dead connection. */
  readonly heartbeat: Heartbeat = { idleMs: 5_000, ping: null, isPong: () => false };
  private readonly states: SymbolStates<ProductState>;
  private readonly recent = new RecentIdsByKey();
  /** The connection's last `sequence_num`; null before its first message. */
  private lastSequence: bigint | null = null;

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = COINBASE_URLS,
  ) {
    this.states = new SymbolStates(selection.symbols, (s) => new ProductState(s));
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

  onOpen(): void {
    // A new connection counts its messages from 0 again.
    this.lastSequence = null;
  }

  onClose(plan: ConnectionPlan, recvNs: bigint | null, reason: string, ctx: FeedContext): void {
    for (const s of plan.symbols) {
      const st = this.states.known(s);
      if (st === undefined || !st.feed.synced) continue;
      st.feed.lose(ctx, "disconnect", `connection lost: ${reason}`, null, { ts: recvNs ?? 0n, recvNs });
    }
  }

  onRest(_path: string, _body: string, _recvNs: bigint | null, ctx: FeedContext): string {
    ctx.counters.ignoredFrames++;
    return "";
  }

  resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void {
    this.loseAll(reason, null, { ts: recvNs ?? 0n, recvNs }, ctx);
  }

  bookOf(product: string): BookFeed | undefined {
    return this.states.known(product)?.feed;
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    const msg = objectOf(parseJsonText(text), "frame");
    if (msg.type === "error") {
      const detail = `Coinbase error: ${typeof msg.message === "string" ? msg.message : ""}`;
      ctx.record(eventRecord("", "info", detail, { ts: recvNs ?? 0n, recvNs }));
      return "";
    }
    const channel = stringOf(msg.channel, "channel");
    const at: Stamp = { ts: timeOf(msg.timestamp, "timestamp"), recvNs };
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

  /** Every book in sync loses it (one event each), and `level2` is subscribed again for them. */
  private loseAll(reason: string, seqAfter: bigint | null, at: Stamp, ctx: FeedContext): void {
    const lost: string[] = [];
    for (const st of this.states.values()) {
      if (!st.feed.synced) continue;
      st.feed.lose(ctx, "gap", reason, seqAfter, at);
      if (st.feed.mayRequest(at.recvNs, RESUBSCRIBE_MIN_GAP_NS)) lost.push(st.feed.symbol);
    }
    if (lost.length === 0) return;
    ctx.send(JSON.stringify({ type: "unsubscribe", product_ids: lost, channel: "level2" }));
    ctx.send(JSON.stringify({ type: "subscribe", product_ids: lost, channel: "level2" }));
  }

  private onBook(e: JsonObject, at: Stamp, ctx: FeedContext): string {
    const product = stringOf(e.product_id, "product_id");
    const type = stringOf(e.type, "type");
    const st = this.states.get(product);
    if (st === undefined || (type !== "snapshot" && type !== "update")) {
      ctx.counters.ignoredFrames++;
      return product;
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
    if (type === "snapshot") st.feed.snapshot(ctx, bids, asks, null, at);
    else if (st.feed.synced) {
      st.feed.update(ctx, bids, asks, null, at);
      if (st.feed.book.crossed()) {
        st.feed.lose(ctx, "crossed_book", "best bid at or above best ask after an update", null, at);
        this.loseAll("crossed book", null, at, ctx);
      }
    } else ctx.counters.ignoredFrames++;
    return product;
  }

  private onTrades(e: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    let product = "";
    for (const item of arrayOf(e.trades, "trades")) {
      const t = objectOf(item, "trades[]");
      product = stringOf(t.product_id, "product_id");
      const tradeId = stringOf(t.trade_id, "trade_id");
      if (this.recent.repeated("market_trades", product, tradeId, ctx.counters)) continue;
      const side = stringOf(t.side, "side");
      const rec: RecordInput = {
        kind: "trade",
        symbol: product,
        ts: timeOf(t.time, "time"),
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
      product = stringOf(t.product_id, "product_id");
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
