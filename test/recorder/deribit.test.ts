/** The Deribit quote channel on hand-written frames: an empty side is null (or a zero amount), nothing else. */
import { describe, expect, it } from "vitest";
import type { RecordInput } from "../../src/format/records.js";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { Feed } from "../../src/recorder/feed.js";

const quote = (bidPrice: unknown, bidAmount: unknown) =>
  JSON.stringify({
    jsonrpc: "2.0",
    method: "subscription",
    params: {
      channel: "quote.ETH-PERPETUAL",
      data: {
        timestamp: 1795825461839,
        instrument_name: "ETH-PERPETUAL",
        best_bid_price: bidPrice,
        best_bid_amount: bidAmount,
        best_ask_price: 2650.2,
        best_ask_amount: 12,
      },
    },
  });

function session(frames: string[]) {
  const records: RecordInput[] = [];
  const bad: string[] = [];
  const connector = createConnector("deribit", {
    symbols: ["ETH-PERPETUAL"],
    trades: true,
    book: true,
    bbo: true,
  });
  const feed = new Feed(connector, {
    raw: false,
    sink: (r) => records.push(r),
    onBadFrame: (e) => bad.push(e.message),
  });
  for (const [i, text] of frames.entries())
    feed.receive({ kind: "frame", recvNs: 1_795_825_461_841_000_000n + BigInt(i), text });
  return { records, bad };
}

describe("deribit quotes", () => {
  it("read an empty side from null or a zero amount, and a wrongly typed side as a bad frame", () => {
    const { records, bad } = session([
      quote(2650.15, 83),
      quote(null, null),
      quote(2650.15, 0),
      quote("2650.15", 83),
      quote(true, 83),
      quote(2650.15, { a: 1 }),
    ]);
    const bbo = records.filter((r) => r.kind === "bbo");
    expect(bbo.map((r) => r.kind === "bbo" && [r.bidPrice ?? null, r.askPrice ?? null])).toEqual([
      ["2650.15", "2650.2"],
      [null, "2650.2"],
      [null, "2650.2"],
    ]);
    expect(bad).toEqual([
      expect.stringMatching(/field best_bid_price: expected a number or null, got "2650.15"/),
      expect.stringMatching(/field best_bid_price: expected a number or null, got true/),
      expect.stringMatching(/field best_bid_amount: expected a number or null/),
    ]);
    // Each bad frame is stated in the records too.
    expect(records.filter((r) => r.kind === "event").map((r) => r.kind === "event" && r.type)).toEqual([
      "gap",
      "gap",
      "gap",
    ]);
  });
});

describe("deribit book changes", () => {
  const book = (type: "snapshot" | "change", changeId: number, prev: number | null, price: number) =>
    JSON.stringify({
      jsonrpc: "2.0",
      method: "subscription",
      params: {
        channel: "book.ETH-PERPETUAL.raw",
        data: {
          type,
          timestamp: 1795825461839 + changeId,
          instrument_name: "ETH-PERPETUAL",
          change_id: changeId,
          ...(prev === null ? {} : { prev_change_id: prev }),
          bids: [["new", price, 10]],
          asks: [["new", price + 100, 10]],
        },
      },
    });

  it("take a change seen again for a duplicate, and ids that went back for a gap, not for duplicates", () => {
    const { records } = session([
      book("snapshot", 1000, null, 2650),
      book("change", 1001, 1000, 2649),
      book("change", 1001, 1000, 2649),
      // The numbering restarts lower, chained from there: not seen, not held by the snapshot.
      book("change", 500, 499, 2648),
      book("change", 501, 500, 2647),
    ]);
    const events = records.flatMap((r) => (r.kind === "event" ? [`${r.type}: ${r.message}`] : []));
    expect(events).toEqual(["gap: change_id 500 after 1001: the ids went back"]);
    // Nothing applied across the gap.
    const prices = records.flatMap((r) => (r.kind === "book" ? [r.price] : []));
    expect(prices).not.toContain("2648");
  });
});
