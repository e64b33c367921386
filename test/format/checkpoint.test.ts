import { readFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BookState } from "../../src/format/book-state.js";
import { decodeCheckpoint } from "../../src/format/checkpoint.js";
import type { IntColumn, U8Column } from "../../src/format/columns.js";
import {
  type BookBatch,
  BytesSource,
  type Checkpoint,
  encodeTape,
  recordFromJson,
  TapeEncoder,
  TapeReader,
  type TapeRecord,
} from "../../src/index.js";
import { expectTapeError, thrown } from "./helpers.js";

/** A naive book per symbol: the records in append order, up to a checkpoint's positions. */
function naiveAt(records: TapeRecord[], symbol: string, bookRows: number, eventRows: number) {
  const sides = { bid: new Map<string, string>(), ask: new Map<string, string>() };
  let snap: string | null = null;
  let since = 0n;
  let maxTs = 0n;
  let lastChange = 0n;
  let b = 0;
  let e = 0;
  for (const r of records) {
    if (r.symbol !== symbol) continue;
    if (r.kind === "book" && b < bookRows) {
      b++;
      if (r.snapshot) {
        const id = `${r.ts}/${r.seq}`;
        if (id !== snap) {
          sides.bid.clear();
          sides.ask.clear();
          snap = id;
          since = r.ts;
        }
      } else snap = null;
      if (Number(r.size) === 0) sides[r.side].delete(String(Number(r.price)));
      else sides[r.side].set(String(Number(r.price)), String(Number(r.size)));
      lastChange = r.ts;
    } else if (r.kind === "event" && e < eventRows) {
      e++;
      if (r.type === "gap" || r.type === "checksum_failure" || r.type === "disconnect") lastChange = r.ts;
    } else continue;
    if (r.ts > maxTs) maxTs = r.ts;
  }
  const levels = (side: "bid" | "ask") =>
    [...sides[side].entries()]
      .sort(([a], [c]) => (side === "bid" ? Number(c) - Number(a) : Number(a) - Number(c)))
      .map(([price, size]) => ({ side, price, size }));
  return { ts: maxTs, since, lastChange, levels: [...levels("bid"), ...levels("ask")] };
}

async function checkpointsOf(bytes: Uint8Array): Promise<Checkpoint[]> {
  const reader = await TapeReader.open(new BytesSource(bytes));
  const out: Checkpoint[] = [];
  for (const b of reader.checkpointBlocks()) out.push(await reader.readCheckpoint(b));
  return out;
}

function expectMatches(records: TapeRecord[], cps: Checkpoint[]): void {
  for (const cp of cps) {
    const want = naiveAt(records, cp.symbol, cp.bookRows, cp.eventRows);
    expect({ ...cp, levels: cp.levels.map((l) => ({ ...l, price: String(Number(l.price)) })) }).toMatchObject(
      want,
    );
    // A clean cut in time: every later row of the symbol is newer.
    let b = 0;
    let e = 0;
    for (const r of records) {
      if (r.symbol !== cp.symbol || (r.kind !== "book" && r.kind !== "event")) continue;
      const later = r.kind === "book" ? b++ >= cp.bookRows : e++ >= cp.eventRows;
      if (later) expect(r.ts > cp.ts).toBe(true);
    }
  }
}

const MS = 1_000_000n;
const T0 = 1_732_500_000_000_000_000n;

const streamArb = fc
  .array(
    fc.record({
      dt: fc.constantFrom(0n, 0n, 1n, 3n * MS, 7n * MS),
      symbol: fc.constantFrom("A", "B"),
      op: fc.constantFrom("snap", "upd", "upd", "upd", "del", "gap", "info"),
      p: fc.integer({ min: 0, max: 8 }),
      s: fc.integer({ min: 1, max: 99 }),
    }),
    { maxLength: 120 },
  )
  .map((ops) => {
    let t = T0;
    const out: TapeRecord[] = [];
    let seq = 0n;
    for (const o of ops) {
      t += o.dt;
      seq++;
      const side = o.p % 2 === 0 ? "bid" : "ask";
      const price = side === "bid" ? `${100 - o.p}.5` : `${101 + o.p}.25`;
      if (o.op === "gap" || o.op === "info")
        out.push({ kind: "event", symbol: o.symbol, ts: t, type: o.op, message: o.op });
      else
        out.push({
          kind: "book",
          symbol: o.symbol,
          ts: t,
          side,
          price,
          size: o.op === "del" ? "0" : `0.${o.s}`,
          snapshot: o.op === "snap",
          seq,
        });
    }
    return out;
  });

describe("book checkpoints (format 1.1)", () => {
  it("the golden fixture's checkpoints hold the book its records build, at clean cuts in time", async () => {
    const dir = join(import.meta.dirname, "..", "..", "fixtures");
    const spec = JSON.parse(await readFile(join(dir, "book-checkpoints-zstd.json"), "utf8"));
    const bytes = await readFile(join(dir, "book-checkpoints-zstd.tape"));
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(reader.header.minor).toBe(1);
    const cps = await checkpointsOf(bytes);
    expect(cps.length).toBeGreaterThan(4);
    expect(new Set(cps.map((c) => c.symbol))).toEqual(new Set(["BTC-USDT", "ETH-USDT"]));
    expectMatches(spec.records.map(recordFromJson), cps);
    // None while BTC-USDT's book is invalid (the gap at 31 ms, the snapshot at 45 ms).
    const btc = cps.filter((c) => c.symbol === "BTC-USDT").map((c) => Number((c.ts - T0) / MS));
    expect(btc.some((ms) => ms >= 31 && ms < 45)).toBe(false);
    // Record readers do not see them; verify checks them.
    expect(reader.selectBlocks().some((b) => b.kindId === 6)).toBe(false);
    expect(await reader.verify()).toMatchObject({ ok: true, rows: spec.records.length });
  });

  it("any stream: every checkpoint equals the naive book at its position", async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, fc.constantFrom(1n, 5n * MS, 20n * MS), async (records, interval) => {
        const bytes = encodeTape(
          records,
          {},
          { policy: { maxRows: 7, checkpointIntervalNs: Number(interval), checkpointRowsPerLevel: 1 } },
        );
        const cps = await checkpointsOf(bytes);
        expectMatches(records, cps);
        for (const sym of ["A", "B"]) {
          const mine = cps.filter((c) => c.symbol === sym);
          for (let i = 0; i < mine.length; i++) {
            if (i > 0) expect(mine[i]!.ts - mine[i - 1]!.ts >= interval).toBe(true);
            // Never more levels than the book rows it saves replaying.
            const rows = mine[i]!.bookRows - (i > 0 ? mine[i - 1]!.bookRows : 0);
            expect(rows).toBeGreaterThanOrEqual(mine[i]!.levels.length);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("a quiet symbol with a deep book is checkpointed only once as many rows as levels came", async () => {
    const records: TapeRecord[] = [];
    const row = (ms: number, side: "bid" | "ask", price: number, snapshot: boolean): TapeRecord => ({
      kind: "book",
      symbol: "Q",
      ts: T0 + BigInt(ms) * MS,
      side,
      price: String(price),
      size: "1",
      snapshot,
      seq: 1n,
    });
    // 100 levels, then one update every 10 ms for 2 s: interval 50 ms.
    for (let i = 0; i < 50; i++) records.push(row(0, "bid", 1000 - i, true), row(0, "ask", 1001 + i, true));
    for (let i = 1; i <= 200; i++)
      records.push(row(i * 10, i % 2 ? "bid" : "ask", i % 2 ? 1000 : 1001, false));
    const cps = await checkpointsOf(
      encodeTape(records, {}, { policy: { checkpointIntervalNs: 50_000_000, checkpointRowsPerLevel: 1 } }),
    );
    expectMatches(records, cps);
    // The snapshot's 100 rows pay for the first (after 50 ms); each next one waits for 100 updates (1 s).
    expect(cps.map((c) => Number((c.ts - T0) / MS))).toEqual([50, 1050]);
    // Twice the levels: the snapshot and 100 updates pay for the first; the 100 updates left do not.
    const twice = await checkpointsOf(
      encodeTape(records, {}, { policy: { checkpointIntervalNs: 50_000_000, checkpointRowsPerLevel: 2 } }),
    );
    expectMatches(records, twice);
    expect(twice.map((c) => Number((c.ts - T0) / MS))).toEqual([1000]);
    // The default (16 rows a level): 300 rows of a 100-level book pay for none.
    const byDefault = await checkpointsOf(
      encodeTape(records, {}, { policy: { checkpointIntervalNs: 50_000_000 } }),
    );
    expect(byDefault).toEqual([]);
  });

  it("column batches write the same checkpoints as records", async () => {
    const records: TapeRecord[] = [];
    for (let i = 0; i < 200; i++)
      records.push({
        kind: "book",
        symbol: "X",
        ts: T0 + BigInt(i) * 2n * MS,
        side: i % 2 === 0 ? "bid" : "ask",
        price: String(i % 2 === 0 ? 100 - (i % 7) : 101 + (i % 5)),
        size: i % 9 === 0 ? "0" : `${(i % 13) + 1}.5`,
        snapshot: i < 10,
        seq: 7n,
      });
    const policy = { checkpointIntervalNs: 50_000_000, checkpointRowsPerLevel: 1 };
    const n = records.length;
    const batch: BookBatch = {
      ts: { base: T0, offsets: Float64Array.from(records, (r) => Number(r.ts - T0)) },
      side: Uint8Array.from(records, (r) => ((r as { side: string }).side === "bid" ? 0 : 1)),
      price: {
        mantissas: Float64Array.from(records, (r) => Number((r as { price: string }).price) * 10),
        scale: 1,
      },
      size: {
        mantissas: Float64Array.from(records, (r) => Number((r as { size: string }).size) * 10),
        scale: 1,
      },
      flags: Uint8Array.from(records, (r) => ((r as { snapshot: boolean }).snapshot ? 1 : 0)),
      seq: { base: 0n, offsets: new Float64Array(n).fill(7) },
    };
    const chunks: Uint8Array[] = [];
    const enc = new TapeEncoder(
      { exchange: "", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} },
      (b) => chunks.push(b.slice()),
      { policy },
    );
    enc.appendBatch("book", "X", batch, 77);
    const rest = (o: Float64Array | Uint8Array) => o.subarray(77);
    enc.appendBatch(
      "book",
      "X",
      {
        ts: { base: T0, offsets: rest(batch.ts.offsets) as Float64Array },
        side: rest(batch.side) as Uint8Array,
        price: { mantissas: rest(batch.price.mantissas) as Float64Array, scale: 1 },
        size: { mantissas: rest(batch.size.mantissas) as Float64Array, scale: 1 },
        flags: rest(batch.flags) as Uint8Array,
        seq: { base: 0n, offsets: rest(batch.seq!.offsets) as Float64Array },
      },
      n - 77,
    );
    enc.seal();
    const fromBatches = await checkpointsOf(Buffer.concat(chunks));
    const fromRecords = await checkpointsOf(encodeTape(records, {}, { policy }));
    expect(fromBatches.length).toBeGreaterThan(3);
    expect(fromBatches.map(({ offset: _o, ...c }) => c)).toEqual(
      fromRecords.map(({ offset: _o, ...c }) => c),
    );
  });

  it("checkpointIntervalNs 0 writes a 1.0 file without checkpoints; a bad interval or rows per level is refused", async () => {
    const rec: TapeRecord = {
      kind: "book",
      symbol: "X",
      ts: T0,
      side: "bid",
      price: "1",
      size: "1",
      snapshot: true,
    };
    const bytes = encodeTape(
      [rec, { ...rec, ts: T0 + 10n ** 12n, snapshot: false }],
      {},
      { policy: { checkpointIntervalNs: 0 } },
    );
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(reader.header.minor).toBe(0);
    expect(reader.checkpointBlocks()).toEqual([]);
    for (const bad of [-1, 0.5, Number.NaN])
      expectTapeError(await thrown(() => encodeTape([], {}, { policy: { checkpointIntervalNs: bad } })), [
        "E_TAPE_VALUE",
      ]);
    for (const bad of [0, 1.5, 2 ** 20 + 1, Number.NaN])
      expectTapeError(await thrown(() => encodeTape([], {}, { policy: { checkpointRowsPerLevel: bad } })), [
        "E_TAPE_VALUE",
      ]);
  });

  it("a checkpoint whose since or lastChange is after its time, or before 1970, is E_TAPE_CORRUPT", async () => {
    const dir = join(import.meta.dirname, "..", "..", "fixtures");
    const bytes = new Uint8Array(await readFile(join(dir, "book-checkpoints-zstd.tape")));
    const reader = await TapeReader.open(new BytesSource(bytes));
    const cp = reader.checkpointBlocks()[0]!;
    expect(decodeCheckpoint(await reader.readBlock(cp)).since).toBeLessThanOrEqual(cp.maxTs);
    for (const name of ["since", "lastChange"]) {
      const block = await reader.readBlock(cp);
      const column = block.columns[name] as IntColumn;
      // One nanosecond after the checkpoint's time, on every row (the column stays constant).
      column.offsets.fill(Number(cp.maxTs + 1n - column.base));
      const e = expectTapeError(await thrown(() => decodeCheckpoint(block)), ["E_TAPE_CORRUPT"]);
      expect(e.field).toBe(`checkpoint.${name}`);
      // A nanosecond before the epoch (§7.1: no timestamp is negative).
      column.base = -1n;
      column.offsets.fill(0);
      const early = expectTapeError(await thrown(() => decodeCheckpoint(block)), ["E_TAPE_CORRUPT"]);
      expect(early.field).toBe(`checkpoint.${name}`);
      expect(early.message).toContain("before 1970");
    }
  });

  it("a damaged checkpoint is reported by verify and by readCheckpoint, and records still read", async () => {
    const dir = join(import.meta.dirname, "..", "..", "fixtures");
    const bytes = new Uint8Array(await readFile(join(dir, "book-checkpoints-zstd.tape")));
    const reader0 = await TapeReader.open(new BytesSource(bytes));
    const cp = reader0.checkpointBlocks()[0]!;
    bytes[cp.offset + cp.headerLength + 2]! ^= 0x40;
    const reader = await TapeReader.open(new BytesSource(bytes));
    const report = await reader.verify();
    expect(report.ok).toBe(false);
    expect(report.issues[0]).toMatchObject({ offset: cp.offset, code: "E_TAPE_CRC" });
    expectTapeError(await thrown(() => reader.readCheckpoint(cp)), ["E_TAPE_CRC"]);
    let n = 0;
    for await (const _ of reader.records()) n++;
    expect(n).toBe(report.rows);
  });
});

describe("BookState, the writer's copy of a book", () => {
  it("holds the book through many levels deleted and added again, past the rebuilds of its sides", () => {
    const state = new BookState();
    // Times are given relative to the first one the state saw.
    expect(state.relative(1_700_000_000_000_000_000n)).toBe(0);
    const model = [new Map<number, number>(), new Map<number, number>()];
    let seed = 7;
    // xorshift32: the same changes every run.
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    let ts = 0;
    // A snapshot of 50 levels a side, then 200,000 changes over 5,000 prices a side, 90% of them deletes.
    for (let i = 0; i < 50; i++) {
      for (const side of [0, 1]) {
        const price = side === 0 ? 10_000 - i : 10_001 + i;
        state.applyBook(ts, 0, 1n, side, price, 2, 5, 0, true);
        model[side]!.set(price, 5);
      }
    }
    for (let i = 0; i < 200_000; i++) {
      ts++;
      const side = next() % 2;
      const price = side === 0 ? 10_000 - (next() % 5000) : 10_001 + (next() % 5000);
      const size = next() % 10 !== 0 ? 0 : 1 + (next() % 100);
      state.applyBook(ts, ts, undefined, side, price, 2, size, 0, false);
      if (size === 0) model[side]!.delete(price);
      else model[side]!.set(price, size);
    }
    expect(state.levels).toBe(model[0]!.size + model[1]!.size);
    const block = state.checkpoint("S", 0)!;
    const side = block.columns.side as U8Column;
    const price = block.columns.price as IntColumn;
    const size = block.columns.size as IntColumn;
    const rows = Array.from({ length: block.rowCount }, (_, i) => [
      side.values[i]!,
      (Number(price.base) + price.offsets[i]!) * 10 ** (2 - price.scale),
      (Number(size.base) + size.offsets[i]!) / 10 ** size.scale,
    ]);
    const expected = [
      ...[...model[0]!].sort((a, b) => b[0] - a[0]).map(([p, s]) => [0, p, s]),
      ...[...model[1]!].sort((a, b) => a[0] - b[0]).map(([p, s]) => [1, p, s]),
    ];
    expect(rows).toEqual(expected);
  });
});
