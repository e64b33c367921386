import { describe, expect, it } from "vitest";
import type { BlockHeader, DecodedBlock, IntColumn } from "../../src/format/index.js";
import { BlockCursor, splitTime } from "../../src/reader/cursor.js";

/** A decoded block of trades at `base + offsets[i]`, receive times all equal. */
function block(base: bigint, offsets: number[]): DecodedBlock {
  const int = (b: bigint, o: number[]): IntColumn => ({
    type: "int",
    base: b,
    offsets: Float64Array.from(o),
    scale: 0,
    valid: null,
  });
  return {
    header: { rowCount: offsets.length } as BlockHeader,
    columns: {
      ts: int(base, offsets),
      recvTs: int(
        0n,
        offsets.map(() => 0),
      ),
    },
  };
}

describe("BlockCursor at the edges of the offsets a file may hold (±(2^53 − 1), docs/FORMAT.md §5.5)", () => {
  it("row keys are exact where base remainder + offset passes 2^53", () => {
    // The base's ns remainder is 999,999: added to an offset of 2^53 − 2 first, the sum would round.
    const base = 1_700_000_000_000_999_999n;
    const offsets = [0, 2 ** 53 - 2];
    const cursor = new BlockCursor(block(base, offsets), undefined, undefined);
    for (const offset of offsets) {
      const want = splitTime(base + BigInt(offset));
      expect({ ms: cursor.tsMs, rem: cursor.tsRem }).toEqual(want);
      cursor.next();
    }
  });

  it("from and to beyond 2^52 of the base select rows exactly", () => {
    const base = 5n;
    const far = 2 ** 52 + 10;
    const b = block(base, [0, far]);
    const t = base + 2n ** 52n + 5n;
    // to between the two rows: only the first.
    const upTo = new BlockCursor(b, undefined, t);
    expect([upTo.pos, upTo.end]).toEqual([0, 1]);
    // from between them: only the second.
    const from = new BlockCursor(b, t, undefined);
    expect([from.pos, from.end]).toEqual([1, 2]);
    // Beyond 2^53 − 1 of the base: past every row.
    expect(new BlockCursor(b, base + 2n ** 60n, undefined).done).toBe(true);
  });
});
