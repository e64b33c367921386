import { describe, expect, it } from "vitest";
import { compressBody } from "../../src/format/codecs.js";
import { BytesSource, encodeTape, type RecordInput, TapeReader } from "../../src/index.js";
import { recordKey, T0 } from "./helpers.js";

/** Trades whose columns each take several KiB when there are thousands. */
function trades(n: number): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "trade",
    symbol: "BTC-USDT",
    ts: T0 + BigInt(i) * 1_000_000n,
    recvTs: T0 + BigInt(i) * 1_000_000n + BigInt(300_000 + ((i * 7919) % 65_536)),
    price: `${60000 + ((i * 31) % 977) / 10}`,
    size: `0.${String((i * 104_729) % 99_991).padStart(5, "0")}`,
    side: i % 3 === 0 ? "sell" : "buy",
    tradeId: `${1000 + i}`,
  }));
}

/** The raw body of the file's only block (codec none) and its columns' lengths, from the column directory. */
async function rawBlock(
  records: RecordInput[],
): Promise<{ body: Uint8Array; dirLength: number; lengths: number[] }> {
  const bytes = encodeTape(records, { exchange: "x" }, { codec: "none", policy: { maxRows: 1 << 20 } });
  const reader = await TapeReader.open(new BytesSource(bytes));
  expect(reader.blocks).toHaveLength(1);
  const b = reader.blocks[0]!;
  const body = bytes.subarray(b.offset + b.headerLength, b.offset + b.length - 4);
  let at = 0;
  const varint = () => {
    let v = 0;
    for (let mul = 1; ; mul *= 128) {
      const x = body[at++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
    }
  };
  const lengths: number[] = [];
  for (let n = varint(), i = 0; i < n; i++) {
    at += 4;
    lengths.push(varint());
  }
  return { body, dirLength: at, lengths };
}

/** The number of zstd blocks in one zstd frame (RFC 8878 §3.1.1). */
function zstdBlocks(frame: Uint8Array): number {
  const fhd = frame[4]!;
  const singleSegment = (fhd >> 5) & 1;
  const fcs = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6]!;
  let at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + fcs;
  let blocks = 0;
  for (;;) {
    if (at + 3 > frame.length) throw new Error("zstd frame without a last block");
    const header = frame[at]! | (frame[at + 1]! << 8) | (frame[at + 2]! << 16);
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    blocks++;
    at += 3 + (type === 1 ? 1 : size);
    if (header & 1) return blocks;
  }
}

describe("zstd block bodies in parts (docs/FORMAT.md §12.3)", () => {
  it("a large block's columns end zstd blocks of their own; it reads back exactly and is smaller", async () => {
    const records = trades(6000);
    const { body, dirLength, lengths } = await rawBlock(records);
    // The parts the rule gives: a column ends one once the part and the rest each hold at least 4 KiB.
    let expected = 1;
    let end = dirLength;
    let partStart = 0;
    for (const length of lengths.slice(0, -1)) {
      end += length;
      if (end - partStart >= 4096 && body.length - end >= 4096) {
        expected++;
        partStart = end;
      }
    }
    expect(expected).toBeGreaterThan(3);
    const bytes = encodeTape(records, { exchange: "x" }, { codec: "zstd", policy: { maxRows: 1 << 20 } });
    const reader = await TapeReader.open(new BytesSource(bytes));
    const b = reader.blocks[0]!;
    const stored = bytes.subarray(b.offset + b.headerLength, b.offset + b.length - 4);
    expect(zstdBlocks(stored)).toBe(expected);
    // The whole body as one zstd block, as before parts: larger.
    expect(stored.length).toBeLessThan(compressBody("zstd", body).length);
    const back: string[] = [];
    for await (const r of reader.records()) back.push(recordKey(r));
    const plain = await TapeReader.open(
      new BytesSource(
        encodeTape(records, { exchange: "x" }, { codec: "none", policy: { maxRows: 1 << 20 } }),
      ),
    );
    const want: string[] = [];
    for await (const r of plain.records()) want.push(recordKey(r));
    expect(back).toEqual(want);
  });

  it("a small block is one zstd block", async () => {
    const bytes = encodeTape(trades(50), { exchange: "x" }, { codec: "zstd" });
    const reader = await TapeReader.open(new BytesSource(bytes));
    const b = reader.blocks[0]!;
    expect(zstdBlocks(bytes.subarray(b.offset + b.headerLength, b.offset + b.length - 4))).toBe(1);
  });
});
