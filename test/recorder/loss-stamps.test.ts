/**
 * Where a book's rows and the events of a loss sort for readers. Rows carry the venue's time; the recorder's own clock may
 * run ahead of it (latency, skew). A loss no message dates (records dropped on their way to disk, an unreadable
 * frame, a closed connection) must still sort after every row written before it and before every row written after
 * it, or readers, who replay by exchange time, rebuild a wrong book that reads valid, or an invalid one until the
 * next hour.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RecordInput } from "../../src/format/records.js";
import { datasetOfFiles, encodeTape, OrderBook } from "../../src/index.js";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { krakenChecksum } from "../../src/recorder/connectors/kraken.js";
import { Feed } from "../../src/recorder/feed.js";
import { tempDir } from "../reader/helpers.js";

/** The recorder's clock: 200 ms ahead of the venue's, and 5 ms of latency. */
const recvOf = (venueMs: number) => BigInt(venueMs) * 1_000_000n + 205_000_000n;
const E0 = 1_800_000_000_000;

async function rebuilt(records: RecordInput[], exchange: string, symbol: string) {
  const dir = (await tempDir()).dir;
  const file = join(dir, `${exchange}.tape`);
  await writeFile(file, encodeTape(records, { exchange }));
  const book = new OrderBook(symbol);
  for await (const row of datasetOfFiles([file]).replay({ symbols: [symbol, ""], kinds: ["book", "event"] }))
    book.apply(row);
  return { valid: book.valid, bids: book.top(100).bids.map((l) => `${l.price}:${l.size}`) };
}

function bidsOf(connectorBook: { bids: { top(n: number): { price: string; size: string }[] } }) {
  return connectorBook.bids.top(100).map((l) => `${Number(l.price)}:${Number(l.size)}`);
}

/** A Binance spot feed of BTCUSDT's book: `depth` sends an update of ids `U..u`, `snapshot` answers its REST request. */
function binanceSession() {
  const records: RecordInput[] = [];
  const con = createConnector("binance", { symbols: ["BTCUSDT"], trades: false, book: true, bbo: false });
  const rests: string[] = [];
  const feed = new Feed(con, { raw: false, sink: (r) => records.push(r), requestRest: (p) => rests.push(p) });
  const depth = (U: number, u: number, ms: number, b: string[][]) => {
    const data = { e: "depthUpdate", E: ms, s: "BTCUSDT", U, u, b, a: [] };
    feed.receive({
      kind: "frame",
      recvNs: recvOf(ms),
      text: JSON.stringify({ stream: "btcusdt@depth@100ms", data }),
    });
  };
  const snapshot = (id: number, ms: number, bids: string[][]) =>
    feed.receive({
      kind: "rest",
      recvNs: recvOf(ms),
      path: rests.shift()!,
      body: JSON.stringify({ lastUpdateId: id, bids, asks: [["200", "1"]] }),
    });
  return { records, con, feed, depth, snapshot };
}

/** A Bybit feed of BTCUSDT's book; `book` sends one book message of exchange time `ms`, received at `recvMs`. */
function bybitSession(symbols = ["BTCUSDT"]) {
  const records: RecordInput[] = [];
  const con = createConnector("bybit", { symbols, trades: false, book: true, bbo: false });
  const feed = new Feed(con, { raw: false, sink: (r) => records.push(r) });
  const book = (type: string, u: number, ms: number, b: string[][], recvMs = ms, s = "BTCUSDT") =>
    feed.receive({
      kind: "frame",
      recvNs: recvOf(recvMs),
      text: JSON.stringify({
        topic: `orderbook.50.${s}`,
        type,
        ts: ms,
        data: { s, b, a: [["200", "1"]], u, seq: u },
        cts: ms,
      }),
    });
  return { records, con, feed, book };
}

describe("a loss no message dates, with the recorder's clock ahead of the venue's", () => {
  it("binance: the resync's snapshot does not sort after the updates that follow it", async () => {
    const { records, con, feed, depth: update, snapshot } = binanceSession();
    const depth = (id: number, ms: number, px: string, q: string) => update(id, id, ms, [[px, q]]);
    depth(10, E0, "99", "1");
    snapshot(10, E0 + 1, [["99", "1"]]);
    depth(11, E0 + 100, "98", "1");
    // Records lost on their way to disk: the runtime resyncs every book, at its own time.
    con.resync("records were dropped on their way to disk", recvOf(E0 + 150), feed.context);
    depth(12, E0 + 200, "97", "1");
    snapshot(12, E0 + 210, [
      ["99", "1"],
      ["98", "1"],
      ["97", "1"],
    ]);
    depth(13, E0 + 300, "96", "5");
    depth(14, E0 + 400, "95", "5");
    const mine = bidsOf(con.bookOf("BTCUSDT")!.book);
    expect(mine).toEqual(["99:1", "98:1", "97:1", "96:5", "95:5"]);
    expect(await rebuilt(records, "binance", "BTCUSDT")).toEqual({ valid: true, bids: mine });
  });

  it("bybit: after a frame that cannot be read, the book is valid again from its fresh snapshot on", async () => {
    const { records, con, feed, book } = bybitSession();
    book("snapshot", 1, E0, [["99", "1"]]);
    book("delta", 2, E0 + 100, [["98", "1"]]);
    // An unreadable frame: a gap of no symbol, then (as the live recorder does) every book resynchronised.
    feed.receive({ kind: "frame", recvNs: recvOf(E0 + 150), text: "not json" });
    con.resync("a frame could not be read", recvOf(E0 + 150), feed.context);
    book("snapshot", 3, E0 + 160, [
      ["99", "1"],
      ["98", "2"],
    ]);
    book("delta", 4, E0 + 250, [["97", "1"]]);
    const mine = bidsOf(con.bookOf("BTCUSDT")!.book);
    expect(mine).toEqual(["99:1", "98:2", "97:1"]);
    expect(await rebuilt(records, "bybit", "BTCUSDT")).toEqual({ valid: true, bids: mine });
  });

  it("okx: records lost on their way to disk break the book only from its last row on", async () => {
    const records: RecordInput[] = [];
    const con = createConnector("okx", { symbols: ["BTC-USDT"], trades: false, book: true, bbo: false });
    const sent: string[] = [];
    const feed = new Feed(con, { raw: false, sink: (r) => records.push(r), send: (t) => sent.push(t) });
    const books = (action: string, prevSeqId: number, seqId: number, ms: number, bids: string[][]) =>
      feed.receive({
        kind: "frame",
        recvNs: recvOf(ms),
        text: JSON.stringify({
          arg: { channel: "books", instId: "BTC-USDT" },
          action,
          data: [{ asks: [["200", "1", "0", "1"]], bids, ts: String(ms), checksum: 0, prevSeqId, seqId }],
        }),
      });
    books("snapshot", -1, 10, E0, [["99", "1", "0", "1"]]);
    books("update", 10, 11, E0 + 100, [["98", "1", "0", "1"]]);
    con.resync("records were dropped on their way to disk", recvOf(E0 + 150), feed.context);
    expect(sent.length).toBeGreaterThan(0); // subscribed again: the fresh snapshot follows
    books("snapshot", -1, 20, E0 + 160, [
      ["99", "1", "0", "1"],
      ["98", "3", "0", "1"],
    ]);
    books("update", 20, 21, E0 + 220, [["97", "1", "0", "1"]]);
    const mine = bidsOf(con.bookOf("BTC-USDT")!.book);
    expect(mine).toEqual(["99:1", "98:3", "97:1"]);
    expect(await rebuilt(records, "okx", "BTC-USDT")).toEqual({ valid: true, bids: mine });
  });

  it("a time far ahead of its receipt does not date the losses of every book", async () => {
    const { records, con, feed, book } = bybitSession(["BTCUSDT", "ETHUSDT"]);
    book("snapshot", 1, E0, [["99", "1"]]);
    book("snapshot", 1, E0 + 1, [["9", "1"]], E0 + 1, "ETHUSDT");
    book("delta", 2, E0 + 3_600_000, [["9", "2"]], E0 + 2, "ETHUSDT"); // an hour ahead of its receipt
    con.resync("records were dropped on their way to disk", recvOf(E0 + 3), feed.context);
    const btc = records.find((r) => r.kind === "event" && r.type === "gap" && r.symbol === "BTCUSDT");
    expect(btc).toMatchObject({ ts: BigInt(E0 + 1) * 1_000_000n });
  });

  it("a quiet book's loss is dated at the venue's latest time, not at its own last row", async () => {
    const { records, con, feed, book } = bybitSession(["BTCUSDT", "ETHUSDT"]);
    book("snapshot", 1, E0, [["99", "1"]]);
    // BTCUSDT is quiet for a minute while ETHUSDT trades on; then the connection drops.
    book("snapshot", 1, E0 + 1, [["9", "1"]], E0 + 1, "ETHUSDT");
    for (let u = 2; u < 60; u++) book("delta", u, E0 + u * 1000, [["9", `${u}`]], E0 + u * 1000, "ETHUSDT");
    con.onClose(con.connections()[0]!, recvOf(E0 + 60_000), "code 1006", feed.context);
    const lost = records.filter((r) => r.kind === "event" && r.type === "disconnect");
    expect(lost.map((r) => [r.symbol, r.ts])).toEqual([
      ["BTCUSDT", BigInt(E0 + 59_000) * 1_000_000n],
      ["ETHUSDT", BigInt(E0 + 59_000) * 1_000_000n],
    ]);
  });
});

describe("an update stamped before the book's last one", () => {
  it("loses the book after its last row: readers hold it invalid, not wrong, until the fresh snapshot", async () => {
    const { records, con, book } = bybitSession();
    book("snapshot", 1, E0, [["99", "1"]]);
    book("delta", 2, E0 + 100, [["99", "2"]]);
    book("delta", 3, E0 + 100 - 2000, [["99", "7"]], E0 + 200); // two seconds back, in sequence
    expect(con.bookOf("BTCUSDT")!.synced).toBe(false);
    expect(await rebuilt(records, "bybit", "BTCUSDT")).toMatchObject({ valid: false });
    const gap = records.find((r) => r.kind === "event" && r.type === "gap");
    expect(gap).toMatchObject({ ts: BigInt(E0 + 100) * 1_000_000n });
    expect(gap!.kind === "event" && gap!.message).toMatch(/^exchange time went back from \d+ to \d+/);
    book("snapshot", 4, E0 + 300, [["99", "7"]]);
    expect(await rebuilt(records, "bybit", "BTCUSDT")).toEqual({ valid: true, bids: ["99:7"] });
  });

  it("one time far ahead costs one resync, not every update after it", async () => {
    const { records, con, book } = bybitSession();
    book("snapshot", 1, E0, [["99", "1"]]);
    book("delta", 2, E0 + 3_600_000, [["99", "2"]], E0 + 100); // an hour ahead
    book("delta", 3, E0 + 200, [["99", "3"]]);
    book("snapshot", 4, E0 + 300, [["99", "3"]]);
    for (let u = 5; u < 100; u++) book("delta", u, E0 + 300 + u, [["98", `${u}`]]);
    expect(con.bookOf("BTCUSDT")!.synced).toBe(true);
    expect(records.filter((r) => r.kind === "event").length).toBe(2); // the gap, and the resync
  });
});

describe("a snapshot that ends a loss", () => {
  it("binance: an update applied after the snapshot that ends a gap it revealed sorts after that snapshot", async () => {
    const { records, con, depth, snapshot } = binanceSession();
    depth(1, 2, E0 - 300, [["90", "1"]]);
    snapshot(2, E0 - 290, [["90", "1"]]);
    depth(3, 3, E0 - 200, [["91", "1"]]);
    // Id 4 lost: the update 5..8 reveals the gap (its event takes the update's own time and receive time).
    depth(5, 8, E0, [
      ["99", "1"],
      ["98", "1"],
      ["97", "1"],
      ["96", "1"],
    ]);
    // The REST snapshot was taken at id 6: it holds 99 and 98; the update 5..8 is applied after it.
    snapshot(6, E0 + 50, [
      ["99", "1"],
      ["98", "1"],
      ["91", "1"],
      ["90", "1"],
    ]);
    const mine = bidsOf(con.bookOf("BTCUSDT")!.book);
    expect(mine).toEqual(["99:1", "98:1", "97:1", "96:1", "91:1", "90:1"]);
    expect(await rebuilt(records, "binance", "BTCUSDT")).toEqual({ valid: true, bids: mine });
  });
});

describe("two snapshots of the same time with no update between them", () => {
  /** A Kraken v2 book snapshot of BTC/USD at exchange time `iso`, with its checksum. */
  const krakenSnapshot = (iso: string, bids: [string, string][]) => {
    const asks: [string, string][] = [["101.0", "1.00000000"]];
    const level = ([price, qty]: [string, string]) => `{"price":${price},"qty":${qty}}`;
    const checksum = krakenChecksum(
      bids.map(([price, size]) => ({ price, size })),
      asks.map(([price, size]) => ({ price, size })),
    );
    return `{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[${bids.map(level).join(",")}],"asks":[${asks.map(level).join(",")}],"checksum":${checksum},"timestamp":"${iso}"}]}`;
  };
  const T = "2027-01-15T08:00:00.123456Z";

  function krakenSession() {
    const records: RecordInput[] = [];
    const con = createConnector("kraken", { symbols: ["BTC/USD"], trades: false, book: true, bbo: false });
    const feed = new Feed(con, { raw: false, sink: (r) => records.push(r) });
    const snapshot = (recvNs: bigint, bids: [string, string][]) =>
      feed.receive({ kind: "frame", recvNs, text: krakenSnapshot(T, bids) });
    return {
      records,
      con,
      snapshot,
      gaps: () => records.filter((r) => r.kind === "event" && r.type === "gap"),
    };
  }

  it("kraken: a level the second no longer has is not kept by readers (a gap before it)", async () => {
    const { records, con, snapshot, gaps } = krakenSession();
    snapshot(1_800_000_000_000_000_000n, [
      ["100.0", "1.00000000"],
      ["99.0", "2.00000000"],
    ]);
    // The answer to a second subscription, of the same microsecond: the update that deleted 99.0 was lost.
    snapshot(1_800_000_000_005_000_000n, [["100.0", "1.00000000"]]);
    const mine = bidsOf(con.bookOf("BTC/USD")!.book);
    expect(mine).toEqual(["100:1"]);
    expect(await rebuilt(records, "kraken", "BTC/USD")).toEqual({ valid: true, bids: mine });
    expect(gaps()).toHaveLength(1);
  });

  it("kraken: the same snapshot twice is not a loss", async () => {
    const { records, snapshot, gaps } = krakenSession();
    const bids: [string, string][] = [
      ["100.0", "1.00000000"],
      ["99.0", "2.00000000"],
    ];
    snapshot(1_800_000_000_000_000_000n, bids);
    snapshot(1_800_000_000_005_000_000n, bids);
    expect(await rebuilt(records, "kraken", "BTC/USD")).toEqual({ valid: true, bids: ["100:1", "99:2"] });
    expect(gaps()).toHaveLength(0);
  });
});

describe("a connection's snapshot stamped before rows another connection sent", () => {
  /** A Coinbase feed of BTC-USD's book; `l2` sends an l2_data message of `socket`, stamped `ms` on its clock. */
  function coinbaseSession() {
    const records: RecordInput[] = [];
    const con = createConnector("coinbase", { symbols: ["BTC-USD"], trades: false, book: true, bbo: false });
    const sent: string[] = [];
    const feed = new Feed(con, { raw: false, sink: (r) => records.push(r), send: (t) => sent.push(t) });
    const numbers = new Map<number, number>();
    const l2 = (socket: number, ms: number, recvMs: number, type: string, bids: [string, string][]) => {
      const n = numbers.get(socket) ?? 0;
      numbers.set(socket, n + 1);
      const updates = [
        ...bids.map(([price_level, new_quantity]) => ({ side: "bid", price_level, new_quantity })),
        ...(type === "snapshot" ? [{ side: "offer", price_level: "101", new_quantity: "1" }] : []),
      ];
      const timestamp = new Date(E0 + ms).toISOString();
      const events = [{ type, product_id: "BTC-USD", updates }];
      const text = JSON.stringify({ channel: "l2_data", client_id: "", timestamp, sequence_num: n, events });
      feed.receive({ kind: "frame", recvNs: recvOf(recvMs), text, socket });
    };
    const gaps = () => records.filter((r) => r.kind === "event" && r.type === "gap");
    /**
     * A book on connection 1 whose change of 99 to 5 is stamped 13 (received at 10), then connection 2's snapshot
     * stamped 12 (received at 12) with 99 at `held`.
     */
    const takeover = (held: string) => {
      l2(1, 0, 0, "snapshot", [
        ["100", "1"],
        ["99", "1"],
      ]);
      l2(1, 13, 10, "update", [["99", "5"]]);
      l2(2, 12, 12, "snapshot", [
        ["100", "1"],
        ["99", held],
      ]);
    };
    return { records, con, sent, l2, gaps, takeover };
  }

  it("coinbase: a change the snapshot held, stamped after it by the old connection, is a loss from its time on", async () => {
    const { records, con, sent, l2, gaps, takeover } = coinbaseSession();
    // The old connection's clock runs 3 ms ahead of the new one's: the replacement's snapshot already holds its
    // change of 99 and the next one (99 -> 7).
    takeover("7");
    l2(1, 14, 13, "update", [["99", "7"]]); // a copy now
    l2(2, 20, 20, "update", [["98", "1"]]);
    expect(gaps()).toHaveLength(0);
    // The new connection goes on well past the old connection's change without sending it: the snapshot held it.
    l2(2, 1100, 1100, "update", [["97", "1"]]);
    expect(gaps().map((g) => g.ts)).toEqual([BigInt(E0 + 13) * 1_000_000n]);
    expect(await rebuilt([...records], "coinbase", "BTC-USD")).toMatchObject({ valid: false });
    expect(sent.some((t) => t.includes('"type":"subscribe"') && t.includes("level2"))).toBe(true);
    // The answer to the new subscription makes it valid again, as the venue has it.
    l2(2, 1200, 1200, "snapshot", [
      ["100", "1"],
      ["99", "7"],
      ["98", "1"],
      ["97", "1"],
    ]);
    l2(2, 1300, 1300, "update", [["96", "2"]]);
    const mine = bidsOf(con.bookOf("BTC-USD")!.book);
    expect(mine).toEqual(["100:1", "99:7", "98:1", "97:1", "96:2"]);
    expect(await rebuilt(records, "coinbase", "BTC-USD")).toEqual({ valid: true, bids: mine });
  });

  it("coinbase: changes stamped after the snapshot that the new connection sends too are no loss", async () => {
    const { records, con, l2, gaps, takeover } = coinbaseSession();
    // The old connection's change of 99 is delivered before the new one's snapshot arrives, but made after it.
    takeover("1");
    l2(2, 13, 14, "update", [["99", "5"]]);
    l2(1, 20, 15, "update", [["98", "1"]]);
    l2(2, 20, 16, "update", [["98", "1"]]);
    l2(2, 1100, 1100, "update", [["97", "1"]]);
    expect(gaps()).toHaveLength(0);
    const mine = bidsOf(con.bookOf("BTC-USD")!.book);
    expect(mine).toEqual(["100:1", "99:5", "98:1", "97:1"]);
    expect(await rebuilt(records, "coinbase", "BTC-USD")).toEqual({ valid: true, bids: mine });
  });
});
