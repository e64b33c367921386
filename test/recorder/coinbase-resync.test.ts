/** Coinbase: a crossed book resubscribes that product alone, and a resubscription held back is asked again. */
import { describe, expect, it } from "vitest";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { Feed } from "../../src/recorder/feed.js";

function session(products: string[]) {
  const connector = createConnector("coinbase", { symbols: products, trades: true, book: true, bbo: true });
  const sent: string[] = [];
  const feed = new Feed(connector, { raw: false, sink: () => {}, send: (t) => sent.push(t) });
  let n = 0;
  const l2 = (product: string, type: string, ups: [string, string, string][], seconds = 0, skip = 0) => {
    n += skip;
    const timestamp = new Date(1_700_000_000_000 + seconds * 1000).toISOString().replace("Z", "000Z");
    const text = JSON.stringify({
      channel: "l2_data",
      client_id: "",
      timestamp,
      sequence_num: n++,
      events: [
        {
          type,
          product_id: product,
          updates: ups.map(([side, price_level, new_quantity]) => ({
            side,
            event_time: timestamp,
            price_level,
            new_quantity,
          })),
        },
      ],
    });
    feed.receive({ kind: "frame", recvNs: BigInt(1_700_000_000_000 + seconds * 1000) * 1_000_000n, text });
  };
  return { connector, sent, l2 };
}

const subscribed = (sent: string[]) =>
  sent.filter((t) => JSON.parse(t).type === "subscribe").map((t) => JSON.parse(t).product_ids.join(","));

describe("coinbase resynchronisation", () => {
  it("subscribes again the product whose book crossed, and only it", () => {
    const { connector, sent, l2 } = session(["BTC-USD", "ETH-USD"]);
    l2("BTC-USD", "snapshot", [
      ["bid", "100", "1"],
      ["offer", "101", "1"],
    ]);
    l2("ETH-USD", "snapshot", [
      ["bid", "10", "1"],
      ["offer", "11", "1"],
    ]);
    l2("BTC-USD", "update", [["bid", "102", "1"]]);
    expect(subscribed(sent)).toEqual(["BTC-USD"]);
    expect(connector.bookOf("BTC-USD")!.synced).toBe(false);
    expect(connector.bookOf("ETH-USD")!.synced).toBe(true);
  });

  it("asks again for a resubscription the pacing held back, at a later update", () => {
    const { connector, sent, l2 } = session(["BTC-USD"]);
    l2("BTC-USD", "snapshot", [
      ["bid", "100", "1"],
      ["offer", "101", "1"],
    ]);
    l2("BTC-USD", "update", [["bid", "99", "1"]], 0, 1); // a message lost: resubscribed
    l2(
      "BTC-USD",
      "snapshot",
      [
        ["bid", "100", "1"],
        ["offer", "101", "1"],
      ],
      0.05,
    );
    l2("BTC-USD", "update", [["bid", "98", "1"]], 0.1, 1); // lost again at once: held back by the pacing
    expect(subscribed(sent)).toEqual(["BTC-USD"]);
    for (let s = 1; s <= 60; s++) l2("BTC-USD", "update", [["bid", "97", `${s}`]], s);
    expect(subscribed(sent).length).toBeGreaterThan(1);
    expect(connector.bookOf("BTC-USD")!.synced).toBe(false);
  });
});

describe("coinbase products not asked for", () => {
  it("are counted, not recorded, also beside a product asked for in one message", () => {
    const connector = createConnector("coinbase", {
      symbols: ["BTC-USD"],
      trades: true,
      book: true,
      bbo: true,
    });
    const records: { kind: string; symbol: string }[] = [];
    const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r) });
    const at = "2023-11-14T22:13:20.000000Z";
    const frame = (sequence_num: number, channel: string, events: unknown[]) => ({
      kind: "frame" as const,
      recvNs: 1_700_000_000_000_000_000n + BigInt(sequence_num),
      text: JSON.stringify({ channel, client_id: "", timestamp: at, sequence_num, events }),
    });
    const trade = (product_id: string, trade_id: string) => ({
      trade_id,
      product_id,
      price: "37000.5",
      size: "0.01",
      side: "BUY",
      time: at,
    });
    const ticker = (product_id: string) => ({ product_id, best_bid: "1", best_ask: "2" });
    feed.receive(
      frame(0, "market_trades", [{ type: "update", trades: [trade("ETH-USD", "1"), trade("BTC-USD", "2")] }]),
    );
    feed.receive(frame(1, "ticker", [{ type: "update", tickers: [ticker("SOL-USD"), ticker("BTC-USD")] }]));
    expect(records.map((r) => `${r.kind} ${r.symbol}`)).toEqual(["trade BTC-USD", "bbo BTC-USD"]);
    expect(feed.stats.ignoredFrames).toBe(2);
  });
});
