/** Coinbase: a crossed book resubscribes that product alone, and a resubscription held back is asked again. */
import { describe, expect, it } from "vitest";
import type { RecordInput as TapeRecordInput } from "../../src/format/records.js";
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

describe("coinbase connections", () => {
  type Level = [string, string, string];
  function twoSockets() {
    const connector = createConnector("coinbase", {
      symbols: ["BTC-USD"],
      trades: true,
      book: true,
      bbo: false,
    });
    const records: TapeRecordInput[] = [];
    const sent: string[] = [];
    const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r), send: (t) => sent.push(t) });
    const next = new Map<number, number>();
    let ms = 1_700_000_000_000;
    const send = (
      socket: number,
      channel: string,
      events: unknown[],
      sequence_num = next.get(socket) ?? 0,
      timestamp = new Date(ms + 1).toISOString(),
    ) => {
      next.set(socket, sequence_num + 1);
      ms++;
      const text = JSON.stringify({ channel, client_id: "", timestamp, sequence_num, events });
      feed.receive({ kind: "frame", recvNs: BigInt(ms) * 1_000_000n, text, socket });
      lastText = text;
    };
    let lastText = "";
    const again = (socket: number) =>
      feed.receive({ kind: "frame", recvNs: BigInt(++ms) * 1_000_000n, text: lastText, socket });
    const l2 = (socket: number, type: string, ups: Level[], seq?: number) =>
      send(
        socket,
        "l2_data",
        [
          {
            type,
            product_id: "BTC-USD",
            updates: ups.map(([side, price_level, new_quantity]) => ({ side, price_level, new_quantity })),
          },
        ],
        seq,
      );
    const trade = (socket: number, trade_id: string, seq?: number) =>
      send(
        socket,
        "market_trades",
        [
          {
            type: "update",
            trades: [
              {
                trade_id,
                product_id: "BTC-USD",
                price: "100.5",
                size: "1",
                side: "BUY",
                time: "2023-11-14T22:13:20Z",
              },
            ],
          },
        ],
        seq,
      );
    const ticker = (socket: number, timestamp: string, best_bid: string, seq?: number) => {
      const tickers = [{ type: "ticker", product_id: "BTC-USD", best_bid, best_ask: "101" }];
      send(socket, "ticker", [{ type: "update", tickers }], seq, timestamp);
    };
    const quotes = () =>
      records.flatMap((r) => (r.kind === "bbo" ? [`${String(r.ts).slice(-10, -6)} ${r.bidPrice}`] : []));
    const gaps = () => records.filter((r) => r.kind === "event" && r.type === "gap").length;
    const trades = () =>
      records.filter((r) => r.kind === "trade").map((r) => (r.kind === "trade" ? r.tradeId : ""));
    /** A snapshot of the touch: a bid at 100 of `size`, an offer at 101. */
    const snapshot = (socket: number, size: string, seq?: number) =>
      l2(
        socket,
        "snapshot",
        [
          ["bid", "100", size],
          ["offer", "101", "1"],
        ],
        seq,
      );
    return { connector, feed, sent, l2, snapshot, trade, ticker, quotes, again, gaps, trades };
  }
  const book = (c: ReturnType<typeof twoSockets>["connector"]) => {
    const b = c.bookOf("BTC-USD")!;
    return { synced: b.synced, bids: b.book.bids.top(10).map((l) => `${l.price}:${l.size}`) };
  };

  it("moves a book to the replacing connection with its snapshot; the old one's updates are copies", () => {
    const s = twoSockets();
    s.snapshot(1, "1");
    s.l2(1, "update", [["bid", "99", "2"]]);
    // The replacement counts its own messages from 0 and sends its snapshot.
    s.l2(2, "snapshot", [
      ["bid", "100", "1"],
      ["bid", "99", "2"],
      ["offer", "101", "1"],
    ]);
    s.l2(1, "update", [["bid", "98", "3"]]);
    s.l2(2, "update", [["bid", "98", "3"]]);
    s.l2(2, "update", [["bid", "97", "4"]]);
    s.l2(1, "update", [["bid", "97", "4"]]);
    expect(s.gaps()).toBe(0);
    expect(s.feed.stats.duplicates).toBe(2);
    expect(book(s.connector)).toEqual({ synced: true, bids: ["100:1", "99:2", "98:3", "97:4"] });
    // Trades of both connections: each once, none dropped for the other connection's numbering.
    s.trade(1, "7");
    s.trade(2, "7");
    s.trade(2, "8");
    expect(s.trades()).toEqual(["7", "8"]);
  });

  it("records each quote once while two connections send them, whichever delivers first", () => {
    const s = twoSockets();
    const t = (ms: number) => `2023-11-14T22:13:20.${ms}Z`;
    s.ticker(1, t(100), "1");
    s.ticker(1, t(101), "2");
    s.ticker(1, t(101), "3"); // two quotes of one millisecond
    // The replacement delivers its copies later than the old connection; then the old one lags behind it.
    s.ticker(2, t(101), "2");
    s.ticker(2, t(101), "3");
    s.ticker(2, t(102), "4");
    s.ticker(1, t(102), "4");
    s.ticker(1, t(103), "5");
    s.ticker(2, t(103), "5");
    expect(s.quotes()).toEqual(["0100 1", "0101 2", "0101 3", "0102 4", "0103 5"]);
    expect(s.feed.stats.duplicates).toBe(4);
  });

  it("does not give the book back to an older connection whose snapshot comes late", () => {
    const s = twoSockets();
    s.snapshot(1, "1");
    s.snapshot(2, "2");
    s.snapshot(1, "9"); // the answer to a resubscription sent on the old connection
    s.l2(2, "update", [["bid", "99", "1"]]);
    expect(s.gaps()).toBe(0);
    expect(book(s.connector)).toEqual({ synced: true, bids: ["100:2", "99:1"] });
  });

  it("remembers the numbering of the two highest connections, whatever order they deliver in", () => {
    const s = twoSockets();
    s.trade(1, "a");
    s.trade(2, "b");
    s.snapshot(3, "1"); // a third connection (a drop and a reconnect during an overlap)
    s.trade(1, "c"); // the oldest still delivers
    s.trade(4, "d"); // and the live one is being replaced
    s.l2(3, "update", [["bid", "99", "1"]], 9); // connection 3 skipped messages: its book must lose sync
    expect(s.gaps()).toBe(1);
    expect(book(s.connector).synced).toBe(false);
  });

  it("records the trades of a message that comes late; its loss was said by the gap it left", () => {
    const s = twoSockets();
    s.trade(0, "a", 0);
    s.trade(0, "c", 2);
    s.trade(0, "b", 1);
    expect(s.trades()).toEqual(["a", "c", "b"]);
  });

  it("loses only the books of the connection whose messages went missing", () => {
    const s = twoSockets();
    s.snapshot(1, "1");
    s.snapshot(2, "1");
    s.l2(1, "update", [["bid", "99", "1"]], 10); // the old connection skipped 8 messages: not this book's
    expect(s.gaps()).toBe(0);
    s.l2(2, "update", [["bid", "99", "1"]], 5);
    expect(s.gaps()).toBe(1);
    expect(book(s.connector).synced).toBe(false);
  });

  it("takes updates on a newer connection before its snapshot as a gap", () => {
    const s = twoSockets();
    s.snapshot(1, "1");
    s.l2(2, "update", [["bid", "99", "1"]]);
    expect(s.gaps()).toBe(1);
    expect(book(s.connector).synced).toBe(false);
    expect(subscribed(s.sent)).toEqual(["BTC-USD"]);
  });

  it("drops a message received again, but follows numbering that went back, with a gap", () => {
    const s = twoSockets();
    s.snapshot(0, "1", 5000);
    s.trade(0, "1");
    s.again(0); // the same message again
    expect(s.feed.stats.duplicates).toBe(1);
    expect(s.gaps()).toBe(0);
    // A number seen before on another message: the numbering went back, and nothing after it is dropped.
    s.trade(0, "2", 5000);
    s.trade(0, "3");
    expect(s.trades()).toEqual(["1", "2", "3"]);
    expect(s.gaps()).toBe(1);
    expect(book(s.connector).synced).toBe(false);
    s.trade(0, "4", 17);
    expect(s.trades()).toEqual(["1", "2", "3", "4"]);
  });
});

describe("coinbase messages missing", () => {
  it("say that trades and quotes may be missing, for each product whose book does not say it already", () => {
    const connector = createConnector("coinbase", {
      symbols: ["BTC-USD", "ETH-USD"],
      trades: true,
      book: false,
      bbo: false,
    });
    const records: TapeRecordInput[] = [];
    const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r) });
    const at = "2023-11-14T22:13:20.000000Z";
    const trades = (sequence_num: number, trade_id: string) =>
      feed.receive({
        kind: "frame",
        recvNs: 1_700_000_000_000_000_000n + BigInt(sequence_num),
        text: JSON.stringify({
          channel: "market_trades",
          client_id: "",
          timestamp: at,
          sequence_num,
          events: [
            {
              type: "update",
              trades: [{ trade_id, product_id: "BTC-USD", price: "1", size: "1", side: "BUY", time: at }],
            },
          ],
        }),
      });
    trades(0, "1");
    trades(1, "2");
    trades(5, "6"); // messages 2..4 lost: trades of either product may have been in them
    const gaps = records.flatMap((r) =>
      r.kind === "event" && r.type === "gap" ? [`${r.symbol}: ${r.message}`] : [],
    );
    expect(gaps).toEqual([
      "BTC-USD: messages 2..4 of the connection missing: trades and quotes may be missing",
      "ETH-USD: messages 2..4 of the connection missing: trades and quotes may be missing",
    ]);
    expect(feed.stats.gaps).toBe(2);
    expect(records.filter((r) => r.kind === "trade").length).toBe(3);
  });
});
