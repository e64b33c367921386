import { describe, expect, it } from "vitest";
import {
  type BookBatch,
  BytesSource,
  encodeTape,
  type RecordInput,
  TapeEncoder,
  TapeReader,
  type TapeRecord,
  type TradeBatch,
} from "../../src/index.js";
import { unitTrade } from "./helpers.js";

const HEADER = { exchange: "x", captureId: "c", periodStart: 0n, periodEnd: 0n, meta: {} };
const T0 = 1732500000000000000n;

function encodeBatches(append: (enc: TapeEncoder) => void, maxRows = 3): Uint8Array {
  const chunks: Uint8Array[] = [];
  const enc = new TapeEncoder(HEADER, (b) => chunks.push(b.slice()), { policy: { maxRows } });
  append(enc);
  enc.seal();
  return Buffer.concat(chunks);
}

function encodeTapeRecords(records: RecordInput[], policy = {}): Uint8Array {
  return encodeTape(records, HEADER, { policy });
}

async function records(bytes: Uint8Array): Promise<TapeRecord[]> {
  const reader = await TapeReader.open(new BytesSource(bytes));
  const out: TapeRecord[] = [];
  for await (const r of reader.records()) out.push(r);
  return out;
}

const trades = (): TradeBatch => ({
  ts: { base: T0, offsets: new Float64Array([0, 1e6, 1e6, 5e6, 9e6]) },
  recvTs: {
    base: T0 + 2_000_123n,
    offsets: new Float64Array([0, 1_000_777, 1_000_999, 4_000_001, 8_500_000]),
  },
  price: { mantissas: new Float64Array([6500010, 6500025, 6500025, 6499990, 6500100]), scale: 2 },
  size: { mantissas: new Float64Array([100, 1250, 3, 100000, 42]), scale: 5 },
  side: new Uint8Array([1, 2, 2, 0, 1]),
  tradeId: { base: 9007199254740993n, offsets: new Float64Array([0, 1, 2, 3, 4]) },
});

describe("appendBatch: the columnar path", () => {
  it("stores trade columns exactly, across block boundaries", async () => {
    const got = await records(encodeBatches((enc) => enc.appendBatch("trade", "BTCUSDT", trades(), 5)));
    expect(got).toHaveLength(5);
    expect(got[0]).toEqual({
      kind: "trade",
      symbol: "BTCUSDT",
      ts: T0,
      recvTs: T0 + 2_000_123n,
      price: "65000.1",
      size: "0.001",
      side: "buy",
      tradeId: "9007199254740993",
    });
    expect(got.map((r) => (r.kind === "trade" ? [r.price, r.size, r.side, r.tradeId] : null))).toEqual([
      ["65000.1", "0.001", "buy", "9007199254740993"],
      ["65000.25", "0.0125", "sell", "9007199254740994"],
      ["65000.25", "0.00003", "sell", "9007199254740995"],
      ["64999.9", "1", "unknown", "9007199254740996"],
      ["65001", "0.00042", "buy", "9007199254740997"],
    ]);
    expect(got[4]!.recvTs).toBe(T0 + 2_000_123n + 8_500_000n);
  });

  it("stores book columns with snapshot flags and absent sequence ids", async () => {
    const batch: BookBatch = {
      ts: { base: T0, offsets: new Float64Array([0, 0, 100e6]) },
      side: new Uint8Array([0, 1, 0]),
      price: { mantissas: new Float64Array([1, 2, 15]), scale: 1 },
      size: { mantissas: new Float64Array([5, 7, 0]), scale: 0 },
      flags: new Uint8Array([1, 1, 0]),
    };
    const got = await records(encodeBatches((enc) => enc.appendBatch("book", "ETHUSDT", batch, 3)));
    expect(got).toEqual([
      { kind: "book", symbol: "ETHUSDT", ts: T0, side: "bid", price: "0.1", size: "5", snapshot: true },
      { kind: "book", symbol: "ETHUSDT", ts: T0, side: "ask", price: "0.2", size: "7", snapshot: true },
      {
        kind: "book",
        symbol: "ETHUSDT",
        ts: T0 + 100_000_000n,
        side: "bid",
        price: "1.5",
        size: "0",
        snapshot: false,
      },
    ]);
  });

  it.each([
    ["a column shorter than count", (b: TradeBatch) => ({ ...b, side: b.side.subarray(0, 2) }), "side"],
    ["a side out of range", (b: TradeBatch) => ({ ...b, side: new Uint8Array([1, 2, 3, 0, 1]) }), "side"],
    [
      "a fractional offset",
      (b: TradeBatch) => ({ ...b, ts: { base: T0, offsets: new Float64Array([0, 0.5, 1, 2, 3]) } }),
      "offsets",
    ],
    [
      "a NaN mantissa",
      (b: TradeBatch) => ({
        ...b,
        price: { mantissas: new Float64Array([1, Number.NaN, 1, 1, 1]), scale: 2 },
      }),
      "offsets",
    ],
    ["a scale above 18", (b: TradeBatch) => ({ ...b, price: { ...b.price, scale: 19 } }), "scale"],
  ])("rejects %s with E_TAPE_VALUE, keeping what came before", async (_name, spoil, field) => {
    let error: unknown = null;
    const bytes = encodeBatches((enc) => {
      enc.appendBatch("trade", "BTCUSDT", trades(), 5);
      try {
        enc.appendBatch("trade", "BTCUSDT", spoil(trades()), 5);
      } catch (err) {
        error = err;
      }
    }, 1000);
    expect(error).toMatchObject({ code: "E_TAPE_VALUE", field });
    expect(await records(bytes)).toHaveLength(5);
  });

  it("a rejected batch leaves the buffer as it was: the next batch lines up", async () => {
    const bytes = encodeBatches((enc) => {
      enc.appendBatch("trade", "BTCUSDT", trades(), 5);
      const spoiled = trades();
      spoiled.size.mantissas[3] = 0.5; // ts, recvTs and price are added before size fails
      expect(() => enc.appendBatch("trade", "BTCUSDT", spoiled, 5)).toThrow(
        expect.objectContaining({ code: "E_TAPE_VALUE" }),
      );
      const later = trades();
      later.ts.base = T0 + 60_000_000n;
      enc.appendBatch("trade", "BTCUSDT", later, 5);
    }, 1000);
    const got = await records(bytes);
    expect(got).toHaveLength(10);
    expect(got.slice(5).map((r) => r.ts - 60_000_000n)).toEqual(got.slice(0, 5).map((r) => r.ts));
    expect(got.slice(5).map((r) => (r.kind === "trade" ? r.size : null))).toEqual(
      got.slice(0, 5).map((r) => (r.kind === "trade" ? r.size : null)),
    );
  });
});

describe("block time ranges", () => {
  it("a record that starts a new block does not widen the previous block's range", async () => {
    const bytes = encodeTapeRecords([
      { kind: "trade", symbol: "S", ts: 1000n, price: "123456789012345678", size: "1", side: "buy" },
      { kind: "trade", symbol: "S", ts: 2000n, price: "123456789012345679", size: "1", side: "buy" },
      // 0.5 needs scale 1: the buffered 18-digit values cannot be rescaled, so this row starts a block.
      { kind: "trade", symbol: "S", ts: 3000n, price: "0.5", size: "1", side: "buy" },
    ]);
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(reader.blocks.map((b) => [b.rowCount, b.minTs, b.maxTs])).toEqual([
      [2, 1000n, 2000n],
      [1, 3000n, 3000n],
    ]);
  });

  it("blocks hold whole flush intervals: each series is cut where its records reach the next interval", async () => {
    const s = 1_000_000_000n;
    const trade = unitTrade;
    const bytes = encodeTapeRecords(
      [
        trade("A", 0n),
        trade("B", 30n * s),
        trade("C", 5n * s),
        trade("A", 61n * s), // A reaches [60 s, 120 s): its block of [0, 60) is written
        trade("B", 59n * s), // late: joins B's block of [0, 60), still open
        trade("B", 70n * s), // B reaches [60 s, 120 s)
        trade("A", 125n * s), // A reaches [120 s, 180 s); C, quiet since [0, 60), is written out
      ],
      { flushIntervalNs: 60e9 },
    );
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(reader.blocks.map((b) => [b.symbol, b.rowCount, b.minTs / s, b.maxTs / s])).toEqual([
      ["A", 1, 0n, 0n],
      ["B", 2, 30n, 59n],
      ["A", 1, 61n, 61n],
      ["C", 1, 5n, 5n],
      // The seal writes the rest, in first-use order.
      ["A", 1, 125n, 125n],
      ["B", 1, 70n, 70n],
    ]);
  });

  it("a batch spanning intervals is cut at each interval, late rows staying in their block", async () => {
    const s = 1_000_000_000;
    const chunks: Uint8Array[] = [];
    const enc = new TapeEncoder(HEADER, (b) => chunks.push(b.slice()), {
      policy: { flushIntervalNs: 60e9, checkpointIntervalNs: 0 },
    });
    const offsets = Float64Array.from([10, 50, 59, 61, 58, 119, 120, 250].map((t) => t * s));
    enc.appendBatch(
      "trade",
      "A",
      {
        ts: { base: 0n, offsets },
        price: { mantissas: new Float64Array(8).fill(1), scale: 0 },
        size: { mantissas: new Float64Array(8).fill(1), scale: 0 },
        side: new Uint8Array(8),
      },
      8,
    );
    enc.seal();
    const reader = await TapeReader.open(new BytesSource(Buffer.concat(chunks)));
    expect(reader.blocks.map((b) => [b.rowCount, Number(b.minTs) / s, Number(b.maxTs) / s])).toEqual([
      [3, 10, 59],
      [3, 58, 119],
      [1, 120, 120],
      [1, 250, 250],
    ]);
  });
});
