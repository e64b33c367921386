/**
 * OKX `seqId` and Bybit `u` restart from low numbers after a reset. When the message that carries the reset is
 * lost, the next ones are not messages seen again: a gap, not duplicates that freeze the book in silence.
 */
import { describe, expect, it } from "vitest";
import type { RecordInput } from "../../src/format/records.js";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { Feed } from "../../src/recorder/feed.js";

function session(venue: "okx" | "bybit", symbol: string) {
  const records: RecordInput[] = [];
  const connector = createConnector(venue, { symbols: [symbol], trades: true, book: true, bbo: true });
  const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r), send: () => {} });
  let i = 0;
  const receive = (text: string) =>
    feed.receive({ kind: "frame", recvNs: 1_700_000_000_000_000_000n + BigInt(i++), text });
  const events = () => records.flatMap((r) => (r.kind === "event" ? [r.type] : []));
  return { receive, events, stats: feed.stats, book: () => connector.bookOf(symbol)! };
}

const okx = (action: string, prevSeqId: number, seqId: number, bid: string) =>
  JSON.stringify({
    arg: { channel: "books", instId: "BTC-USDT" },
    action,
    data: [
      {
        asks: [["101", "1", "0", "1"]],
        bids: [[bid, "1", "0", "1"]],
        ts: "1700000000000",
        checksum: 0,
        prevSeqId,
        seqId,
      },
    ],
  });

const bybit = (type: "snapshot" | "delta", u: number, bid: string) =>
  JSON.stringify({
    topic: "orderbook.50.BTCUSDT",
    type,
    ts: 1700000000000,
    data: { s: "BTCUSDT", b: [[bid, "1"]], a: [["101", "1"]], u, seq: u },
    cts: 1700000000000,
  });

describe("a reset whose message was lost", () => {
  it("okx: the updates after it are a gap; a message seen again is still a duplicate", () => {
    const s = session("okx", "BTC-USDT");
    s.receive(okx("snapshot", -1, 1000, "100"));
    s.receive(okx("update", 1000, 1010, "99"));
    s.receive(okx("update", 1000, 1010, "99")); // sent twice
    expect(s.stats.duplicates).toBe(1);
    // The reset (prevSeqId 1010, seqId 5) is lost.
    s.receive(okx("update", 5, 8, "98"));
    expect(s.events()).toEqual(["gap"]);
    expect(s.book().synced).toBe(false);
  });

  it("bybit: the deltas after it are a gap; a delta seen again is still a duplicate", () => {
    const s = session("bybit", "BTCUSDT");
    s.receive(bybit("snapshot", 5000, "100"));
    s.receive(bybit("delta", 5001, "99"));
    s.receive(bybit("delta", 5001, "99"));
    expect(s.stats.duplicates).toBe(1);
    // The delta with u = 1 (a reset) is lost.
    s.receive(bybit("delta", 2, "98"));
    expect(s.events()).toEqual(["gap"]);
    expect(s.book().synced).toBe(false);
  });

  it("bybit: a new connection's snapshot holds the old connection's late deltas, which are duplicates", () => {
    const s = session("bybit", "BTCUSDT");
    s.receive(bybit("snapshot", 5000, "100"));
    s.receive(bybit("delta", 5001, "99"));
    s.receive(bybit("snapshot", 5010, "100")); // the new connection
    s.receive(bybit("delta", 5005, "97")); // the old connection, still delivering
    s.receive(bybit("delta", 5011, "96"));
    expect(s.events()).toEqual([]);
    expect(s.stats.duplicates).toBe(1);
    expect(s.book().synced).toBe(true);
  });
});

describe("ids beyond 2^53", () => {
  it("binance: an update seen again is a duplicate, and one of an id never applied a gap, ids a double cannot tell apart", () => {
    const records: RecordInput[] = [];
    const connector = createConnector("binance", {
      symbols: ["BTCUSDT"],
      trades: true,
      book: true,
      bbo: true,
    });
    const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r), requestRest: () => {} });
    const base = 2n ** 60n; // ids 256 apart here are one double
    let i = 0;
    const recvNs = () => 1_700_000_000_000_000_000n + BigInt(i++);
    const depth = (first: bigint, last: bigint, bid: string) =>
      feed.receive({
        kind: "frame",
        recvNs: recvNs(),
        text: `{"e":"depthUpdate","E":1700000000000,"s":"BTCUSDT","U":${first},"u":${last},"b":[["${bid}","1"]],"a":[]}`,
      });
    depth(base + 1n, base + 2n, "99");
    feed.receive({
      kind: "rest",
      recvNs: recvNs(),
      path: "/api/v3/depth?symbol=BTCUSDT&limit=5000",
      body: `{"lastUpdateId":${base},"bids":[["100","1"]],"asks":[["101","1"]]}`,
    });
    depth(base + 3n, base + 4n, "98");
    depth(base + 5n, base + 6n, "97");
    expect(connector.bookOf("BTCUSDT")!.synced).toBe(true);
    depth(base + 3n, base + 4n, "98"); // sent again
    expect(feed.stats.duplicates).toBe(1);
    expect(records.filter((r) => r.kind === "event")).toEqual([]);
    // Last id base + 5: applied inside the update that ended at base + 6, never as a last id of its own.
    depth(base + 5n, base + 5n, "96");
    expect(records.flatMap((r) => (r.kind === "event" ? [r.type] : []))).toEqual(["gap"]);
    expect(feed.stats.duplicates).toBe(1);
  });
});
