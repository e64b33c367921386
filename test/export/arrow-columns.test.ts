import { describe, expect, it } from "vitest";
import { float64Values } from "../../src/export/arrow-columns.js";
import { formatDecimal, type IntColumn } from "../../src/index.js";

describe("float64 of exact decimals", () => {
  it("is the nearest double of the decimal value (as Number of its text), mantissas beyond 2^53 included", () => {
    const bases = [0n, 123_456n, 2n ** 52n + 7n, 728_007_852_875_680_065n, -(10n ** 17n) - 3n, 2n ** 62n];
    for (const base of bases) {
      for (const scale of [0, 2, 8, 16, 18]) {
        const offsets = Float64Array.from([0, 1, -1, 999_999, -(2 ** 40) + 3, 2 ** 50]);
        const col: IntColumn = { type: "int", base, offsets, scale, valid: null };
        const out = new Float64Array(offsets.length);
        float64Values(col, offsets.length, out, 0);
        const want = Array.from(offsets, (o) => Number(formatDecimal(base + BigInt(o), scale)));
        expect(Array.from(out), `base ${base} scale ${scale}`).toEqual(want);
      }
    }
  });
});
