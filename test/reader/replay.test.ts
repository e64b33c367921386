import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { blockRecords, openDataset, type TapeRecord } from "../../src/index.js";
import { recordKey } from "../format/helpers.js";
import {
  collect,
  DAY0,
  type FileSpec,
  HOUR,
  locateAll,
  referenceOrder,
  tempDir,
  writeDataset,
} from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

// Few distinct times, so that equal timestamps across files and streams are common; some fall before the
// file's hour (a file may lead), and streams are not always in time order.
const tsOffsets = [-5_000_000n, 0n, 1n, 2n, 1_000_000n, 1_000_001n, 59_000_000_000n];
const recvOffsets = [undefined, 0n, 3n, 7n];

const recordArb = (hour: bigint) =>
  fc
    .record({
      kind: fc.constantFrom("trade", "book", "event"),
      symbol: fc.constantFrom("BTC-USDT", "ETH-USDT"),
      t: fc.constantFrom(...tsOffsets),
      r: fc.constantFrom(...recvOffsets),
      n: fc.integer({ min: 1, max: 999 }),
    })
    .map(({ kind, symbol, t, r, n }): TapeRecord => {
      const ts = hour + t;
      const base = r === undefined ? { symbol, ts } : { symbol, ts, recvTs: ts + r };
      if (kind === "trade")
        return { kind, ...base, price: `${n}.5`, size: "0.01", side: "buy", tradeId: String(n) };
      if (kind === "book")
        return { kind, ...base, side: "bid", price: `${n}`, size: "1", snapshot: false, seq: BigInt(n) };
      return { kind: "event", ...base, type: "info", message: `m${n}` };
    });

const fileArb = fc
  .record({
    exchange: fc.constantFrom("binance", "okx"),
    h: fc.integer({ min: 0, max: 2 }),
    captureId: fc.constantFrom("a", "b"),
    maxRows: fc.integer({ min: 1, max: 6 }),
  })
  .chain(({ exchange, h, captureId, maxRows }) =>
    fc.array(recordArb(DAY0 + BigInt(h) * HOUR), { maxLength: 30 }).map(
      (records): FileSpec => ({
        exchange,
        hour: DAY0 + BigInt(h) * HOUR,
        captureId,
        records,
        policy: { maxRows },
      }),
    ),
  );

const filesArb = fc.uniqueArray(fileArb, {
  minLength: 1,
  maxLength: 5,
  selector: (f) => `${f.exchange}/${f.hour}/${f.captureId}`,
});

const keyOf = (r: object) => recordKey(r);

async function setUp(files: FileSpec[]) {
  const { dir, remove } = await tempDir();
  cleanups.push(remove);
  await writeDataset(dir, files);
  const ds = await openDataset(dir);
  const expected = referenceOrder(await locateAll(ds.files.map((f) => f.path))).map((l) =>
    keyOf({ exchange: l.exchange, ...l.record }),
  );
  return { dir, ds, expected };
}

describe("replay", () => {
  it("yields every record of every file once, in the documented order", async () => {
    await fc.assert(
      fc.asyncProperty(filesArb, async (files) => {
        const { ds, expected } = await setUp(files);
        const got = (await collect(ds.replay({ exact: true }))).map(keyOf);
        expect(got).toEqual(expected);
        // In chunks, the same records in the same order.
        const chunks = await collect(ds.replayChunks({ exact: true }, 3));
        expect(chunks.every((c) => c.length > 0 && c.length <= 3)).toBe(true);
        expect(chunks.flat().map(keyOf)).toEqual(expected);
        // The same order on every run, and with number rows too.
        const rows = await collect(ds.replay());
        expect(rows.length).toBe(expected.length);
        expect(rows.map((r) => `${r.exchange}/${r.kind}/${r.symbol}`)).toEqual(
          (await collect(ds.replay({ exact: true }))).map((r) => `${r.exchange}/${r.kind}/${r.symbol}`),
        );
        for (const c of cleanups.splice(0)) await c();
      }),
      { numRuns: 40 },
    );
  });

  it("replay({from, to}) equals filtering the full replay", async () => {
    const bounds = fc.constantFrom(
      ...[0n, 1n, 2n, 1_000_000n, 59_000_000_000n, HOUR, HOUR + 1n].map((d) => DAY0 + d),
    );
    await fc.assert(
      fc.asyncProperty(filesArb, bounds, bounds, async (files, a, b) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const { ds } = await setUp(files);
        const all = await collect(ds.replay({ exact: true }));
        const want = all.filter((r) => r.ts >= from && r.ts < to).map(keyOf);
        expect((await collect(ds.replay({ exact: true, from, to }))).map(keyOf)).toEqual(want);
        // The same through the dataset's own range (whose hours without a file are reported as events).
        if (to > from) {
          const ranged = await openDataset(ds.root!, { from, to });
          const got = await collect(ranged.replay({ exact: true, onCorrupt: "skip" }));
          const missing = got.filter((r) => r.kind === "event" && r.symbol === "");
          expect(missing.length).toBe(ranged.missing.length);
          expect(got.filter((r) => !missing.includes(r)).map(keyOf)).toEqual(want);
        }
        for (const c of cleanups.splice(0)) await c();
      }),
      { numRuns: 40 },
    );
  });

  it("batches() hold the same records as replay(), block by block", async () => {
    await fc.assert(
      fc.asyncProperty(filesArb, async (files) => {
        const { ds, expected } = await setUp(files);
        const fromBatches: string[] = [];
        for await (const b of ds.batches()) {
          expect(b.lost).toBeNull();
          for (const r of blockRecords(b.block!)) fromBatches.push(keyOf({ exchange: b.exchange, ...r }));
        }
        expect(fromBatches.sort()).toEqual([...expected].sort());
        for (const c of cleanups.splice(0)) await c();
      }),
      { numRuns: 30 },
    );
  });

  it("speed paces the output at that multiple of the recorded time", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    // 300 ms of records: at speed 3 the replay takes at least about 100 ms (pacing only ever waits).
    const records: TapeRecord[] = Array.from({ length: 31 }, (_, i) => ({
      kind: "trade",
      symbol: "BTC",
      ts: DAY0 + BigInt(i) * 10_000_000n,
      price: "1",
      size: "1",
      side: "buy",
    }));
    await writeDataset(dir, [{ exchange: "okx", hour: DAY0, captureId: "a", records }]);
    const ds = await openDataset(dir);
    const t0 = performance.now();
    const paced = await collect(ds.replay({ speed: 3 }));
    const elapsed = performance.now() - t0;
    expect(paced.length).toBe(31);
    expect(elapsed).toBeGreaterThanOrEqual(95);
    // So slow that a row's wait passes what one timer takes: the row waits, without a timer firing at once.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    try {
      const slow = ds.replay({ speed: 1e-12 })[Symbol.asyncIterator]();
      expect((await slow.next()).done).toBe(false);
      const second = slow.next();
      const early = await Promise.race([
        second.then(() => "row"),
        new Promise((r) => setTimeout(r, 200, "waiting")),
      ]);
      expect(early).toBe("waiting");
      expect(warnings).toEqual([]);
      await slow.return?.();
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("narrows by symbol and kind, and by capture", async () => {
    const mk = (symbol: string, ts: bigint): TapeRecord => ({
      kind: "trade",
      symbol,
      ts,
      price: "1",
      size: "1",
      side: "sell",
    });
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    await writeDataset(dir, [
      { exchange: "okx", hour: DAY0, captureId: "a", records: [mk("BTC", DAY0 + 1n), mk("ETH", DAY0 + 2n)] },
      { exchange: "okx", hour: DAY0, captureId: "b", records: [mk("BTC", DAY0 + 1n)] },
    ]);
    const ds = await openDataset(dir);
    expect(ds.captures).toEqual(["a", "b"]);
    expect((await collect(ds.replay({ symbols: ["BTC"] }))).length).toBe(2);
    expect((await collect(ds.replay({ kinds: ["book"] }))).length).toBe(0);
    const onlyB = await openDataset(dir, { captures: ["b"] });
    expect((await collect(onlyB.replay())).map((r) => r.symbol)).toEqual(["BTC"]);
  });
});
