import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { assignShares, openDataset, shardFrom, TapeError, type TapeRecord } from "../../src/index.js";
import { recordKey } from "../format/helpers.js";
import { collect, DAY0, type FileSpec, HOUR, tempDir, writeDataset } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("assignShares", () => {
  it("gives every file one share, and no share more than one file's bytes above another", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1e9 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 12 }),
        (sizes, n) => {
          const files = sizes.map((size, i) => ({ path: `f${String(i).padStart(4, "0")}`, size }));
          const share = assignShares(files, n);
          expect(share).toHaveLength(files.length);
          const load = new Array<number>(n).fill(0);
          share.forEach((s, i) => {
            expect(Number.isInteger(s) && s >= 0 && s < n).toBe(true);
            load[s]! += files[i]!.size;
          });
          const largest = Math.max(0, ...sizes);
          expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(largest);
          // The same on every run and whatever the order of the listing.
          const shuffled = [...files].reverse();
          const again = assignShares(shuffled, n).reverse();
          expect(again).toEqual(share);
        },
      ),
    );
  });
});

describe("Dataset.partition", () => {
  const fileArb = fc
    .record({
      exchange: fc.constantFrom("binance", "okx", "bybit"),
      h: fc.integer({ min: 0, max: 5 }),
      captureId: fc.constantFrom("a", "b"),
      rows: fc.integer({ min: 1, max: 60 }),
    })
    .map(({ exchange, h, captureId, rows }): FileSpec => {
      const hour = DAY0 + BigInt(h) * HOUR;
      const records: TapeRecord[] = Array.from({ length: rows }, (_, i) => ({
        kind: "trade",
        symbol: i % 2 ? "BTC-USDT" : "ETH-USDT",
        ts: hour + BigInt(i) * 1_000_000n,
        price: `${100 + i}.5`,
        size: "0.1",
        side: "buy",
        tradeId: String(i),
      }));
      return { exchange, hour, captureId, records };
    });

  it("the shards together replay every record of the dataset exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fileArb, {
          minLength: 1,
          maxLength: 8,
          selector: (f) => `${f.exchange}/${f.hour}/${f.captureId}`,
        }),
        fc.integer({ min: 1, max: 5 }),
        async (files, n) => {
          const { dir, remove } = await tempDir();
          cleanups.push(remove);
          await writeDataset(dir, files);
          const ds = await openDataset(dir);
          const all = (await collect(ds.replay({ exact: true }))).map((r) => recordKey(r)).sort();
          const parts: string[] = [];
          const seen = new Set<string>();
          for (let i = 0; i < n; i++) {
            const share = await ds.partition(i, n);
            for (const f of share.files) {
              expect(seen.has(f.path)).toBe(false);
              seen.add(f.path);
            }
            parts.push(...(await collect(share.replay({ exact: true }))).map((r) => recordKey(r)));
          }
          expect(seen.size).toBe(ds.files.length);
          expect(parts.sort()).toEqual(all);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a missing hour is reported by one share only", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const trade = (hour: bigint): TapeRecord => ({
      kind: "trade",
      symbol: "BTC-USDT",
      ts: hour,
      price: "1",
      size: "1",
      side: "buy",
    });
    await writeDataset(
      dir,
      [0n, 2n, 4n].map((h) => ({
        exchange: "okx",
        hour: DAY0 + h * HOUR,
        captureId: "a",
        records: [trade(DAY0 + h * HOUR)],
      })),
    );
    const ds = await openDataset(dir, { from: DAY0, to: DAY0 + 5n * HOUR });
    expect(ds.missing.map((m) => m.hour)).toEqual([DAY0 + HOUR, DAY0 + 3n * HOUR]);
    for (const n of [1, 2, 3, 4]) {
      const reported: bigint[] = [];
      for (let i = 0; i < n; i++) reported.push(...(await ds.partition(i, n)).missing.map((m) => m.hour));
      expect(reported.sort(), `${n} shares`).toEqual([DAY0 + HOUR, DAY0 + 3n * HOUR]);
    }
  });

  it("rejects a share outside 0..count-1", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const ds = await openDataset(dir);
    await expect(ds.partition(2, 2)).rejects.toBeInstanceOf(TapeError);
    await expect(ds.partition(0, 0)).rejects.toBeInstanceOf(TapeError);
  });
});

describe("shardFrom", () => {
  it("reads --shard i/n (1-based) or AWS Batch's 0-based array index with the array size", () => {
    expect(shardFrom("3/8", {})).toEqual({ index: 2, count: 8 });
    expect(shardFrom(undefined, {})).toBeNull();
    expect(shardFrom(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: "0", AWS_BATCH_JOB_ARRAY_SIZE: "4" })).toEqual({
      index: 0,
      count: 4,
    });
    // The flag wins over the environment.
    expect(shardFrom("1/2", { AWS_BATCH_JOB_ARRAY_INDEX: "3", AWS_BATCH_JOB_ARRAY_SIZE: "4" })).toEqual({
      index: 0,
      count: 2,
    });
  });

  it("says what is wrong with a bad shard", () => {
    for (const bad of ["0/4", "5/4", "3", "a/b", "1/0"]) expect(() => shardFrom(bad, {})).toThrow(/--shard/);
    expect(() => shardFrom(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: "2" })).toThrow(
      /AWS_BATCH_JOB_ARRAY_SIZE/,
    );
    expect(() =>
      shardFrom(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: "4", AWS_BATCH_JOB_ARRAY_SIZE: "4" }),
    ).toThrow(/index < size/);
    // Only the size set: every child would read everything.
    expect(() => shardFrom(undefined, { AWS_BATCH_JOB_ARRAY_SIZE: "4" })).toThrow(
      /AWS_BATCH_JOB_ARRAY_INDEX/,
    );
    // Plain integers only, and a bound on the count (not an allocation of any size).
    for (const [index, size] of [
      ["0x1", "4"],
      [" 1.0 ", "4e0"],
      ["1", "99999999999"],
    ])
      expect(() =>
        shardFrom(undefined, { AWS_BATCH_JOB_ARRAY_INDEX: index, AWS_BATCH_JOB_ARRAY_SIZE: size }),
      ).toThrow(TapeError);
    expect(() => shardFrom("1/99999999999", {})).toThrow(/--shard/);
  });

  it("a dataset with a file being written is not shared out, and a count beyond the bound is refused", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    await writeDataset(dir, [
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records: [{ kind: "trade", symbol: "X", ts: DAY0, price: "1", size: "1", side: "buy" }],
      },
    ]);
    const { readdir, rename } = await import("node:fs/promises");
    const [file] = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".tape"));
    await rename(join(dir, file!), join(dir, `${file!}.open`));
    const ds = await openDataset(dir, { includeOpen: true });
    expect(ds.files).toHaveLength(1);
    await expect(ds.partition(0, 2)).rejects.toMatchObject({ code: "E_TAPE_VALUE", field: "shard" });
    await expect((await openDataset(dir)).partition(0, 2 ** 32)).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
    });
  });
});
