/**
 * Deribit v2 (venue id `deribit`), JSON-RPC over one WebSocket. Trades from `trades.<inst>.raw`, BBO from
 * `quote.<inst>` (and `ticker.<inst>.raw` in recordings), the L2 book from `book.<inst>.raw`: a `snapshot`
 * notification on subscription, then `change` notifications whose levels are `["new"|"change"|"delete", price,
 * amount]`. Integrity, from Deribit's docs: each change's `prev_change_id` is the `change_id` of the notification
 * before it; anything else is a gap, and the book channel is unsubscribed and subscribed again for a fresh
 * snapshot. Prices and amounts are JSON numbers: they are kept as the digits sent (exponents written out).
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
  frameError,
  integerOf,
  integerTextOf,
  millisOf,
  objectOf,
  plainDecimalOf,
  stringOf,
} from "../frame-fields.js";
import { JsonNumber, type JsonObject, type JsonValue, parseJsonText } from "../json-text.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { StreamBookConnector } from "../stream-book-connector.js";
import type { VenueEntry } from "./index.js";

export const DERIBIT_URLS: VenueUrls = {
  ws: "wss://www.deribit.com/ws/api/v2",
  rest: "https://www.deribit.com",
};

/** Channels per subscribe request. */
const CHANNELS_PER_MESSAGE = 100;
/** Resubscriptions back off from 2 s. */
const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;
/** Deribit levels: `["new"|"change"|"delete", price, amount]`; a delete removes the level whatever its amount. */
function levelsOf(v: JsonValue | undefined, field: string): LevelChange[] {
  const out: LevelChange[] = [];
  for (const level of arrayOf(v, field)) {
    const a = arrayOf(level, field);
    const action = stringOf(a[0], `${field}.action`);
    if (action !== "new" && action !== "change" && action !== "delete")
      throw frameError(`${field}.action`, `unknown level action ${JSON.stringify(action)}`);
    const price = plainDecimalOf(a[1], `${field}.price`);
    out.push([price, action === "delete" ? "0" : plainDecimalOf(a[2], `${field}.amount`)]);
  }
  return out;
}

export class DeribitConnector extends StreamBookConnector implements Connector {
  readonly venue = "deribit";
  readonly sendsPerSecond = 5;
  /** `public/test` answers with our id: it keeps the connection busy and proves it alive. */
  readonly heartbeat: Heartbeat = {
    idleMs: 15_000,
    ping: '{"jsonrpc":"2.0","id":"ping","method":"public/test","params":{}}',
    isPong: (t) => t.includes('"id":"ping"'),
    venueBeats: false,
  };
  private readonly recent = new RecentIdsByKey();
  private nextId = 1;

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = DERIBIT_URLS,
  ) {
    super(selection.symbols);
  }

  connections(): ConnectionPlan[] {
    const channels: string[] = [];
    for (const inst of this.selection.symbols) {
      if (this.selection.trades) channels.push(`trades.${inst}.raw`);
      if (this.selection.book) channels.push(`book.${inst}.raw`);
      if (this.selection.bbo) channels.push(`quote.${inst}`);
    }
    const subscribe: string[] = [];
    for (let i = 0; i < channels.length; i += CHANNELS_PER_MESSAGE) {
      subscribe.push(this.request("public/subscribe", channels.slice(i, i + CHANNELS_PER_MESSAGE)));
    }
    return [{ url: this.urls.ws, subscribe, symbols: [...this.selection.symbols] }];
  }

  private request(method: string, channels: string[]): string {
    return JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params: { channels } });
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    const msg = objectOf(parseJsonText(text), "frame");
    if (msg.method !== "subscription") return this.onReply(msg, recvNs, ctx);
    const params = objectOf(msg.params, "params");
    const channel = stringOf(params.channel, "params.channel");
    const [kind = "", inst = ""] = channel.split(".");
    if (!this.books.selected(inst)) {
      // Not asked for: counted, its frame kept as a raw record of no symbol.
      ctx.counters.ignoredFrames++;
      return "";
    }
    if (kind === "book") this.onBook(inst, objectOf(params.data, "params.data"), recvNs, ctx);
    else if (kind === "trades")
      for (const d of arrayOf(params.data, "params.data")) this.onTrade(objectOf(d, "data[]"), recvNs, ctx);
    else if (kind === "quote" || kind === "ticker")
      this.onQuote(objectOf(params.data, "params.data"), recvNs, ctx);
    else ctx.counters.ignoredFrames++;
    return inst;
  }

  /** Answers to our requests and heartbeats: results are skipped, an error is written down. */
  private onReply(msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    if (msg.error !== undefined) {
      const e = objectOf(msg.error, "error");
      const detail = `Deribit error ${e.code instanceof JsonNumber ? e.code.text : "?"}: ${typeof e.message === "string" ? e.message : ""}`;
      ctx.record(eventRecord("", "info", detail, { ts: recvNs ?? 0n, recvNs }));
    } else ctx.counters.ignoredFrames++;
    return "";
  }

  private onTrade(d: JsonObject, recvNs: bigint | null, ctx: FeedContext): void {
    const inst = stringOf(d.instrument_name, "instrument_name");
    if (!this.books.selected(inst)) {
      ctx.counters.ignoredFrames++;
      return;
    }
    const tradeId = typeof d.trade_id === "string" ? d.trade_id : integerTextOf(d.trade_id, "trade_id");
    if (this.recent.repeated("trades", inst, tradeId, ctx.counters)) return;
    const direction = stringOf(d.direction, "direction");
    const rec: RecordInput = {
      kind: "trade",
      symbol: inst,
      ts: millisOf(d.timestamp, "timestamp"),
      price: plainDecimalOf(d.price, "price"),
      size: plainDecimalOf(d.amount, "amount"),
      // `direction`: the taker's side.
      side: direction === "buy" ? "buy" : direction === "sell" ? "sell" : "unknown",
      tradeId,
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  private onQuote(d: JsonObject, recvNs: bigint | null, ctx: FeedContext): void {
    const symbol = stringOf(d.instrument_name, "instrument_name");
    if (!this.books.selected(symbol)) {
      ctx.counters.ignoredFrames++;
      return;
    }
    const rec: Extract<RecordInput, { kind: "bbo" }> = {
      kind: "bbo",
      symbol,
      ts: millisOf(d.timestamp, "timestamp"),
    };
    if (hasOrders(d.best_bid_price, d.best_bid_amount, "best_bid")) {
      rec.bidPrice = plainDecimalOf(d.best_bid_price, "best_bid_price");
      rec.bidSize = plainDecimalOf(d.best_bid_amount, "best_bid_amount");
    }
    if (hasOrders(d.best_ask_price, d.best_ask_amount, "best_ask")) {
      rec.askPrice = plainDecimalOf(d.best_ask_price, "best_ask_price");
      rec.askSize = plainDecimalOf(d.best_ask_amount, "best_ask_amount");
    }
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  private onBook(inst: string, d: JsonObject, recvNs: bigint | null, ctx: FeedContext): void {
    const feed = this.books.get(inst);
    const type = stringOf(d.type, "type");
    if (feed === undefined || (type !== "snapshot" && type !== "change")) {
      ctx.counters.ignoredFrames++;
      return;
    }
    const at: Stamp = { ts: millisOf(d.timestamp, "timestamp"), recvNs };
    const changeId = integerOf(d.change_id, "change_id");
    const bids = levelsOf(d.bids, "bids");
    const asks = levelsOf(d.asks, "asks");
    if (type === "snapshot") {
      feed.snapshot(ctx, bids, asks, changeId, at);
      return;
    }
    if (!feed.synced) {
      ctx.counters.ignoredFrames++;
      if (feed.needsResync) this.resubscribe(feed, ctx, recvNs);
      return;
    }
    const last = feed.lastSeq ?? -1n;
    const prev = integerOf(d.prev_change_id, "prev_change_id");
    if (changeId <= last) {
      if (feed.holds(changeId)) ctx.counters.duplicates++;
      else {
        // Not one seen lately: the numbering went back, and what follows would all be dropped as seen.
        feed.lose(ctx, "gap", `change_id ${changeId} after ${last}: the ids went back`, changeId, at);
        this.resubscribe(feed, ctx, recvNs);
      }
      return;
    }
    if (prev !== last) {
      feed.lose(ctx, "gap", `prev_change_id ${prev} does not follow change_id ${last}`, changeId, at);
      this.resubscribe(feed, ctx, recvNs);
      return;
    }
    if (!feed.update(ctx, bids, asks, changeId, at)) this.resubscribe(feed, ctx, recvNs);
    else if (feed.book.crossed()) {
      feed.lose(ctx, "crossed_book", `best bid at or above best ask after change ${changeId}`, changeId, at);
      this.resubscribe(feed, ctx, recvNs);
    }
  }

  /** A fresh snapshot: unsubscribe and subscribe the instrument's book channel again. */
  protected resubscribe(feed: BookFeed, ctx: FeedContext, nowNs: bigint | null): void {
    if (!feed.mayRequest(nowNs, RESUBSCRIBE_MIN_GAP_NS)) return;
    const channels = [`book.${feed.symbol}.raw`];
    ctx.send(this.request("public/unsubscribe", channels));
    ctx.send(this.request("public/subscribe", channels));
  }
}

export const VENUE: VenueEntry = {
  id: "deribit",
  urls: DERIBIT_URLS,
  example: "BTC-PERPETUAL",
  create: (selection, urls) => new DeribitConnector(selection, urls),
};

/**
 * Whether a quote side has orders: a side without has a null price (quote) or a zero amount (ticker). Any value
 * other than a number or null is a bad frame, not an empty side.
 */
function hasOrders(price: JsonValue | undefined, amount: JsonValue | undefined, side: string): boolean {
  for (const [v, field] of [
    [price, `${side}_price`],
    [amount, `${side}_amount`],
  ] as const) {
    if (v !== null && v !== undefined && !(v instanceof JsonNumber))
      throw frameError(field, `expected a number or null, got ${JSON.stringify(v).slice(0, 40)}`);
  }
  return price instanceof JsonNumber && amount instanceof JsonNumber && Number(amount.text) > 0;
}
