import { describe, expect, it } from "vitest";
import { BytesSource, encodeTape, type RecordInput, TapeReader } from "../../src/index.js";

const records: RecordInput[] = Array.from({ length: 200 }, (_, i) => ({
  kind: "trade",
  symbol: i % 2 ? "BTCUSDT" : "ETHUSDT",
  ts: 1732500000000000000n + BigInt(i) * 1_000_000n,
  price: `${65000 + (i % 17)}.${i % 10}`,
  size: `0.00${(i % 9) + 1}`,
  side: i % 3 ? "buy" : "sell",
  tradeId: String(1000 + i),
}));

describe("verify() locates damage", () => {
  const file = encodeTape(records, { exchange: "x" }, { codec: "zstd", policy: { maxRows: 10 } });

  it.each([
    ["deleted", (b: Uint8Array, at: number) => Buffer.concat([b.subarray(0, at), b.subarray(at + 43)])],
    [
      "inserted",
      (b: Uint8Array, at: number) =>
        Buffer.concat([b.subarray(0, at), new Uint8Array(43).fill(7), b.subarray(at)]),
    ],
  ])("bytes %s inside a block: the first bad offset is at or before them", async (_name, damage) => {
    const clean = await TapeReader.open(new BytesSource(file));
    const victim = clean.blocks[5]!;
    const at = victim.offset + 20;
    const damaged = damage(file, at);
    const report = await (await TapeReader.open(new BytesSource(damaged))).verify();
    expect(report.ok).toBe(false);
    expect(report.firstBadOffset).not.toBeNull();
    expect(report.firstBadOffset!).toBeLessThanOrEqual(at);
    expect(report.firstBadOffset!).toBeGreaterThanOrEqual(victim.offset);
  });

  it.each([true, false])(
    "a block whose symbol is not UTF-8 is reported at the block's start (sealed: %s)",
    async (sealed) => {
      const clean = await TapeReader.open(new BytesSource(file));
      const victim = clean.blocks[3]!;
      const damaged = new Uint8Array(sealed ? file : file.subarray(0, clean.footerOffset));
      damaged[victim.offset + 42] = 0xff; // first byte of the symbol: the header check fails before the CRC
      const report = await (await TapeReader.open(new BytesSource(damaged))).verify();
      expect(report.ok).toBe(false);
      expect(report.firstBadOffset).toBe(victim.offset);
      expect(report.issues.some((i) => i.message.includes("field block.symbol"))).toBe(true);
    },
  );
});
