import { describe, expect, it } from "vitest";
import { TapeEncoder } from "../../src/format/writer.js";

function blocksOf(append: (enc: TapeEncoder) => void): { kind: string | null; rowCount: number }[] {
  const enc = new TapeEncoder(
    { exchange: "x", captureId: "c", periodStart: 0n, periodEnd: 0n, meta: {} },
    () => {},
  );
  append(enc);
  enc.flushBuffers();
  return enc.blocks.map((b) => ({ kind: b.kind, rowCount: b.rowCount }));
}

describe("block byte limit", () => {
  it("starts every raw block from zero bytes: blocks after the first full one are full too", () => {
    const data = new Uint8Array(1000).fill(65);
    const blocks = blocksOf((enc) => {
      for (let i = 0; i < 10_000; i++)
        enc.append({ kind: "raw", symbol: "S", ts: 1_000_000_000n + BigInt(i), data });
    });
    // A block closes at the row that reaches 4 MiB (1001 bytes a row: a byte of framing is counted).
    expect(blocks.map((b) => b.rowCount)).toEqual([4191, 4191, 1618]);
  });

  it("does the same for event messages", () => {
    const message = "m".repeat(2000);
    const blocks = blocksOf((enc) => {
      for (let i = 0; i < 5000; i++)
        enc.append({ kind: "event", symbol: "S", ts: 1_000_000_000n + BigInt(i), type: "info", message });
    });
    expect(blocks.map((b) => b.rowCount)).toEqual([2097, 2097, 806]);
  });
});
