/**
 * OKX v5 public (venue id `okx`). Trades from `trades`, BBO from `bbo-tbt` (and `tickers` in recordings), the L2
 * book from `books` (400 levels, snapshot then updates, in the stream itself). Integrity, from OKX's docs:
 * - `prevSeqId` of an update equals the `seqId` of the one before (a snapshot has `prevSeqId` -1; a keep-alive
 *   update with empty sides has `seqId == prevSeqId`); sessions recorded before 2023 have no sequence ids;
 * - `checksum` is the signed CRC-32 of the top 25 levels, `bidPx:bidSz:askPx:askSz:…` interleaved, over the
 *   strings as received; 0 means "not provided" (OKX has sent 0 on every frame at times).
 * On a gap or a checksum mismatch the book is resubscribed, and the snapshot that follows resynchronises it.
 */
import type { RecordInput } from "../../format/records.js";
import { BookFeed, eventRecord, type Stamp } from "../book-feed.js";
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
  integerTextOf,
  levelPairsOf,
  millisOf,
  objectOf,
  stringOf,
} from "../frame-fields.js";
import { type JsonObject, type JsonValue, parseJsonText } from "../json-text.js";
import type { TextLevel } from "../level-book.js";
import { CRC32_START, crc32Byte, crc32End, crc32Level, LEVEL_PART } from "../level-crc32.js";
import { RecentIdsByKey } from "../recent-ids.js";
import { SymbolStates } from "../symbol-states.js";
import type { VenueEntry } from "./index.js";

export const OKX_URLS: VenueUrls = { ws: "wss://ws.okx.com:8443/ws/v5/public", rest: "https://www.okx.com" };

/** Channel arguments per subscribe message (OKX limits a request to 64 KiB). */
const ARGS_PER_MESSAGE = 100;
const CHECKSUM_LEVELS = 25;
/** OKX allows 480 subscription requests an hour per connection: repeated resubscriptions back off from 2 s. */
const RESUBSCRIBE_MIN_GAP_NS = 2_000_000_000n;

/** The OKX checksum of a book: signed CRC-32 of the top 25 levels, bid and ask interleaved. */
export function okxChecksum(bids: readonly TextLevel[], asks: readonly TextLevel[]): number {
  // "bid price:bid size:ask price:ask size:…", level by level.
  let crc = CRC32_START;
  let first = true;
  const add = (l: TextLevel) => {
    crc = crc32Level(first ? crc : crc32Byte(crc, 58 /* : */), l, LEVEL_PART.priceColonSize);
    first = false;
  };
  for (let i = 0; i < CHECKSUM_LEVELS; i++) {
    const b = bids[i];
    const a = asks[i];
    if (b !== undefined) add(b);
    if (a !== undefined) add(a);
  }
  return crc32End(crc) | 0;
}

class InstrumentState {
  readonly feed: BookFeed;
  /** The data text of the last update applied, to recognise an update received twice in feeds with no seqId. */
  lastUpdateText = "";
  constructor(instId: string) {
    this.feed = new BookFeed(instId);
  }
}

export class OkxConnector implements Connector {
  readonly venue = "okx";
  readonly sendsPerSecond = 3;
  /** OKX closes a connection that is silent for 30 s; "ping" is answered with "pong". */
  readonly heartbeat: Heartbeat = {
    idleMs: 20_000,
    ping: "ping",
    isPong: (t) => t === "pong",
    venueBeats: false,
  };
  private readonly states: SymbolStates<InstrumentState>;
  /** Trade ids and quote sequence ids seen lately, by channel and instrument: what arrives twice is dropped. */
  private readonly recent = new RecentIdsByKey();

  constructor(
    private readonly selection: FeedSelection,
    private readonly urls: VenueUrls = OKX_URLS,
  ) {
    this.states = new SymbolStates(selection.symbols, (s) => new InstrumentState(s));
  }

  connections(): ConnectionPlan[] {
    const args: { channel: string; instId: string }[] = [];
    for (const instId of this.selection.symbols) {
      if (this.selection.trades) args.push({ channel: "trades", instId });
      if (this.selection.book) args.push({ channel: "books", instId });
      if (this.selection.bbo) args.push({ channel: "bbo-tbt", instId });
    }
    const subscribe: string[] = [];
    for (let i = 0; i < args.length; i += ARGS_PER_MESSAGE) {
      subscribe.push(JSON.stringify({ op: "subscribe", args: args.slice(i, i + ARGS_PER_MESSAGE) }));
    }
    return [{ url: this.urls.ws, subscribe, symbols: [...this.selection.symbols] }];
  }

  onOpen(): void {
    // The books channel starts with a snapshot in the stream: nothing to fetch.
  }

  onClose(plan: ConnectionPlan, recvNs: bigint | null, reason: string, ctx: FeedContext): void {
    for (const s of plan.symbols) {
      const st = this.states.known(s);
      if (st === undefined || !st.feed.synced) continue;
      st.feed.lose(ctx, "disconnect", `connection lost: ${reason}`, null, st.feed.lossStamp(ctx, recvNs));
    }
  }

  onRest(_path: string, _body: string, _recvNs: bigint | null, ctx: FeedContext): string {
    ctx.counters.ignoredFrames++;
    return "";
  }

  resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void {
    for (const st of this.states.values()) {
      if (!st.feed.synced) continue;
      st.feed.lose(ctx, "gap", reason, null, st.feed.lossStamp(ctx, recvNs));
      this.resubscribe(st, ctx, recvNs);
    }
  }

  bookOf(instId: string): BookFeed | undefined {
    return this.states.known(instId)?.feed;
  }

  *allBooks(): Iterable<BookFeed> {
    for (const st of this.states.values()) yield st.feed;
  }

  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string {
    if (text === "pong") {
      ctx.counters.ignoredFrames++;
      return "";
    }
    const msg = objectOf(parseJsonText(text), "frame");
    if (msg.event !== undefined) return this.onEvent(msg, recvNs, ctx);
    const arg = objectOf(msg.arg, "arg");
    const channel = stringOf(arg.channel, "arg.channel");
    const instId = stringOf(arg.instId, "arg.instId");
    if (!this.states.selected(instId)) {
      // Not asked for: counted, its frame kept as a raw record of no symbol.
      ctx.counters.ignoredFrames++;
      return "";
    }
    const data = arrayOf(msg.data, "data");
    if (channel === "books") this.onBooks(instId, msg, data, text, recvNs, ctx);
    else if (channel === "trades")
      for (const d of data) this.onTrade(objectOf(d, "data[]"), instId, recvNs, ctx);
    else if (channel === "bbo-tbt")
      for (const d of data) this.onBbo(objectOf(d, "data[]"), instId, recvNs, ctx);
    else if (channel === "tickers")
      for (const d of data) this.onTicker(objectOf(d, "data[]"), instId, recvNs, ctx);
    else ctx.counters.ignoredFrames++;
    return instId;
  }

  private onEvent(msg: JsonObject, recvNs: bigint | null, ctx: FeedContext): string {
    if (msg.event === "error") {
      const detail = `OKX error ${typeof msg.code === "string" ? msg.code : "?"}: ${typeof msg.msg === "string" ? msg.msg : ""}`;
      ctx.record(eventRecord("", "info", detail, { ts: recvNs ?? 0n, recvNs }));
    } else ctx.counters.ignoredFrames++;
    return "";
  }

  private onTrade(d: JsonObject, instId: string, recvNs: bigint | null, ctx: FeedContext): void {
    const side = stringOf(d.side, "side");
    const tradeId = stringOf(d.tradeId, "tradeId");
    if (this.recent.repeated("trades", instId, tradeId, ctx.counters)) return;
    const rec: RecordInput = {
      kind: "trade",
      symbol: instId,
      ts: millisOf(d.ts, "ts"),
      price: decimalOf(d.px, "px"),
      size: decimalOf(d.sz, "sz"),
      side: side === "buy" ? "buy" : side === "sell" ? "sell" : "unknown",
      tradeId,
    };
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  private onBbo(d: JsonObject, instId: string, recvNs: bigint | null, ctx: FeedContext): void {
    if (
      d.seqId !== undefined &&
      this.recent.repeated("bbo", instId, integerTextOf(d.seqId, "seqId"), ctx.counters)
    )
      return;
    const bid = levelPairsOf(d.bids, "bids")[0];
    const ask = levelPairsOf(d.asks, "asks")[0];
    const rec: Extract<RecordInput, { kind: "bbo" }> = {
      kind: "bbo",
      symbol: instId,
      ts: millisOf(d.ts, "ts"),
    };
    if (bid !== undefined) [rec.bidPrice, rec.bidSize] = bid;
    if (ask !== undefined) [rec.askPrice, rec.askSize] = ask;
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  private onTicker(d: JsonObject, instId: string, recvNs: bigint | null, ctx: FeedContext): void {
    const rec: Extract<RecordInput, { kind: "bbo" }> = {
      kind: "bbo",
      symbol: instId,
      ts: millisOf(d.ts, "ts"),
    };
    // Empty strings stand for an empty side.
    if (d.bidPx !== "" && d.bidPx !== undefined) {
      rec.bidPrice = decimalOf(d.bidPx, "bidPx");
      rec.bidSize = decimalOf(d.bidSz, "bidSz");
    }
    if (d.askPx !== "" && d.askPx !== undefined) {
      rec.askPrice = decimalOf(d.askPx, "askPx");
      rec.askSize = decimalOf(d.askSz, "askSz");
    }
    if (recvNs !== null) rec.recvTs = recvNs;
    ctx.record(rec);
  }

  private onBooks(
    instId: string,
    msg: JsonObject,
    data: JsonValue[],
    text: string,
    recvNs: bigint | null,
    ctx: FeedContext,
  ): void {
    const st = this.states.get(instId);
    const action = stringOf(msg.action, "action");
    if (st === undefined || (action !== "snapshot" && action !== "update")) {
      ctx.counters.ignoredFrames++;
      return;
    }
    for (const item of data) {
      const d = objectOf(item, "data[]");
      const at: Stamp = { ts: millisOf(d.ts, "ts"), recvNs };
      const seqId = d.seqId === undefined ? null : integerOf(d.seqId, "seqId");
      const prevSeqId = d.prevSeqId === undefined ? null : integerOf(d.prevSeqId, "prevSeqId");
      const checksum = d.checksum === undefined ? 0n : integerOf(d.checksum, "checksum");
      const bids = levelPairsOf(d.bids, "bids");
      const asks = levelPairsOf(d.asks, "asks");
      if (action === "snapshot") {
        st.feed.snapshot(ctx, bids, asks, seqId, at);
        st.lastUpdateText = "";
      } else {
        if (!st.feed.synced) {
          // Updates of a book out of sync are not applied; if the resubscription was held back, ask now.
          ctx.counters.ignoredFrames++;
          if (st.feed.needsResync) this.resubscribe(st, ctx, recvNs);
          continue;
        }
        const last = st.feed.lastSeq;
        if (seqId !== null && prevSeqId !== null && last !== null && prevSeqId !== last) {
          if (seqId <= last && prevSeqId < last && st.feed.holds(seqId)) {
            ctx.counters.duplicates++;
            continue;
          }
          st.feed.lose(ctx, "gap", `prevSeqId ${prevSeqId} does not follow seqId ${last}`, seqId, at);
          this.resubscribe(st, ctx, recvNs);
          continue;
        }
        if (seqId === null && text === st.lastUpdateText) {
          ctx.counters.duplicates++;
          continue;
        }
        if (!st.feed.update(ctx, bids, asks, seqId, at)) {
          this.resubscribe(st, ctx, recvNs);
          continue;
        }
        st.lastUpdateText = text;
      }
      if (checksum !== 0n) this.check(st, checksum, seqId, at, ctx);
    }
  }

  private check(
    st: InstrumentState,
    expected: bigint,
    seqId: bigint | null,
    at: Stamp,
    ctx: FeedContext,
  ): void {
    ctx.counters.checksumsChecked++;
    const book = st.feed.book;
    const actual = okxChecksum(book.bids.top(CHECKSUM_LEVELS), book.asks.top(CHECKSUM_LEVELS));
    if (BigInt(actual) === expected) return;
    st.feed.lose(
      ctx,
      "checksum_failure",
      `checksum ${expected} sent, ${actual} computed over the top ${CHECKSUM_LEVELS} levels`,
      seqId,
      at,
    );
    this.resubscribe(st, ctx, at.recvNs);
  }

  /** A fresh snapshot: unsubscribe and subscribe the instrument's book again (not more often than OKX allows). */
  private resubscribe(st: InstrumentState, ctx: FeedContext, nowNs: bigint | null): void {
    if (!st.feed.mayRequest(nowNs, RESUBSCRIBE_MIN_GAP_NS)) return;
    const args = [{ channel: "books", instId: st.feed.symbol }];
    ctx.send(JSON.stringify({ op: "unsubscribe", args }));
    ctx.send(JSON.stringify({ op: "subscribe", args }));
  }
}

export const VENUE: VenueEntry = {
  id: "okx",
  urls: OKX_URLS,
  example: "BTC-USDT",
  create: (selection, urls) => new OkxConnector(selection, urls),
};
