import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type BookRow, type EventRow, OrderBook, openDataset, type TapeRecord } from "../../src/index.js";
import { collect, DAY0, tempDir, writeDataset } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const row = (
  side: "bid" | "ask",
  price: number,
  size: number,
  snapshot = false,
  ts = 1,
  seq: number | null = null,
): BookRow => ({
  exchange: "okx",
  kind: "book",
  symbol: "BTC",
  ts,
  recvTs: null,
  side,
  price,
  size,
  snapshot,
  seq,
});
const event = (type: EventRow["type"], ts = 2): EventRow => ({
  exchange: "okx",
  kind: "event",
  symbol: "BTC",
  ts,
  recvTs: null,
  type,
  seqBefore: 1,
  seqAfter: 5,
  message: "seq 1 then 5",
});

describe("OrderBook", () => {
  it("rebuilds levels from a snapshot and updates, and answers the usual questions", () => {
    const b = new OrderBook("BTC");
    expect(b.valid).toBe(false);
    expect(b.invalidReason).toBe("no snapshot yet");
    for (const r of [
      row("bid", 100, 1, true),
      row("bid", 99, 2, true),
      row("ask", 101, 3, true),
      row("ask", 102, 4, true),
    ])
      b.apply(r);
    expect(b.valid).toBe(true);
    expect(b.bestBid()).toEqual({ price: 100, size: 1 });
    expect(b.bestAsk()).toEqual({ price: 101, size: 3 });
    expect(b.mid()).toBe(100.5);
    expect(b.spread()).toBe(1);
    b.apply(row("bid", 100.5, 7, false, 2));
    b.apply(row("ask", 101, 0, false, 2));
    expect(b.top(2)).toEqual({
      bids: [
        { price: 100.5, size: 7 },
        { price: 100, size: 1 },
      ],
      asks: [{ price: 102, size: 4 }],
    });
    expect(b.depthAt("bid", 99)).toBe(2);
    expect(b.depthAt("ask", 101)).toBe(0);
    expect([b.bidLevels, b.askLevels]).toEqual([3, 1]);
    // Other symbols are ignored; deleting an absent level changes nothing.
    b.apply({ ...row("bid", 200, 1), symbol: "ETH" });
    b.apply(row("ask", 500, 0));
    expect(b.bestBid()?.price).toBe(100.5);
    expect(b.askLevels).toBe(1);
  });

  it("a gap or checksum failure makes it invalid, with the reason, until the next snapshot replaces it", () => {
    const b = new OrderBook("BTC");
    b.apply(row("bid", 100, 1, true, 1, 10));
    b.apply(event("checksum_failure", 3));
    expect(b.valid).toBe(false);
    expect(b.invalidReason).toContain("checksum_failure");
    b.apply(event("info", 4));
    expect(b.valid).toBe(false);
    b.apply(row("bid", 90, 1, true, 5, 20));
    b.apply(row("ask", 91, 1, true, 5, 20));
    expect(b.valid).toBe(true);
    expect(b.invalidReason).toBeNull();
    expect(b.top(5).bids).toEqual([{ price: 90, size: 1 }]);
    // A second snapshot right after the first (another sequence id) replaces it.
    b.apply(row("bid", 80, 1, true, 5, 21));
    expect(b.top(5)).toEqual({ bids: [{ price: 80, size: 1 }], asks: [] });
  });
});

/** A plain reference: a Map per side, the same rules, nothing clever. */
function naive(records: TapeRecord[], at: bigint) {
  const bids = new Map<string, string>();
  const asks = new Map<string, string>();
  let valid = false;
  let snap: string | null = null;
  for (const r of records) {
    if (r.ts > at) break;
    if (r.kind === "event") {
      if (r.type === "gap" || r.type === "checksum_failure" || r.type === "disconnect") {
        valid = false;
        snap = null;
      }
      continue;
    }
    if (r.kind !== "book") continue;
    if (r.snapshot) {
      const id = `${r.ts}/${r.seq}`;
      if (id !== snap) {
        bids.clear();
        asks.clear();
        snap = id;
        valid = true;
      }
    } else snap = null;
    const side = r.side === "bid" ? bids : asks;
    if (r.size === "0") side.delete(r.price);
    else side.set(r.price, r.size);
  }
  const levels = (m: Map<string, string>, desc: boolean) =>
    [...m.entries()]
      .map(([p, s]) => ({ price: Number(p), size: Number(s) }))
      .sort((a, b) => (desc ? b.price - a.price : a.price - b.price));
  return { valid, bids: levels(bids, true), asks: levels(asks, false) };
}

const step = 1_000_000n;
const bookRecordsArb = fc
  .array(
    fc.oneof(
      {
        weight: 1,
        arbitrary: fc.record({ t: fc.constant("snap" as const), n: fc.integer({ min: 1, max: 4 }) }),
      },
      {
        weight: 8,
        arbitrary: fc.record({
          t: fc.constant("upd" as const),
          side: fc.constantFrom("bid", "ask"),
          p: fc.integer({ min: 0, max: 6 }),
          s: fc.integer({ min: 0, max: 3 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("gap" as const) }) },
    ),
    { maxLength: 60 },
  )
  .map((ops) => {
    const out: TapeRecord[] = [];
    let seq = 0n;
    ops.forEach((op, i) => {
      const ts = DAY0 + BigInt(i) * step;
      seq += 1n;
      if (op.t === "snap") {
        for (let k = 0; k < op.n; k++) {
          out.push({
            kind: "book",
            symbol: "BTC",
            ts,
            side: "bid",
            price: `${100 - k}`,
            size: `${k + 1}`,
            snapshot: true,
            seq,
          });
          out.push({
            kind: "book",
            symbol: "BTC",
            ts,
            side: "ask",
            price: `${101 + k}`,
            size: `${k + 1}`,
            snapshot: true,
            seq,
          });
        }
      } else if (op.t === "upd") {
        const price = op.side === "bid" ? `${97 + op.p}.5` : `${98 + op.p}.5`;
        out.push({
          kind: "book",
          symbol: "BTC",
          ts,
          side: op.side as "bid" | "ask",
          price,
          size: `${op.s}`,
          snapshot: false,
          seq,
        });
      } else
        out.push({
          kind: "event",
          symbol: "BTC",
          ts,
          type: "gap",
          message: "lost",
          seqBefore: seq - 1n,
          seqAfter: seq,
        });
    });
    return out;
  });

describe("books from a dataset", () => {
  it("the book at t equals the book built by applying every record up to t; the grid agrees too", async () => {
    await fc.assert(
      fc.asyncProperty(bookRecordsArb, fc.integer({ min: 0, max: 70 }), async (records, k) => {
        const { dir, remove } = await tempDir();
        try {
          await writeDataset(dir, [
            { exchange: "okx", hour: DAY0, captureId: "a", records, policy: { maxRows: 7 } },
          ]);
          const ds = await openDataset(dir);
          const at = DAY0 + BigInt(k) * step;
          const [snap] = await collect(ds.books({ symbol: "BTC", at }));
          const want = naive(records, at);
          expect(snap!.at).toBe(at);
          expect({ valid: snap!.book.valid, ...snap!.book.top(1000) }).toEqual(want);
          const grid = await collect(
            ds.books({ symbol: "BTC", every: 3_000_000n, from: DAY0, to: DAY0 + 64n * step }),
          );
          expect(grid.length).toBe(22);
          for (const g of grid)
            expect({ valid: g.book.valid, ...g.book.top(1000) }).toEqual(naive(records, g.at));
        } finally {
          await remove();
        }
      }),
      { numRuns: 60 },
    );
  });

  it("asks for either an instant or a grid", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const ds = await openDataset(dir);
    await expect(collect(ds.books({ symbol: "BTC" }))).rejects.toMatchObject({ code: "E_TAPE_VALUE" });
    await expect(collect(ds.books({ symbol: "BTC", every: "1s" }))).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
    });
    await expect(
      collect(ds.books({ symbol: "BTC", every: "soon", from: DAY0, to: DAY0 + 1n })),
    ).rejects.toMatchObject({ code: "E_TAPE_VALUE" });
  });
});
