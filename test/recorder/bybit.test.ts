/**
 * The Bybit v5 rules on hand-written frames in Bybit's documented shapes: deltas chained by `u`, a snapshot or a
 * message with `u == 1` replacing the book, trades with the taker's side, the top of the book as BBO.
 */
import { describe, expect, it } from "vitest";
import type { RecordInput } from "../../src/format/records.js";
import { BytesSource, encodeTape, OrderBook, TapeReader } from "../../src/index.js";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { Feed } from "../../src/recorder/feed.js";

const book = (type: "snapshot" | "delta", u: number, b: string[][], a: string[][]) =>
  JSON.stringify({
    topic: "orderbook.50.BTCUSDT",
    type,
    ts: 1672304484978,
    data: { s: "BTCUSDT", b, a, u, seq: 7961638724 + u },
    cts: 1672304484976,
  });

function session(frames: string[]) {
  const records: RecordInput[] = [];
  const connector = createConnector("bybit", { symbols: ["BTCUSDT"], trades: true, book: true, bbo: true });
  const sent: string[] = [];
  const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r), send: (t) => sent.push(t) });
  for (const [i, text] of frames.entries())
    feed.receive({ kind: "frame", recvNs: 1_672_304_485_000_000_000n + BigInt(i), text });
  return { stats: feed.stats, records, book: connector.bookOf("BTCUSDT")!, sent };
}

const snapshot = book(
  "snapshot",
  100,
  [
    ["16493.50", "0.006"],
    ["16493.00", "0.100"],
  ],
  [["16611.00", "0.029"]],
);

describe("bybit connector", () => {
  it("asks for the snapshot again when an update comes before any: the subscription's snapshot was missed", () => {
    const s = session([book("delta", 101, [["16493.50", "1"]], [])]);
    expect(s.book.synced).toBe(false);
    expect(s.sent.map((t) => JSON.parse(t).op)).toEqual(["unsubscribe", "subscribe"]);
  });

  it("writes a snapshot of an empty book as one row that empties the book for readers too", async () => {
    // Levels, then the venue's snapshot of an empty book (a halted market, a new listing).
    const s = session([snapshot, book("snapshot", 200, [], [])]);
    expect(s.book.synced).toBe(true);
    expect(s.book.book.bids.top(10)).toEqual([]);
    const last = s.records.at(-1)!;
    expect(last).toMatchObject({ kind: "book", side: "bid", price: "0", size: "0", snapshot: true });
    const book2 = new OrderBook("BTCUSDT");
    const reader = await TapeReader.open(new BytesSource(encodeTape(s.records, { exchange: "bybit" })));
    for await (const row of reader.rows()) book2.apply(row);
    expect(book2.valid).toBe(true);
    expect(book2.top(10)).toEqual({ bids: [], asks: [] });
  });

  it("applies deltas whose u follows by one, and keeps the received digits", () => {
    const s = session([
      snapshot,
      book(
        "delta",
        101,
        [["16493.50", "0"]],
        [
          ["16611.00", "0.030"],
          ["16612.00", "1.5"],
        ],
      ),
    ]);
    expect(s.stats.gaps + s.stats.duplicates + s.stats.badFrames).toBe(0);
    expect(s.book.lastSeq).toBe(101n);
    expect(s.book.book.bids.top(5)).toEqual([{ price: "16493.00", size: "0.100" }]);
    expect(s.book.book.asks.top(5)).toEqual([
      { price: "16611.00", size: "0.030" },
      { price: "16612.00", size: "1.5" },
    ]);
    const rows = s.records.filter((r) => r.kind === "book");
    expect(rows.filter((r) => r.kind === "book" && r.snapshot)).toHaveLength(3);
    expect(rows.at(-1)).toMatchObject({ price: "16612.00", size: "1.5", seq: 101n, snapshot: false });
  });

  it("a missing u is a gap (then a resubscription), a repeated one a duplicate", () => {
    const gap = session([snapshot, book("delta", 102, [["16493.00", "0.2"]], [])]);
    expect(gap.stats.gaps).toBe(1);
    const event = gap.records.find((r) => r.kind === "event" && r.type === "gap");
    expect(event).toMatchObject({ seqBefore: 100n, seqAfter: 102n });
    expect(gap.book.synced).toBe(false);
    // A fresh snapshot is asked for by subscribing the book topic again.
    expect(gap.sent).toEqual([
      '{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}',
      '{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}',
    ]);
    const dup = session([
      snapshot,
      book("delta", 101, [["16493.00", "0.2"]], []),
      book("delta", 101, [["16493.00", "0.2"]], []),
    ]);
    expect([dup.stats.duplicates, dup.stats.gaps]).toEqual([1, 0]);
  });

  it("a snapshot, or a message with u == 1 (a restart of Bybit's service), replaces the book", () => {
    const s = session([
      snapshot,
      book("delta", 101, [["16493.00", "0.2"]], []),
      book("delta", 1, [["16500.00", "1"]], [["16501.00", "2"]]),
      book("delta", 2, [["16500.00", "3"]], []),
    ]);
    expect(s.stats.gaps).toBe(0);
    expect(s.book.lastSeq).toBe(2n);
    expect(s.book.book.bids.top(5)).toEqual([{ price: "16500.00", size: "3" }]);
    expect(s.book.book.asks.top(5)).toEqual([{ price: "16501.00", size: "2" }]);
  });

  it("records trades with the taker's side and id, and the top of the book as BBO", () => {
    const trade = JSON.stringify({
      topic: "publicTrade.BTCUSDT",
      type: "snapshot",
      ts: 1672304486868,
      data: [
        {
          T: 1672304486865,
          s: "BTCUSDT",
          S: "Sell",
          v: "0.001",
          p: "16578.50",
          L: "PlusTick",
          i: "20f43950-d8dd-5b31-9112-a178eb6023af",
          BT: false,
        },
      ],
    });
    const top = JSON.stringify({
      topic: "orderbook.1.BTCUSDT",
      type: "snapshot",
      ts: 1672304486868,
      data: { s: "BTCUSDT", b: [["16578.50", "0.004"]], a: [["16578.60", "1.210"]], u: 9000, seq: 1 },
      cts: 1672304486866,
    });
    const s = session([
      trade,
      trade,
      top,
      '{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}',
    ]);
    expect(s.records.filter((r) => r.kind === "trade")).toEqual([
      expect.objectContaining({
        side: "sell",
        price: "16578.50",
        size: "0.001",
        tradeId: "20f43950-d8dd-5b31-9112-a178eb6023af",
        ts: 1672304486865000000n,
      }),
    ]);
    expect(s.stats.duplicates).toBe(1);
    expect(s.records.find((r) => r.kind === "bbo")).toMatchObject({
      bidPrice: "16578.50",
      bidSize: "0.004",
      askPrice: "16578.60",
      askSize: "1.210",
      ts: 1672304486866000000n,
    });
    expect(s.stats.ignoredFrames).toBe(1);
    // Depth 1 holds one level a side: a level pushed out by a better one is not shown again when that one goes
    // (Bybit pushes depth 1 as snapshots only; a delta must not grow the copy past its depth).
    const delta = (b: string[][]) =>
      top
        .replace('"type":"snapshot"', '"type":"delta"')
        .replace(/"b":\[\[[^\]]*\]\]/, `"b":${JSON.stringify(b)}`);
    const pushed = session([top, delta([["16578.70", "1"]]), delta([["16578.70", "0"]])]);
    const quotes = pushed.records.filter((r) => r.kind === "bbo");
    expect(quotes.map((q) => (q.kind === "bbo" ? (q.bidPrice ?? null) : ""))).toEqual([
      "16578.50",
      "16578.70",
      null,
    ]);
    // Another symbol's trades and quotes (never subscribed): counted, not recorded.
    const other = session([trade.replaceAll("BTCUSDT", "ETHUSDT"), top.replaceAll("BTCUSDT", "ETHUSDT")]);
    expect(other.records).toEqual([]);
    expect(other.stats.ignoredFrames).toBe(2);
  });
});
