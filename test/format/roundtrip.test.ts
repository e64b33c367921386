import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BboRecord,
  type BookRecord,
  type Codec,
  EVENT_TYPES,
  type EventRecord,
  encodeTape,
  type RawRecord,
  type Row,
  type TapeRecord,
  type TradeRecord,
} from "../../src/index.js";
import { canonicalDecimal, readAll, recordKey, streams } from "./helpers.js";

const MAX_TS = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
/** A time near which most records of a run fall (late 2023, ns). */
const NOW = 1_700_000_000_000_000_000n;

const SYMBOLS = ["BTC-USDT", "", "ÉTH/€", "币安🚀", "s".repeat(256)];

const timestamp: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 10, arbitrary: fc.bigInt(NOW, NOW + 2n ** 40n) },
  { weight: 2, arbitrary: fc.bigInt(0n, 2n ** 20n) },
  { weight: 2, arbitrary: fc.bigInt(0n, MAX_TS) },
  { weight: 1, arbitrary: fc.constantFrom(0n, MAX_TS, 2n ** 53n, 2n ** 53n + 1n) },
);

const mantissa: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt(0n, 10n ** 7n) },
  { weight: 1, arbitrary: fc.bigInt(-(10n ** 7n), 10n ** 7n) },
  { weight: 2, arbitrary: fc.bigInt(2n ** 53n, 10n ** 18n - 1n) },
  { weight: 1, arbitrary: fc.bigInt(-(10n ** 18n - 1n), 10n ** 18n - 1n) },
);
/** Canonical decimal text with 0..18 decimals and at most 18 significant digits. */
const decimal: fc.Arbitrary<string> = fc
  .tuple(mantissa, fc.integer({ min: 0, max: 18 }))
  .map(([m, s]) => canonicalDecimal(m, s));

const int64: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt(0n, 10n ** 9n) },
  { weight: 1, arbitrary: fc.bigInt(INT64_MIN, MAX_TS) },
);

const tradeId: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt(0n, 10n ** 6n).map(String) },
  { weight: 1, arbitrary: fc.bigInt(2n ** 53n, MAX_TS).map(String) },
  { weight: 1, arbitrary: fc.bigInt(INT64_MIN, MAX_TS).map(String) },
  { weight: 1, arbitrary: fc.nat(999).map((n) => `00${n}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("007", "0", "-0", "00", "9223372036854775808", "-9223372036854775809"),
  },
  { weight: 1, arbitrary: fc.bigInt(10n ** 19n, 10n ** 20n).map(String) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
);

const base = {
  symbol: fc.constantFrom(...SYMBOLS),
  ts: timestamp,
  recvTs: timestamp,
};
/** Keys every record has; the others (optional fields) are present or absent at random. */
const required = ["symbol", "ts", "kind"] as const;

const trade: fc.Arbitrary<TradeRecord> = fc.record(
  {
    ...base,
    kind: fc.constant("trade" as const),
    price: decimal,
    size: decimal,
    side: fc.constantFrom("unknown" as const, "buy" as const, "sell" as const),
    tradeId,
  },
  { requiredKeys: [...required, "price", "size", "side"] },
);

const book: fc.Arbitrary<BookRecord> = fc.record(
  {
    ...base,
    kind: fc.constant("book" as const),
    side: fc.constantFrom("bid" as const, "ask" as const),
    price: decimal,
    size: decimal,
    snapshot: fc.boolean(),
    seq: int64,
  },
  { requiredKeys: [...required, "side", "price", "size", "snapshot"] },
);

const bbo: fc.Arbitrary<BboRecord> = fc.record(
  {
    ...base,
    kind: fc.constant("bbo" as const),
    bidPrice: decimal,
    bidSize: decimal,
    askPrice: decimal,
    askSize: decimal,
  },
  { requiredKeys: [...required] },
);

const event: fc.Arbitrary<EventRecord> = fc.record(
  {
    ...base,
    kind: fc.constant("event" as const),
    type: fc.constantFrom(...EVENT_TYPES),
    seqBefore: int64,
    seqAfter: int64,
    message: fc.string({ unit: "grapheme", maxLength: 40 }),
  },
  { requiredKeys: [...required, "type", "message"] },
);

const raw: fc.Arbitrary<RawRecord> = fc.record(
  { ...base, kind: fc.constant("raw" as const), data: fc.uint8Array({ maxLength: 40 }) },
  { requiredKeys: [...required, "data"] },
);

const record: fc.Arbitrary<TapeRecord> = fc.oneof(trade, book, bbo, event, raw);

interface Options {
  codec: Codec;
  policy: { maxRows: number; flushIntervalNs: number };
}

const options: fc.Arbitrary<Options> = fc.record({
  codec: fc.constantFrom<Codec>("none", "lz4", "zstd"),
  policy: fc.record({
    maxRows: fc.integer({ min: 1, max: 50 }),
    flushIntervalNs: fc.oneof(
      fc.integer({ min: 1, max: 1000 }),
      fc.constant(1e18),
      fc.integer({ min: 1, max: 2 ** 45 }),
    ),
  }),
});

/** |a - b| within `rel` of |b| (exact equality for 0). */
function close(a: number | null, b: number, rel = 1e-15): boolean {
  return a !== null && (a === b || Math.abs(a - b) <= rel * Math.abs(b));
}

/** Checks a row against the exact record it was read with; returns a description of the first mismatch. */
function rowMismatch(row: Row, rec: TapeRecord): string | null {
  if (row.kind !== rec.kind || row.symbol !== rec.symbol) return "kind/symbol";
  if (!close(row.ts, Number(rec.ts))) return `ts ${row.ts} vs ${rec.ts}`;
  if (rec.recvTs === undefined ? row.recvTs !== null : !close(row.recvTs, Number(rec.recvTs)))
    return "recvTs";
  const dec = (got: number | null, want: string | undefined, name: string) =>
    (want === undefined ? got === null : got === Number(want)) ? null : `${name} ${got} vs ${want}`;
  const int = (got: number | null, want: bigint | undefined, name: string) =>
    (want === undefined ? got === null : close(got, Number(want))) ? null : `${name} ${got} vs ${want}`;
  switch (rec.kind) {
    case "trade": {
      const r = row as Extract<Row, { kind: "trade" }>;
      if (r.side !== rec.side) return "side";
      const id = rec.tradeId;
      if (
        id === undefined
          ? r.tradeId !== null
          : typeof r.tradeId === "string"
            ? r.tradeId !== id
            : !close(r.tradeId, Number(id))
      )
        return `tradeId ${r.tradeId} vs ${id}`;
      if (typeof r.tradeId === "number" && !/^(0|-?[1-9]\d*)$/.test(id ?? ""))
        return `tradeId ${id} became a number`;
      return dec(r.price, rec.price, "price") ?? dec(r.size, rec.size, "size");
    }
    case "book": {
      const r = row as Extract<Row, { kind: "book" }>;
      if (r.side !== rec.side || r.snapshot !== rec.snapshot) return "side/snapshot";
      return dec(r.price, rec.price, "price") ?? dec(r.size, rec.size, "size") ?? int(r.seq, rec.seq, "seq");
    }
    case "bbo": {
      const r = row as Extract<Row, { kind: "bbo" }>;
      return (
        dec(r.bidPrice, rec.bidPrice, "bidPrice") ??
        dec(r.bidSize, rec.bidSize, "bidSize") ??
        dec(r.askPrice, rec.askPrice, "askPrice") ??
        dec(r.askSize, rec.askSize, "askSize")
      );
    }
    case "event": {
      const r = row as Extract<Row, { kind: "event" }>;
      if (r.type !== rec.type || r.message !== rec.message) return "type/message";
      return int(r.seqBefore, rec.seqBefore, "seqBefore") ?? int(r.seqAfter, rec.seqAfter, "seqAfter");
    }
    case "raw": {
      const r = row as Extract<Row, { kind: "raw" }>;
      return Buffer.compare(r.data, rec.data) === 0 ? null : "data";
    }
  }
}

/** Encodes, reads back, and checks the exact records, the index and `verify()`. */
async function checkRecords(input: TapeRecord[], opts: Options): Promise<void> {
  const bytes = encodeTape(input, { exchange: "test" }, opts);
  const { reader, records } = await readAll(bytes);
  expect(reader.sealed).toBe(true);
  expect(reader.recovery).toBeNull();

  // Exact records: every (kind, symbol) stream comes back in append order.
  expect(records.length).toBe(input.length);
  const want = streams(input);
  const got = streams(records);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, list] of want) expect(got.get(k), `stream ${JSON.stringify(k)}`).toEqual(list);

  // Every symbol in the dictionary (in the order of their first blocks); blocks within the row limit.
  expect([...reader.symbols].sort()).toEqual([...new Set(input.map((r) => r.symbol))].sort());
  for (const b of reader.blocks) {
    expect(b.rowCount).toBeGreaterThan(0);
    expect(b.rowCount).toBeLessThanOrEqual(opts.policy.maxRows);
  }

  const report = await reader.verify();
  expect(report.issues).toEqual([]);
  expect(report).toMatchObject({
    ok: true,
    sealed: true,
    digest: "ok",
    rows: input.length,
    firstBadOffset: null,
  });
  expect(report.blocks).toBe(reader.blocks.length);
  await reader.close();
}

/** Encodes, reads back, and checks that `rows()` matches `records()` row for row. */
async function checkRows(input: TapeRecord[], opts: Options): Promise<void> {
  const { reader, records, rows } = await readAll(encodeTape(input, {}, opts));
  expect(records.length).toBe(input.length);
  expect(rows.length).toBe(records.length);
  for (let i = 0; i < rows.length; i++) {
    const m = rowMismatch(rows[i]!, records[i]!);
    if (m !== null) expect.fail(`row ${i} (${recordKey(records[i]!)}): ${m}`);
  }
  await reader.close();
}

const trades = (prices: string[], field: "price" | "size" = "price"): TapeRecord[] =>
  prices.map((p, i) => ({
    kind: "trade",
    symbol: "X",
    ts: NOW + BigInt(i),
    price: field === "price" ? p : "1",
    size: field === "size" ? p : "1",
    side: "buy",
  }));
const oneBlock: Options = { codec: "none", policy: { maxRows: 50, flushIntervalNs: 1e18 } };

describe("round trip: encodeTape -> TapeReader", () => {
  it("gives back exactly the records appended, per (symbol, kind), for every kind, codec and block policy", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 80 }), options, async (input, opts) => {
        await checkRecords(input, opts);
      }),
      { numRuns: 150 },
    );
  });

  it("rows() gives the same rows as numbers: exact decimals as the nearest double, integers within 1e-15", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 80 }), options, async (input, opts) => {
        await checkRows(input, opts);
      }),
      { numRuns: 150 },
    );
  });

  it("single-stream runs with changing tick sizes keep every value exact", async () => {
    const tick = fc
      .tuple(fc.bigInt(1n, 10n ** 8n), fc.integer({ min: 0, max: 18 }))
      .map(([m, s]) => canonicalDecimal(m, s));
    await fc.assert(
      fc.asyncProperty(
        fc.array(tick, { minLength: 1, maxLength: 60 }),
        fc.constantFrom<Codec>("none", "lz4", "zstd"),
        async (prices, codec) => {
          const input: TapeRecord[] = prices.map((p, i) => ({
            kind: "trade",
            symbol: "BTC-USDT",
            ts: NOW + BigInt(i) * 1000n,
            price: p,
            size: "0.001",
            side: "buy",
            tradeId: String(1000 + i),
          }));
          await checkRecords(input, { codec, policy: { maxRows: 50, flushIntervalNs: 1e18 } });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("an empty file has no blocks and verifies", async () => {
    for (const codec of ["none", "lz4", "zstd"] as const) {
      const { reader, records } = await readAll(encodeTape([], {}, { codec }));
      expect(records).toEqual([]);
      expect(reader.blocks).toEqual([]);
      expect((await reader.verify()).ok).toBe(true);
    }
  });

  it("keeps the header: exchange, capture id, period and metadata", async () => {
    const bytes = encodeTape([], {
      exchange: "binance",
      captureId: "cap-1",
      periodStart: NOW,
      periodEnd: NOW + 3_600_000_000_000n,
      meta: { z: "last", a: "ünïcode", "": "" },
    });
    const { reader } = await readAll(bytes);
    expect(reader.header).toMatchObject({
      major: 1,
      // The default policy writes book checkpoints, a 1.1 feature.
      minor: 1,
      exchange: "binance",
      captureId: "cap-1",
      periodStart: NOW,
      periodEnd: NOW + 3_600_000_000_000n,
      meta: { z: "last", a: "ünïcode", "": "" },
    });
  });

  it("accepts the loose input forms and stores them exactly", async () => {
    const { records } = await readAll(
      encodeTape([
        {
          kind: "trade",
          symbol: "A",
          ts: 1_700_000_000_000,
          price: 0.1,
          size: 1500,
          side: "sell",
          tradeId: "7",
        },
        {
          kind: "trade",
          symbol: "A",
          ts: "1700000000000000001",
          recvTs: 5,
          price: "1.50",
          size: "2e-3",
          side: "buy",
        },
        {
          kind: "book",
          symbol: "A",
          ts: 3n,
          side: "ask",
          price: 65000.1,
          size: 0,
          snapshot: true,
          seq: "-42",
        },
        { kind: "event", symbol: "A", ts: 4n, type: "gap", seqBefore: 9, seqAfter: "12", message: "" },
      ]),
    );
    expect(records.map(recordKey)).toEqual(
      [
        {
          kind: "trade",
          symbol: "A",
          ts: 1_700_000_000_000n,
          price: "0.1",
          size: "1500",
          side: "sell",
          tradeId: "7",
        },
        {
          kind: "trade",
          symbol: "A",
          ts: 1700000000000000001n,
          recvTs: 5n,
          price: "1.5",
          size: "0.002",
          side: "buy",
        },
        {
          kind: "book",
          symbol: "A",
          ts: 3n,
          side: "ask",
          price: "65000.1",
          size: "0",
          snapshot: true,
          seq: -42n,
        },
        { kind: "event", symbol: "A", ts: 4n, type: "gap", seqBefore: 9n, seqAfter: 12n, message: "" },
      ].map(recordKey),
    );
  });
});

describe("round trip: integer columns whose values span more than 2^52", () => {
  // Within one block, values are stored as offsets from a base and written as zigzag deltas; these cases put
  // consecutive values (or a negative value) more than 2^52 apart.
  it("a tick-size change from a large price to 8 decimals", async () => {
    await checkRecords(trades(["45035997", "0.00000001", "1"]), oneBlock);
  });

  it("prices 4503599.7, 0.01, 0.000000001", async () => {
    await checkRecords(trades(["4503599.7", "0.01", "0.000000001"]), oneBlock);
  });

  it("timestamps stepping back by 2^52 + 1 ns", async () => {
    const input: TapeRecord[] = [2n ** 52n + 1n, 0n, 1n].map((ts) => ({
      kind: "raw",
      symbol: "X",
      ts,
      data: new Uint8Array(1),
    }));
    await checkRecords(input, oneBlock);
  });

  it("a negative size below -2^52 next to a small one", async () => {
    await checkRecords(trades(["-4503599627370497", "1"], "size"), oneBlock);
  });

  it("trade ids 2^52 + 1, 0, 1", async () => {
    const input = trades(["1", "1", "1"]).map((r, i) => ({
      ...r,
      tradeId: ["4503599627370497", "0", "1"][i]!,
    }));
    await checkRecords(input as TapeRecord[], oneBlock);
  });

  it("prices -(2^53 - 1) and 2^53 - 2: the file must be readable", async () => {
    await checkRecords(trades(["-9007199254740991", "9007199254740990"]), oneBlock);
  });
});

describe("round trip: rows of blocks with a base beyond 2^53", () => {
  it("a small timestamp after one beyond 2^53", async () => {
    const input: TapeRecord[] = [2n ** 53n + 1n, 2n].map((ts) => ({
      kind: "raw",
      symbol: "X",
      ts,
      data: new Uint8Array(0),
    }));
    await checkRows(input, oneBlock);
  });

  it("a small price after one beyond 2^53", async () => {
    await checkRows(trades(["9007199254740997", "6"]), oneBlock);
  });

  it("a small trade id after one beyond 2^53", async () => {
    const input = trades(["1", "1"]).map((r, i) => ({ ...r, tradeId: ["9007199254740993", "2"][i]! }));
    await checkRows(input as TapeRecord[], oneBlock);
  });

  it("a decimal with a 16-digit mantissa is the double nearest its text", async () => {
    const input: TapeRecord[] = [{ kind: "bbo", symbol: "X", ts: NOW, askSize: "-91215719307368.53" }];
    await checkRows(input, oneBlock);
  });
});

describe("round trip: 18 significant digits", () => {
  it.each([
    "999999999999999999",
    "-999999999999999999",
    "99999999999999999.9",
    "0.999999999999999999",
    "999999999999999936",
  ])("stores %s", async (price) => {
    await checkRecords(trades([price, "1"]), oneBlock);
  });

  it("stores 18-digit values just below the rounding boundary of 10^18", async () => {
    await checkRecords(
      trades(["999999999999999935", "123456789012345678", "0.123456789012345678"]),
      oneBlock,
    );
  });
});
