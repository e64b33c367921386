import { rename } from "node:fs/promises";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type BookRow, type EventRow, OrderBook, openDataset, type TapeRecord } from "../../src/index.js";
import { collect, DAY0, HOUR, locateAll, referenceOrder, tempDir, writeDataset } from "./helpers.js";

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

/**
 * What must agree: validity, and the levels of a valid book. An invalid book's levels mean nothing (without a
 * checkpoint, a rebuild from the start of a range and one from the start of the data differ until a snapshot).
 */
function comparable(b: { valid: boolean; bids: unknown[]; asks: unknown[] }) {
  return b.valid ? b : { valid: false };
}
function state(book: OrderBook) {
  return comparable({ valid: book.valid, ...book.top(1000) });
}
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
    { minLength: 15, maxLength: 60, size: "max" },
  )
  .chain((ops) =>
    fc.tuple(
      fc.constant(ops),
      fc.array(fc.integer({ min: 0, max: 11 }), { minLength: ops.length, maxLength: ops.length }),
    ),
  )
  .map(([ops, jitter]) => {
    const out: TapeRecord[] = [];
    let seq = 0n;
    ops.forEach((op, i) => {
      // Now and then a row older than the one before it (streams are not always in time order), and receive
      // times on some rows: the books must follow the replay order all the same.
      const j = jitter[i]!;
      const ts = DAY0 + BigInt(i) * step - (j === 0 ? 2n * step + 1n : 0n);
      const recv = j % 3 === 0 ? {} : { recvTs: ts + BigInt(j) };
      seq += 1n;
      if (op.t === "snap") {
        for (let k = 0; k < op.n; k++) {
          out.push({
            kind: "book",
            symbol: "BTC",
            ts,
            ...recv,
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
            ...recv,
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
          ...recv,
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
          ...recv,
          type: "gap",
          message: "lost",
          seqBefore: seq - 1n,
          seqAfter: seq,
        });
    });
    return out;
  });

describe("books from a dataset", () => {
  const lvl = (ms: bigint, side: "bid" | "ask", price: string, snapshot = false): TapeRecord => ({
    kind: "book",
    symbol: "BTC",
    ts: DAY0 + ms * step,
    side,
    price,
    size: "1",
    snapshot,
    seq: 1n,
  });
  /** A snapshot at 0 ms, then an ask update each ms up to 30 ms. */
  const btcLadder = () => {
    const rows = [lvl(0n, "bid", "100", true), lvl(0n, "ask", "101", true)];
    for (let i = 1n; i <= 30n; i++) rows.push(lvl(i, "ask", `${101 + Number(i % 3n)}`));
    return rows;
  };

  it("the book at t equals the book built by applying every record up to t; the grid agrees too", async () => {
    let fromCheckpoint = 0;
    await fc.assert(
      fc.asyncProperty(
        bookRecordsArb,
        fc.integer({ min: 0, max: 70 }),
        fc.constantFrom(0, 1_000_000, 4_000_000),
        fc.integer({ min: 1, max: 59 }),
        async (records, k, checkpointIntervalNs, split) => {
          const { dir, remove } = await tempDir();
          try {
            // Two files of one feed (the next hour's holds the later rows), checkpoints every few ms or none.
            const cut = DAY0 + BigInt(split) * step;
            const policy = { maxRows: 7, checkpointIntervalNs, checkpointRowsPerLevel: 1 };
            await writeDataset(dir, [
              {
                exchange: "okx",
                hour: DAY0,
                captureId: "a",
                records: records.filter((r) => r.ts < cut),
                policy,
              },
              {
                exchange: "okx",
                hour: DAY0 + HOUR,
                captureId: "a",
                records: records.filter((r) => r.ts >= cut),
                policy,
              },
            ]);
            const ds = await openDataset(dir);
            // The reference: every row in the documented replay order, applied naively.
            const ordered = referenceOrder(await locateAll(ds.files.map((f) => f.path))).map((l) => l.record);
            const at = DAY0 + BigInt(k) * step;
            const [snap] = await collect(ds.books({ symbol: "BTC", at }));
            expect(snap!.at).toBe(at);
            expect(state(snap!.book)).toEqual(comparable(naive(ordered, at)));
            if (snap!.checkpoint !== null) fromCheckpoint++;
            const grid = await collect(
              ds.books({ symbol: "BTC", every: 3_000_000n, from: DAY0, to: DAY0 + 64n * step }),
            );
            expect(grid.length).toBe(22);
            for (const g of grid) {
              // The grid is rebuilt from `from` (DAY0) when no checkpoint helps: a book that is valid must be the
              // true one; an invalid one is a correct answer only when [from, at] holds no snapshot to start from.
              const want = comparable(naive(ordered, g.at));
              const got = state(g.book);
              if (got.valid || !want.valid) expect(got).toEqual(want);
              else {
                expect(g.checkpoint).toBeNull();
                expect(
                  ordered.some((r) => r.kind === "book" && r.snapshot && r.ts >= DAY0 && r.ts <= g.at),
                ).toBe(false);
              }
            }
          } finally {
            await remove();
          }
        },
      ),
      { numRuns: 80 },
    );
    // The checkpoints were used, not only the full rebuild.
    expect(fromCheckpoint).toBeGreaterThan(5);
  });

  it("a checkpoint that another file of the feed contradicts is not used", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const first = btcLadder();
    // The next hour's file holds a late row from 10 ms: inside what the checkpoints of the first file cover.
    const late = { ...lvl(10n, "bid", "99.5") };
    const firstFile = {
      exchange: "okx",
      hour: DAY0,
      captureId: "a",
      records: first,
      policy: { checkpointIntervalNs: 2_000_000, checkpointRowsPerLevel: 1 },
    };
    await writeDataset(dir, [
      firstFile,
      { exchange: "okx", hour: DAY0 + HOUR, captureId: "a", records: [late] },
    ]);
    const ds = await openDataset(dir);
    const at = DAY0 + 20n * step;
    const [snap] = await collect(ds.books({ symbol: "BTC", at }));
    expect(snap!.checkpoint).toBeNull();
    expect({ valid: snap!.book.valid, ...snap!.book.top(100) }).toEqual(
      naive(
        [...first, late].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)),
        at,
      ),
    );
    expect(snap!.book.depthAt("bid", 99.5)).toBe(1);
    // Without the late row, the same question is answered from a checkpoint.
    const { dir: dir2, remove: remove2 } = await tempDir();
    cleanups.push(remove2);
    await writeDataset(dir2, [firstFile]);
    const [snap2] = await collect((await openDataset(dir2)).books({ symbol: "BTC", at }));
    expect(snap2!.checkpoint).not.toBeNull();
    expect(snap2!.checkpoint!.ts <= at && snap2!.checkpoint!.ts > DAY0).toBe(true);
    expect({ valid: snap2!.book.valid, ...snap2!.book.top(100) }).toEqual(naive(first, at));
  });

  it("a rebuild from a checkpoint before the dataset's range reads the feed's files of that time too", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    // Hour 1 holds the snapshot, updates and checkpoints; hour 0 a gap of the symbol late in hour 1 (a file may hold
    // records up to an hour outside its own); hour 2 nothing of it. A range from hour 2 lists neither hour 0 nor 1.
    const gapAt = DAY0 + HOUR + 30n * 60_000_000_000n;
    await writeDataset(dir, [
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records: [{ kind: "event", symbol: "BTC", ts: gapAt, type: "gap", message: "lost updates" }],
      },
      {
        exchange: "okx",
        hour: DAY0 + HOUR,
        captureId: "a",
        records: btcLadder().map((r) => ({ ...r, ts: r.ts + HOUR })),
        policy: { checkpointIntervalNs: 2_000_000, checkpointRowsPerLevel: 1 },
      },
      {
        exchange: "okx",
        hour: DAY0 + 2n * HOUR,
        captureId: "a",
        records: [{ kind: "trade", symbol: "X", ts: DAY0 + 2n * HOUR, price: "1", size: "1", side: "buy" }],
      },
    ]);
    const at = DAY0 + 2n * HOUR + 30n * 60_000_000_000n;
    for (const ds of [
      await openDataset(dir),
      await openDataset(dir, { from: DAY0 + 2n * HOUR, to: at + 1n }),
    ]) {
      const [snap] = await collect(ds.books({ symbol: "BTC", at }));
      // From the checkpoint in hour 1, and the gap in hour 0's file applied after it: the book is not valid.
      expect(snap!.checkpoint).not.toBeNull();
      expect(snap!.book.valid).toBe(false);
      expect(snap!.book.invalidReason).toMatch(/gap: lost updates/);
    }
  });

  it("a .open file sealed after the dataset was listed still gives its checkpoint", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const rows = btcLadder();
    const [sealed] = await writeDataset(dir, [
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records: rows,
        policy: { checkpointIntervalNs: 2_000_000, checkpointRowsPerLevel: 1 },
      },
    ]);
    // Listed while its writer still had it under the .open name; sealed (renamed) before the book is asked for.
    await rename(sealed!, `${sealed}.open`);
    const ds = await openDataset(dir, { includeOpen: true });
    expect(ds.files.map((f) => f.open)).toEqual([true]);
    await rename(`${sealed}.open`, sealed!);
    const at = DAY0 + 20n * step;
    const [snap] = await collect(ds.books({ symbol: "BTC", at }));
    expect(snap!.checkpoint).not.toBeNull();
    expect(snap!.checkpoint!.file).toBe(sealed);
    expect({ valid: snap!.book.valid, ...snap!.book.top(100) }).toEqual(naive(rows, at));
  });

  it("the book does not depend on the dataset's selection, honours feed-wide events and survives a damaged checkpoint", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const lvl = (
      ms: bigint,
      side: "bid" | "ask",
      price: string,
      size: string,
      snapshot = false,
    ): TapeRecord => ({
      kind: "book",
      symbol: "BTC",
      ts: DAY0 + ms * step,
      side,
      price,
      size,
      snapshot,
      seq: ms,
    });
    const rows = [lvl(0n, "bid", "100", "1", true), lvl(0n, "ask", "101", "1", true)];
    for (let i = 1n; i <= 40n; i++) rows.push(lvl(i, "bid", "99", `${i}`));
    // A loss for the whole feed (no symbol: a lost file) at 30 ms makes every book invalid after it; the close of
    // one connection at 25 ms does not (the recorder writes a loss event for each book the connection carried).
    const feedEvent = (ms: bigint, type: "disconnect" | "gap", message: string): TapeRecord => ({
      kind: "event",
      symbol: "",
      ts: DAY0 + ms * step + 1n,
      type,
      message,
    });
    const closed = feedEvent(25n, "disconnect", "socket 1 closed (replaced by a newer one)");
    const disconnect = feedEvent(30n, "gap", "a file lost");
    const [path] = await writeDataset(dir, [
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records: [...rows, closed, disconnect],
        policy: { checkpointIntervalNs: 5_000_000, checkpointRowsPerLevel: 1 },
      },
    ]);
    const at = DAY0 + 20n * step;
    const full = await openDataset(dir);
    const [ref] = await collect(full.books({ symbol: "BTC", at }));
    expect(ref!.checkpoint).not.toBeNull();
    expect(ref!.book.depthAt("bid", 99)).toBe(20);
    // A dataset opened for trades of another symbol: the book is the same.
    const narrow = await openDataset(dir, { kinds: ["trade"], symbols: ["ETH"] });
    const [same] = await collect(narrow.books({ symbol: "BTC", at }));
    expect(same!.book.top(10)).toEqual(ref!.book.top(10));
    // After the feed-wide loss the book is invalid, with the reason; not after the connection's close.
    const [between] = await collect(full.books({ symbol: "BTC", at: DAY0 + 28n * step }));
    expect(between!.book.valid).toBe(true);
    const [after] = await collect(full.books({ symbol: "BTC", at: DAY0 + 35n * step }));
    expect(after!.book.valid).toBe(false);
    expect(after!.book.invalidReason).toContain("a file lost");
    // A damaged checkpoint is a shortcut not taken: the book is rebuilt, the same.
    const { readFile, writeFile } = await import("node:fs/promises");
    const bytes = new Uint8Array(await readFile(path!));
    const { openTape } = await import("../../src/index.js");
    const r = await openTape(path!);
    for (const cp of r.checkpointBlocks()) bytes[cp.offset + cp.headerLength + 1]! ^= 0x55;
    await r.close();
    await writeFile(path!, bytes);
    const [rebuilt] = await collect((await openDataset(dir)).books({ symbol: "BTC", at }));
    expect(rebuilt!.checkpoint).toBeNull();
    expect(rebuilt!.book.top(10)).toEqual(ref!.book.top(10));
    // A feed that is not there is an error, not an empty book.
    await expect(collect(full.books({ symbol: "BTC", at, exchange: "okxx" }))).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
      field: "exchange",
    });
  });

  it("no checkpoint from a book appended out of time order, even when a later snapshot follows", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const lvl = (ms: bigint, price: string, size: string, snapshot = false, seq = ms): TapeRecord => ({
      kind: "book",
      symbol: "BTC",
      ts: DAY0 + ms * step,
      side: "bid",
      price,
      size,
      snapshot,
      seq,
    });
    // Appended: snapshot at 1, an update at 10, one at 5, a snapshot at 7, updates at 11 and 12. In time order
    // the update at 10 comes after the snapshot at 7, so it is in the book at 12.
    const records = [
      lvl(1n, "100", "1", true),
      lvl(10n, "50", "9"),
      lvl(5n, "60", "1"),
      lvl(7n, "100", "2", true),
      lvl(11n, "101", "1"),
      lvl(12n, "102", "1"),
    ];
    await writeDataset(dir, [
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records,
        policy: { checkpointIntervalNs: 1, checkpointRowsPerLevel: 1 },
      },
    ]);
    const [snap] = await collect((await openDataset(dir)).books({ symbol: "BTC", at: DAY0 + 12n * step }));
    expect(snap!.book.depthAt("bid", 50)).toBe(9);
    expect(snap!.book.depthAt("bid", 60)).toBe(0);
  });

  it("needs one feed: several exchanges or captures must be narrowed", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const r: TapeRecord = {
      kind: "book",
      symbol: "BTC",
      ts: DAY0,
      side: "bid",
      price: "1",
      size: "1",
      snapshot: true,
    };
    await writeDataset(dir, [
      { exchange: "okx", hour: DAY0, captureId: "a", records: [r] },
      { exchange: "okx", hour: DAY0, captureId: "b", records: [r] },
    ]);
    const ds = await openDataset(dir);
    await expect(collect(ds.books({ symbol: "BTC", at: DAY0 }))).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
      field: "capture",
    });
    const [one] = await collect(ds.books({ symbol: "BTC", at: DAY0, capture: "b" }));
    expect(one!.book.bestBid()).toEqual({ price: 1, size: 1 });
  });

  it("tells apart snapshots a few hundred ns apart, and says so when the feed asked for has no file", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const level = (ts: bigint, side: "bid" | "ask", price: string): TapeRecord => ({
      kind: "book",
      symbol: "BTC",
      ts,
      side,
      price,
      size: "1",
      snapshot: true,
    });
    // Two whole snapshots 100 ns apart: as doubles of ns, their times are equal.
    const t = DAY0 + 1_000_000_000n;
    await writeDataset(dir, [
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records: [
          level(t, "bid", "100"),
          level(t, "ask", "101"),
          level(t + 100n, "bid", "99"),
          level(t + 100n, "ask", "102"),
        ],
        policy: { checkpointIntervalNs: 0 },
      },
    ]);
    const ds = await openDataset(dir);
    const [at] = await collect(ds.books({ symbol: "BTC", at: t + 1000n }));
    expect(at!.book.bestBid()).toEqual({ price: 99, size: 1 });
    expect(at!.book.bestAsk()).toEqual({ price: 102, size: 1 });
    expect([at!.book.bidLevels, at!.book.askLevels]).toEqual([1, 1]);
    const other = await openDataset(dir, { exchanges: ["nosuch"] });
    await expect(collect(other.books({ symbol: "BTC", at: t, exchange: "nosuch" }))).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
      message: expect.stringMatching(/no file of nosuch in the dataset/),
    });
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
