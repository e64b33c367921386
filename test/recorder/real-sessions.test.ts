/**
 * Genuine exchange sessions (fixtures/real, see NOTICE.md there) through the connectors: every OKX checksum is
 * checked and matches, no chain breaks; and the same sessions with one update removed, duplicated or altered are
 * caught.
 */
import { describe, expect, it } from "vitest";
import type { RecordInput } from "../../src/format/records.js";
import { type CapturedMessage, readCapture } from "../../src/recorder/capture.js";
import { createConnector, type VenueId } from "../../src/recorder/connectors/index.js";
import { Feed, type FeedStats } from "../../src/recorder/feed.js";

const OKX = "fixtures/real/okx-v5-20220513.jsonl";
const BINANCE_2021 = "fixtures/real/binance-spot-20211012.jsonl";
const BINANCE_2024 = "fixtures/real/binance-spot-btcusdt-20240808.jsonl";
const DERIBIT_2021 = "fixtures/real/deribit-20210722.jsonl";
const USDM_2021 = "fixtures/real/binance-usdm-20210722.jsonl";
const USDM_2024 = "fixtures/real/binance-usdm-btcusdt-20240808.jsonl";

/**
 * Lets the test runner's messages through between cases: these tests run thousands of sessions, and one that held
 * the event loop for over a minute made the runner's own calls time out ("Timeout calling onTaskUpdate").
 */
const breathe = () => new Promise<void>((r) => setImmediate(r));

async function load(file: string): Promise<CapturedMessage[]> {
  const out: CapturedMessage[] = [];
  for await (const m of readCapture(file)) out.push(m);
  return out;
}

function run(venue: VenueId, msgs: readonly CapturedMessage[], onMessage?: (i: number, feed: Feed) => void) {
  const records: RecordInput[] = [];
  const connector = createConnector(venue, { symbols: [], trades: true, book: true, bbo: true });
  const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r) });
  msgs.forEach((m, i) => {
    feed.receive(m);
    onMessage?.(i, feed);
  });
  return { stats: feed.stats, records, connector };
}

const textOf = (m: CapturedMessage) => (m.kind === "frame" ? m.text : m.body);
const withText = (m: CapturedMessage, text: string): CapturedMessage =>
  m.kind === "frame" ? { ...m, text } : { ...m, body: text };

function clean(stats: FeedStats): void {
  expect(stats.gaps).toBe(0);
  expect(stats.checksumFailures).toBe(0);
  expect(stats.resyncs).toBe(0);
  expect(stats.duplicates).toBe(0);
  expect(stats.badFrames).toBe(0);
  expect(stats.crossed).toBe(0);
}

/** Losses of sync a mutated session must show. */
const caught = (s: FeedStats) => s.gaps + s.checksumFailures + s.duplicates + s.crossed;

describe("OKX v5, a genuine 2022 session (books, trades, tickers; no seqId)", async () => {
  const msgs = await load(OKX);
  const books = msgs
    .map((m, i) => ({
      i,
      o: JSON.parse(textOf(m)) as {
        arg?: { channel: string; instId: string };
        action?: string;
        data?: { checksum: number }[];
      },
    }))
    .filter(({ o }) => o.arg?.channel === "books" && o.data !== undefined);
  const updates = books.filter(({ o }) => o.action === "update");

  it("checks every checksum and finds each one right", () => {
    const { stats, records } = run("okx", msgs);
    clean(stats);
    const sent = books.filter(({ o }) => o.data![0]!.checksum !== 0).length;
    expect(sent).toBe(290);
    expect(stats.checksumsChecked).toBe(sent);
    expect(stats.records.trade).toBe(74);
    expect(records.filter((r) => r.kind === "book" && r.snapshot).length).toBeGreaterThan(0);
  });

  it("catches any single update removed, where it changes the top 25 levels", async () => {
    let tested = 0;
    const levels = (i: number) =>
      (textOf(msgs[i]!).match(/"[0-9.]+","[0-9.]+","0"/g) ?? []).map((l) =>
        l.split(",").slice(0, 2).join(","),
      );
    // Each instrument's levels ("price","size") before each update, from the genuine run.
    const held = new Map<string, Set<string>>();
    const before = new Map<number, Set<string>>();
    run("okx", msgs, (i, feed) => {
      const next = updates.find((u) => u.i === i + 1);
      if (next !== undefined) before.set(i + 1, held.get(next.o.arg!.instId) ?? new Set());
      const b = books.find((x) => x.i === i);
      if (b === undefined) return;
      const book = feed.connector.bookOf(b.o.arg!.instId)!.book;
      const all = [...book.bids.top(1e9), ...book.asks.top(1e9)];
      held.set(b.o.arg!.instId, new Set(all.map((l) => `"${l.price}","${l.size}"`)));
    });
    for (const [n, { i, o }] of updates.entries()) {
      await breathe();
      const inst = o.arg!.instId;
      const next = updates.slice(n + 1).find((u) => u.o.arg!.instId === inst);
      const last = books.filter((b) => b.i < i && b.o.arg!.instId === inst).at(-1)!;
      // No checksum can miss an update that leaves the top 25 unchanged, nor one whose every change the next
      // update sets again, nor the last one.
      if (next === undefined || last.o.data![0]!.checksum === o.data![0]!.checksum) continue;
      // The prices whose level the update changes; after `next` the books differ only if it leaves one alone.
      const prior = before.get(i) ?? new Set<string>();
      const priorPrices = new Set([...prior].map((l) => l.split(",")[0]));
      const changed = levels(i)
        .filter((l) => (l.endsWith(',"0"') ? priorPrices.has(l.split(",")[0]!) : !prior.has(l)))
        .map((l) => l.split(",")[0]);
      const reset = new Set(levels(next.i).map((l) => l.split(",")[0]));
      if (changed.every((p) => reset.has(p))) continue;
      tested++;
      const { stats } = run(
        "okx",
        msgs.filter((_, j) => j !== i),
      );
      expect(stats.checksumFailures, `update at line ${i + 1} removed`).toBeGreaterThan(0);
    }
    expect(tested).toBeGreaterThan(200);
  });

  it("catches any single update duplicated", async () => {
    for (const { i } of updates) {
      await breathe();
      const { stats } = run("okx", [...msgs.slice(0, i + 1), msgs[i]!, ...msgs.slice(i + 1)]);
      expect(stats.duplicates, `update at line ${i + 1} duplicated`).toBe(1);
      expect(stats.checksumFailures).toBe(0);
    }
  });

  it("catches any single update altered in a level that the checksum covers", async () => {
    // The top 25 after each update, from the genuine run.
    const top = new Map<number, Set<string>>();
    const genuine = run("okx", msgs, (i, feed) => {
      const u = updates.find((x) => x.i === i);
      if (u === undefined) return;
      const book = feed.connector.bookOf(u.o.arg!.instId)!.book;
      top.set(i, new Set([...book.bids.top(25), ...book.asks.top(25)].map((l) => l.price)));
    });
    clean(genuine.stats);
    let tested = 0;
    for (const { i } of updates) {
      await breathe();
      const text = textOf(msgs[i]!);
      // The first level of the update that sits in the top 25 afterwards: change the last digit of its size.
      const m = /\["([0-9.]+)","([0-9.]+)"/g;
      let hit: RegExpExecArray | null = null;
      for (let x = m.exec(text); x !== null; x = m.exec(text)) {
        if (x[2] !== "0" && top.get(i)!.has(x[1]!)) {
          hit = x;
          break;
        }
      }
      if (hit === null) continue;
      tested++;
      const size = hit[2]!;
      const altered = `${size.slice(0, -1)}${size.endsWith("9") ? "8" : String(Number(size.at(-1)) + 1)}`;
      const at = hit.index + hit[0].length - size.length - 1;
      const mutated = [...msgs];
      mutated[i] = withText(msgs[i]!, text.slice(0, at) + altered + text.slice(at + size.length));
      const { stats } = run("okx", mutated);
      expect(stats.checksumFailures, `update at line ${i + 1} altered`).toBeGreaterThan(0);
    }
    expect(tested).toBeGreaterThan(150);
  });
});

describe("Binance spot, genuine sessions (REST snapshot + depth diffs)", async () => {
  const sessions = { BINANCE_2021: await load(BINANCE_2021), BINANCE_2024: await load(BINANCE_2024) };

  it("syncs every book from its snapshot and never breaks the chain", () => {
    for (const msgs of Object.values(sessions)) {
      const { stats, records } = run("binance", msgs);
      clean(stats);
      expect(stats.restResponses).toBeGreaterThan(0);
      expect(records.some((r) => r.kind === "book" && !r.snapshot)).toBe(true);
    }
    const four = run("binance", sessions.BINANCE_2021);
    const synced = new Set(four.records.filter((r) => r.kind === "book" && r.snapshot).map((r) => r.symbol));
    expect([...synced].sort()).toEqual(["BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR"]);
  });

  const msgs = sessions.BINANCE_2024;
  const depth = msgs
    .map((m, i) => ({ i, text: textOf(m) }))
    .filter(({ text }) => text.includes('"depthUpdate"'));
  const rest = msgs.findIndex((m) => m.kind === "rest");
  // Updates applied after the snapshot, except the last (nothing follows it to show that it is missing).
  const applied = depth.filter(({ i }) => i > rest + 1).slice(0, -1);

  it("catches any single update removed, duplicated or with its ids altered", async () => {
    expect(applied.length).toBeGreaterThan(250);
    for (const [n, { i, text }] of applied.entries()) {
      await breathe();
      // The session up to the update that shows the change: nothing later matters.
      const upTo = msgs.slice(0, (depth.find((d) => d.i > i) ?? applied[n]!).i + 1);
      const removed = run(
        "binance",
        upTo.filter((_, j) => j !== i),
      ).stats;
      expect(removed.gaps, `line ${i + 1} removed`).toBe(1);
      expect(removed.resyncs).toBe(0); // the capture holds no later snapshot
      const duplicated = run("binance", [...upTo.slice(0, i + 1), msgs[i]!, ...upTo.slice(i + 1)]).stats;
      expect(duplicated.duplicates, `line ${i + 1} duplicated`).toBe(1);
      expect(duplicated.gaps).toBe(0);
      const U = /"U":(\d+)/.exec(text)!;
      const mutated = [...upTo];
      mutated[i] = withText(msgs[i]!, text.replace(U[0], `"U":${BigInt(U[1]!) + 1n}`));
      expect(caught(run("binance", mutated).stats), `line ${i + 1} altered`).toBeGreaterThan(0);
    }
  });

  it("keeps ids and decimals exact", () => {
    const { records } = run("binance", msgs);
    const trade = records.find((r) => r.kind === "trade")!;
    expect(trade).toMatchObject({
      symbol: "BTCUSDT",
      price: "61837.63000000",
      size: "0.02000000",
      side: "sell",
    });
    expect(trade.tradeId).toBe("3735683259");
    const first = records.find((r) => r.kind === "book" && !r.snapshot);
    expect(first?.kind === "book" && typeof first.seq).toBe("bigint");
  });
});

describe("Binance USD-M, genuine sessions (REST snapshot + depth diffs chained by pu)", async () => {
  const sessions = { USDM_2021: await load(USDM_2021), USDM_2024: await load(USDM_2024) };

  it("syncs every book from its snapshot and never breaks the pu chain", () => {
    for (const msgs of Object.values(sessions)) {
      const { stats, records } = run("binance-usdm", msgs);
      clean(stats);
      expect(stats.restResponses).toBeGreaterThan(0);
      expect(records.some((r) => r.kind === "book" && !r.snapshot)).toBe(true);
    }
    const four = run("binance-usdm", sessions.USDM_2021);
    const synced = new Set(four.records.filter((r) => r.kind === "book" && r.snapshot).map((r) => r.symbol));
    expect([...synced].sort()).toEqual(["AKROUSDT", "CTKUSDT", "KEEPUSDT", "SUSHIUSDT"]);
  });

  const msgs = sessions.USDM_2024;
  const depth = msgs
    .map((m, i) => ({ i, text: textOf(m) }))
    .filter(({ text }) => text.includes('"depthUpdate"'));
  const rest = msgs.findIndex((m) => m.kind === "rest");
  // Updates applied after the one that crosses the snapshot, except the last (nothing follows it).
  const applied = depth.filter(({ i }) => i > rest + 1).slice(1, -1);

  it("catches any single update removed, duplicated or with its pu altered", async () => {
    expect(applied.length).toBeGreaterThan(250);
    for (const [n, { i, text }] of applied.entries()) {
      await breathe();
      const upTo = msgs.slice(0, (depth.find((d) => d.i > i) ?? applied[n]!).i + 1);
      const removed = run(
        "binance-usdm",
        upTo.filter((_, j) => j !== i),
      ).stats;
      expect(removed.gaps, `line ${i + 1} removed`).toBe(1);
      const duplicated = run("binance-usdm", [...upTo.slice(0, i + 1), msgs[i]!, ...upTo.slice(i + 1)]).stats;
      expect(duplicated.duplicates, `line ${i + 1} duplicated`).toBe(1);
      expect(duplicated.gaps).toBe(0);
      const pu = /"pu":(\d+)/.exec(text)!;
      const mutated = [...upTo];
      mutated[i] = withText(msgs[i]!, text.replace(pu[0], `"pu":${BigInt(pu[1]!) + 1n}`));
      expect(run("binance-usdm", mutated).stats.gaps, `line ${i + 1} altered`).toBe(1);
    }
  });

  it("keeps ids and decimals exact, trailing zeros included", () => {
    const { records } = run("binance-usdm", msgs);
    const trade = records.find((r) => r.kind === "trade")!;
    expect(trade).toMatchObject({ symbol: "BTCUSDT", price: "61800.30", size: "0.006", side: "buy" });
    expect(trade.tradeId).toBe("5266583935");
    const bbo = records.find((r) => r.kind === "bbo")!;
    expect(bbo).toMatchObject({ bidPrice: "61800.20", bidSize: "2.507" });
  });
});

describe("Deribit, a genuine 2021 session (book.raw snapshots and changes, tickers)", async () => {
  const msgs = await load(DERIBIT_2021);
  const changes = msgs
    .map((m, i) => ({ i, text: textOf(m) }))
    .filter(({ text }) => text.includes('"type":"change"'));

  it("syncs every book from its snapshot, follows every prev_change_id, keeps the digits sent", () => {
    const { stats, records, connector } = run("deribit", msgs);
    clean(stats);
    const instruments = msgs
      .map((m) => /"type":"snapshot","timestamp":\d+,"instrument_name":"([^"]+)"/.exec(textOf(m))?.[1])
      .filter((x): x is string => x !== undefined);
    expect(instruments).toHaveLength(10);
    for (const inst of instruments) expect(connector.bookOf(inst)?.synced, inst).toBe(true);
    expect(records.filter((r) => r.kind === "book" && !r.snapshot).length).toBeGreaterThan(30);
    // Amounts are JSON numbers: "4714.0" stays as sent.
    expect(records.find((r) => r.kind === "book" && r.price === "0.0015")).toMatchObject({ size: "4714.0" });
    expect(records.filter((r) => r.kind === "bbo").length).toBe(89);
  });

  it("catches any single change removed or duplicated", async () => {
    expect(changes.length).toBe(36);
    let removedCaught = 0;
    for (const { i, text } of changes) {
      await breathe();
      const inst = /"instrument_name":"([^"]+)"/.exec(text)![1]!;
      const later = changes.find((c) => c.i > i && c.text.includes(`"instrument_name":"${inst}"`));
      if (later !== undefined) {
        const removed = run(
          "deribit",
          msgs.filter((_, j) => j !== i),
        ).stats;
        expect(removed.gaps, `line ${i + 1} removed`).toBe(1);
        removedCaught++;
      }
      const dup = run("deribit", [...msgs.slice(0, i + 1), msgs[i]!, ...msgs.slice(i + 1)]).stats;
      expect(dup.duplicates, `line ${i + 1} duplicated`).toBe(1);
      expect(dup.gaps).toBe(0);
    }
    expect(removedCaught).toBeGreaterThan(20);
  });
});

describe("messages of symbols not asked for", () => {
  it("are counted and kept as raw records of no symbol: no record, book or state of their own", async () => {
    const sessions: [VenueId, string][] = [
      ["okx", OKX],
      ["binance", BINANCE_2024],
      ["binance-usdm", USDM_2021],
      ["deribit", DERIBIT_2021],
      ["kraken", "fixtures/real/kraken-v2-doc-book-snapshot.jsonl"],
    ];
    for (const [venue, file] of sessions) {
      const msgs = await load(file);
      const records: RecordInput[] = [];
      // A selection the session's symbols are not in (a venue may send others: a shared channel, a hostile peer).
      const connector = createConnector(venue, {
        symbols: ["NOT-ASKED"],
        trades: true,
        book: true,
        bbo: true,
      });
      const feed = new Feed(connector, { raw: true, sink: (r) => records.push(r) });
      for (const m of msgs) feed.receive(m);
      // Raw records of messages before any time (a capture of bare frames) are held until one is known.
      feed.releaseTimeless();
      const kinds = new Set(records.map((r) => r.kind));
      expect(
        [...kinds].filter((k) => k !== "raw" && k !== "event"),
        venue,
      ).toEqual([]);
      expect(records.filter((r) => r.kind === "raw").length, venue).toBe(msgs.length);
      expect(new Set(records.map((r) => r.symbol)), venue).toEqual(new Set([""]));
      expect(feed.stats.ignoredFrames, venue).toBeGreaterThan(0);
      expect(
        [...connector.allBooks()].map((b) => b.symbol),
        venue,
      ).toEqual(["NOT-ASKED"]);
    }
  });
});
