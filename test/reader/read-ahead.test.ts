import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type BlockHeader, openTape, type TapeRecord } from "../../src/index.js";
import { ReadAhead } from "../../src/reader/read-ahead.js";
import { DAY0, tempDir, writeDataset } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("ReadAhead", () => {
  it("returns exactly each block's bytes, whatever blocks are taken, skipped or joined into one read", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const records: TapeRecord[] = [];
    for (let i = 0; i < 3000; i++)
      records.push({
        kind: "trade",
        symbol: `S${i % 7}`,
        ts: DAY0 + BigInt(i) * 1_000_000n,
        price: `${1000 + (i % 97)}.5`,
        size: "1",
        side: "buy",
      });
    const [path] = await writeDataset(dir, [
      { exchange: "okx", hour: DAY0, captureId: "a", records, policy: { maxRows: 40 } },
    ]);
    const reader = await openTape(path!);
    cleanups.push(() => reader.close());
    const all = reader.selectBlocks();
    const expected = new Map<number, Buffer>();
    for (const b of all) expected.set(b.offset, Buffer.from(await reader.fetchBlock(b)));
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(all, { minLength: 1 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 1 << 20 }),
        async (chosen, maxBlocks, maxBytes) => {
          const ahead = new ReadAhead(maxBlocks, maxBytes);
          const handles = chosen.map((b: BlockHeader) => ahead.add(reader, b, 0));
          ahead.refill();
          // Taken in the order the consumer uses (first timestamp), each checked before the next take.
          const order = [...handles].sort(
            (a, b) => a.ms - b.ms || a.rem - b.rem || a.header.offset - b.header.offset,
          );
          let reads = 0;
          for (const h of order) {
            const bytes = await ahead.take(h);
            reads++;
            expect(Buffer.compare(Buffer.from(bytes), expected.get(h.header.offset)!)).toBe(0);
          }
          expect(reads).toBe(chosen.length);
          await ahead.settle();
        },
      ),
      { numRuns: 60 },
    );
  });
});
