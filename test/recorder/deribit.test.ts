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
