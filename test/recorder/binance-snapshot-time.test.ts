/**
 * A Binance spot REST snapshot has no exchange time, and its buffered updates were sent before it arrived: the book
 * rebuilt from the files must still equal the connector's after every message, whatever the host clock reads.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type OrderBook, openDataset } from "../../src/index.js";
import { readCapture } from "../../src/recorder/capture.js";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { Feed } from "../../src/recorder/feed.js";
import { ingest } from "../../src/recorder/ingest.js";
import { tempDir } from "../reader/helpers.js";

const T = 1_700_000_000_000;

/** Capture lines; the host clock reads exchange time + `skewMs`, a message arrives 20 ms late. */
function captureLines(skewMs: number) {
  const lines: string[] = [];
  const depth = (e: number, first: number, last: number, b: string[][], a: string[][]) =>
    lines.push(
      JSON.stringify({
        recv_ns: `${BigInt(e + skewMs) * 1_000_000n + 20_000_000n}`,
        frame: JSON.stringify({
          stream: "btcusdt@depth@100ms",
          data: { e: "depthUpdate", E: e, s: "BTCUSDT", U: first, u: last, b, a },
        }),
      }),
    );
  const rest = (ms: number, lastUpdateId: number, bids: string[][], asks: string[][]) =>
    lines.push(
      JSON.stringify({
        recv_ns: `${BigInt(ms + skewMs) * 1_000_000n}`,
        rest: "/api/v3/depth?symbol=BTCUSDT&limit=5000",
        body: JSON.stringify({ lastUpdateId, bids, asks }),
      }),
    );
  return { lines, depth, rest };
}

/** A short session: updates buffered before each snapshot, one straddling it, a gap between. */
function session(skewMs: number): string {
  const { lines, depth, rest } = captureLines(skewMs);
  depth(T, 1, 5, [["100.00", "5"]], [["101.00", "0"]]); // buffered; straddles the snapshot: applied after it
  rest(
    T + 50,
    3,
    [
      ["100.00", "1"],
      ["99.00", "1"],
    ],
    [
      ["101.00", "1"],
      ["102.00", "1"],
    ],
  );
  depth(T + 100, 6, 7, [["98.00", "1"]], []);
  depth(T + 300, 10, 11, [["97.00", "1"]], []); // 8..9 lost: a gap
  rest(
    T + 320,
    12,
    [
      ["100.00", "5"],
      ["99.00", "1"],
      ["98.00", "1"],
      ["97.00", "1"],
      ["96.00", "2"],
    ],
    [["102.00", "1"]],
  );
  depth(T + 400, 13, 13, [["95.00", "1"]], []);
  return `${lines.join("\n")}\n`;
}

/** The snapshot answers before the stream's first update: its rows must still sort before the updates after it. */
function snapshotFirst(skewMs: number): string {
  const { lines, depth, rest } = captureLines(skewMs);
  rest(T, 3, [["100.00", "1"]], [["101.00", "1"]]);
  depth(T + 50, 4, 5, [["98.00", "1"]], []);
  depth(T + 150, 6, 6, [["97.00", "1"]], []);
  depth(
    T + 250,
    7,
    7,
    [],
    [
      ["101.00", "0"],
      ["103.00", "2"],
    ],
  );
  return `${lines.join("\n")}\n`;
}

type Ladder = { valid: boolean; bids: [number, number][]; asks: [number, number][] };

describe("binance spot snapshots in the files", () => {
  const cases = [0, 1300, -500].flatMap((skewMs) => [
    { skewMs, name: "updates buffered", text: session },
    { skewMs, name: "snapshot first", text: snapshotFirst },
  ]);
  for (const { skewMs, name, text } of cases) {
    it(`rebuild the connector's book after every message (${name}, host clock ${skewMs} ms off)`, async () => {
      const { dir } = await tempDir();
      const capture = join(dir, "session.jsonl");
      await writeFile(capture, text(skewMs));
      // The connector's book after each message, at the exchange time of the last row or event it wrote.
      const connector = createConnector("binance", { symbols: [], trades: true, book: true, bbo: true });
      let lastTs = 0n;
      const feed = new Feed(connector, {
        raw: false,
        sink: (r) => {
          if ((r.kind === "book" || r.kind === "event") && typeof r.ts === "bigint" && r.ts > lastTs)
            lastTs = r.ts;
        },
      });
      const states: { at: bigint; want: Ladder }[] = [];
      for await (const m of readCapture(capture)) {
        feed.receive(m);
        const b = connector.bookOf("BTCUSDT")!;
        if (lastTs === 0n) continue;
        const side = (s: typeof b.book.bids) =>
          s.top(100).map((l): [number, number] => [Number(l.price), Number(l.size)]);
        states.push({
          at: lastTs + 1n,
          want: { valid: b.synced, bids: side(b.book.bids), asks: side(b.book.asks) },
        });
      }
      await ingest({ venue: "binance", inputs: [capture], out: join(dir, "out"), raw: false });
      const ds = await openDataset(join(dir, "out"));
      // The last state at each instant (several messages may end at one time).
      const byAt = new Map(states.map((s) => [s.at, s.want]));
      expect(byAt.size).toBeGreaterThanOrEqual(3);
      for (const [at, want] of byAt) {
        let book: OrderBook | null = null;
        for await (const snap of ds.books({ symbol: "BTCUSDT", at })) book = snap.book;
        const got: Ladder = {
          valid: book!.valid,
          bids: book!.top(100).bids.map((l): [number, number] => [l.price, l.size]),
          asks: book!.top(100).asks.map((l): [number, number] => [l.price, l.size]),
        };
        expect(got, `at ${at}`).toEqual(want);
      }
    });
  }
});

describe("binance books", () => {
  it("are found by a symbol in lower case, and a crossed book reads as invalid in the files", async () => {
    const { dir } = await tempDir();
    const capture = join(dir, "crossed.jsonl");
    const text = session(0).split("\n").slice(0, 3).join("\n");
    // Then a bid above the best ask (102): the book has missed an update.
    const crossed = JSON.stringify({
      recv_ns: `${BigInt(T + 150) * 1_000_000n + 20_000_000n}`,
      frame: JSON.stringify({
        stream: "btcusdt@depth@100ms",
        data: { e: "depthUpdate", E: T + 150, s: "BTCUSDT", U: 8, u: 8, b: [["103.00", "1"]], a: [] },
      }),
    });
    await writeFile(capture, `${text}\n${crossed}\n`);
    const connector = createConnector("binance", {
      symbols: ["btcusdt"],
      trades: true,
      book: true,
      bbo: true,
    });
    const events: string[] = [];
    const feed = new Feed(connector, {
      raw: false,
      sink: (r) => {
        if (r.kind === "event") events.push(r.type);
      },
    });
    for await (const m of readCapture(capture)) feed.receive(m);
    expect(connector.bookOf("btcusdt")?.synced).toBe(false);
    expect(events).toEqual(["crossed_book", "gap"]);
    await ingest({ venue: "binance", inputs: [capture], out: join(dir, "out"), raw: false });
    const ds = await openDataset(join(dir, "out"));
    for await (const snap of ds.books({ symbol: "BTCUSDT", at: BigInt(T + 200) * 1_000_000n })) {
      expect(snap.book.valid).toBe(false);
      expect(snap.book.invalidReason).toMatch(/gap: updates not written until the book is resynchronised/);
    }
  });
});

describe("binance update ids that go back", () => {
  for (const venue of ["binance", "binance-usdm"] as const) {
    it(`are a gap on ${venue}, not duplicates that would freeze the book`, () => {
      const connector = createConnector(venue, {
        symbols: ["BTCUSDT"],
        trades: false,
        book: true,
        bbo: false,
      });
      const events: string[] = [];
      const feed = new Feed(connector, {
        raw: false,
        sink: (r) => {
          if (r.kind === "event") events.push(`${r.type}: ${r.message}`);
        },
      });
      let n = 0;
      const depth = (first: number, last: number, prev: number) =>
        feed.receive({
          kind: "frame",
          recvNs: BigInt(T + n++) * 1_000_000n,
          text: JSON.stringify({
            e: "depthUpdate",
            E: T + n,
            s: "BTCUSDT",
            U: first,
            u: last,
            ...(venue === "binance-usdm" ? { pu: prev } : {}),
            b: [["100.00", "1"]],
            a: [],
          }),
        });
      depth(11, 12, 10);
      const path = venue === "binance" ? "/api/v3/depth" : "/fapi/v1/depth";
      feed.receive({
        kind: "rest",
        recvNs: BigInt(T + n++) * 1_000_000n,
        path: `${path}?symbol=BTCUSDT&limit=1000`,
        body: JSON.stringify({ lastUpdateId: 11, E: T, T, bids: [["99.00", "1"]], asks: [["101.00", "1"]] }),
      });
      depth(13, 14, 12);
      depth(13, 14, 12); // sent twice: a duplicate
      depth(5, 6, 4); // the ids went back
      expect(feed.stats.duplicates).toBe(1);
      expect(events).toEqual(["gap: update 5..6 after 14: the ids went back"]);
      expect(connector.bookOf("BTCUSDT")!.synced).toBe(false);
    });
  }
});
