import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DecodedBlock } from "../../src/format/block.js";
import type { IntColumn } from "../../src/format/columns.js";
import { blockRecords, blockRows } from "../../src/format/rows.js";
import { BytesSource, TapeError, TapeReader } from "../../src/index.js";
import { thrown } from "./helpers.js";

/**
 * Bases and offsets where `hi + (lo + offset)` rounds twice (found by search): a base beyond 2^53 that is not a
 * double, and an offset near the ±(2^53 − 1) a reader accepts from files of other writers.
 */
const BASES = [72_057_599_418_239_082n, 72_057_596_914_227_529n, 72_057_598_627_764_536n, 2n ** 62n + 511n];
const OFFSETS = [0, 1, -(2 ** 53) + 1, -(2 ** 53) + 2, -(2 ** 53) + 3, 2 ** 53 - 1, 2 ** 53 - 8, 12_345];

function ints(base: bigint, valid: Uint8Array | null = null): IntColumn {
  return { type: "int", base, offsets: Float64Array.from(OFFSETS), scale: 0, valid };
}

function block(kind: "trade" | "book", base: bigint, recvValid: Uint8Array | null): DecodedBlock {
  const n = OFFSETS.length;
  const common = {
    ts: ints(base),
    recvTs: ints(base, recvValid),
    price: { type: "int", base: 100n, offsets: new Float64Array(n), scale: 2, valid: null } as IntColumn,
    size: { type: "int", base: 5n, offsets: new Float64Array(n), scale: 1, valid: null } as IntColumn,
    side: { type: "u8", values: new Uint8Array(n), valid: null } as const,
  };
  const columns =
    kind === "trade"
      ? { ...common, tradeId: ints(base) }
      : {
          ...common,
          flags: { type: "u8", values: new Uint8Array(n), valid: null } as const,
          seq: ints(base),
        };
  return {
    header: {
      offset: 64,
      length: 0,
      kind,
      kindId: kind === "trade" ? 1 : 2,
      codecId: 0,
      flags: 0,
      symbolId: 0,
      symbol: "X",
      rowCount: n,
      rawLength: 0,
      // The rows' time range, as a decoded block's header has it.
      minTs: base + BigInt(Math.min(...OFFSETS)),
      maxTs: base + BigInt(Math.max(...OFFSETS)),
      headerLength: 0,
    },
    columns,
  };
}

describe("row objects of large integers", () => {
  it("are the double nearest base + offset, also where splitting the base would round twice", () => {
    for (const base of BASES) {
      const want = OFFSETS.map((o) => Number(base + BigInt(o)));
      // Every value present (the inline reader) and a receive time absent in one row (the general reader).
      for (const recvValid of [null, Uint8Array.from(OFFSETS, (_, i) => (i === 1 ? 0 : 1))]) {
        for (const kind of ["trade", "book"] as const) {
          const rows = blockRows(block(kind, base, recvValid));
          const where = `${kind}, base ${base}, recvTs ${recvValid === null ? "all present" : "one absent"}`;
          expect(
            rows.map((r) => r.ts),
            where,
          ).toEqual(want);
          expect(
            rows.map((r) => r.recvTs),
            where,
          ).toEqual(want.map((v, i) => (recvValid !== null && i === 1 ? null : v)));
          expect(
            rows.map((r) => (r.kind === "trade" ? r.tradeId : r.kind === "book" ? r.seq : undefined)),
            where,
          ).toEqual(want);
        }
      }
    }
  });
});

describe("blocks without rows", () => {
  it("a book checkpoint read as rows or records is a TapeError naming the block, never a TypeError", async () => {
    const fixtures = join(import.meta.dirname, "..", "..", "fixtures");
    const reader = await TapeReader.open(
      new BytesSource(await readFile(join(fixtures, "book-checkpoints-zstd.tape"))),
    );
    const block = reader.checkpointBlocks()[0]!;
    const decoded = await reader.readBlock(block);
    for (const read of [blockRows, blockRecords]) {
      const err = await thrown(() => read(decoded));
      expect(err).toBeInstanceOf(TapeError);
      expect(err).toMatchObject({ code: "E_TAPE_VERSION", offset: block.offset, field: "block.kind" });
      expect((err as Error).message).toMatch(/book checkpoint/);
    }
    await reader.close();
  });
});
