import { describe, expect, it } from "vitest";
import { decimal128Values, float64Values, int64Values, intText } from "../../src/export/arrow-columns.js";
import { formatDecimal, type IntColumn } from "../../src/index.js";

/** Offsets a reader accepts (§5.5: up to ±(2^53 − 1)), the writer's ±2^50 bound and beyond it. */
const EDGE_OFFSETS = [
  0,
  1,
  -1,
  999_999,
  -(2 ** 40) + 3,
  2 ** 50,
  2 ** 51 + 1,
  -(2 ** 52) - 1,
  2 ** 53 - 1,
  -(2 ** 53) + 1,
  2 ** 53 - 2 ** 32 + 5,
];
const BASES = [
  0n,
  123_456n,
  2n ** 52n - 1n,
  2n ** 52n,
  -(2n ** 52n) + 9n,
  2n ** 52n + 7n,
  728_007_852_875_680_065n,
  -(10n ** 17n) - 3n,
  2n ** 62n,
];

describe("float64 of exact decimals", () => {
  it("is the nearest double of the decimal value (as Number of its text), mantissas beyond 2^53 included", () => {
    for (const base of BASES) {
      for (const scale of [0, 2, 8, 16, 18]) {
        const offsets = Float64Array.from(EDGE_OFFSETS);
        const col: IntColumn = { type: "int", base, offsets, scale, valid: null };
        const out = new Float64Array(offsets.length);
        float64Values(col, offsets.length, out, 0);
        const want = Array.from(offsets, (o) => Number(formatDecimal(base + BigInt(o), scale)));
        expect(Array.from(out), `base ${base} scale ${scale}`).toEqual(want);
      }
    }
  });
});

describe("exact exports over the whole offset range", () => {
  it("int64, Decimal128 and integer text are base + offset exactly, for every offset a reader accepts", () => {
    for (const base of BASES) {
      const offsets = Float64Array.from(EDGE_OFFSETS);
      const n = offsets.length;
      const exact = Array.from(offsets, (o) => base + BigInt(o));
      const ints = new BigInt64Array(n + 1);
      int64Values({ type: "int", base, offsets, scale: 0, valid: null }, n, ints, 1);
      expect(Array.from(ints.subarray(1)), `int64, base ${base}`).toEqual(exact);
      const text = intText({ type: "int", base, offsets, scale: 0, valid: null }, n);
      const strings = Array.from({ length: n }, (_, i) =>
        Buffer.from(text.bytes.subarray(text.offsets[i]!, text.offsets[i + 1]!)).toString(),
      );
      expect(strings, `text, base ${base}`).toEqual(exact.map(String));
      for (const scale of [0, 3, 18]) {
        const words = new Uint32Array(4 * n);
        decimal128Values({ type: "int", base, offsets, scale, valid: null }, n, words, 0);
        const got = Array.from({ length: n }, (_, i) => {
          let v = 0n;
          for (let w = 3; w >= 0; w--) v = (v << 32n) | BigInt(words[4 * i + w]!);
          return BigInt.asIntN(128, v);
        });
        expect(got, `decimal128, base ${base}, scale ${scale}`).toEqual(
          exact.map((m) => m * 10n ** BigInt(18 - scale)),
        );
      }
    }
  });
});
