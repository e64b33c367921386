import { describe, expect, it } from "vitest";
import type { BlockHeader } from "../../src/format/block.js";
import { BlockIndex } from "../../src/format/block-index.js";
import { encodeFooter, statsOf } from "../../src/format/footer.js";

const symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

function header(i: number): BlockHeader {
  const checkpoint = i % 7 === 6;
  const symbolId = i % symbols.length;
  return {
    offset: 64 + i * 1000,
    length: 900 + (i % 50),
    kind: checkpoint ? null : (["trade", "book", "bbo", "event", "raw"] as const)[i % 5]!,
    kindId: checkpoint ? 6 : (i % 5) + 1,
    codecId: 2,
    flags: 0,
    symbolId,
    symbol: symbols[symbolId]!,
    rowCount: 1 + (i % 300),
    rawLength: 5000 + i,
    minTs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n,
    maxTs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n + 999n,
    headerLength: 40 + symbols[symbolId]!.length,
  };
}

describe("BlockIndex", () => {
  it("gives back every header pushed, through growth, and counts the record blocks", () => {
    const index = new BlockIndex(symbols);
    const all = Array.from({ length: 1000 }, (_, i) => header(i));
    for (const h of all) index.push(h);
    expect(index.length).toBe(1000);
    expect(index.at(0)).toEqual(all[0]);
    expect(index.at(999)).toEqual(all[999]);
    expect(index.toArray()).toEqual(all);
    expect(index.recordBlocks).toBe(all.filter((h) => h.kind !== null).length);
    expect(() => index.at(1000)).toThrow(RangeError);
  });

  it("encodes the same footer as the headers themselves", () => {
    const index = new BlockIndex(symbols);
    const all = Array.from({ length: 300 }, (_, i) => header(i));
    for (const h of all) index.push(h);
    const digest = new Uint8Array(32).fill(7);
    const fromIndex = encodeFooter({ symbols, blocks: index, stats: statsOf(index), digest });
    const fromArray = encodeFooter({ symbols, blocks: all, stats: statsOf(all), digest });
    expect(Buffer.from(fromIndex).equals(Buffer.from(fromArray))).toBe(true);
  });
});
