/** The CRC-32 of venues' book checksums, fed piece by piece, equals the CRC-32 of the joined text. */
import { crc32 } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRC32_START, crc32Char, crc32Digits, crc32End, crc32Text } from "../../src/recorder/text-crc32.js";

const ascii = fc.string({ unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)) });

describe("text CRC-32", () => {
  it("of pieces equals the CRC-32 (zlib's) of their concatenation", () => {
    fc.assert(
      fc.property(fc.array(ascii, { maxLength: 20 }), fc.integer({ min: 32, max: 126 }), (pieces, sep) => {
        let crc = CRC32_START;
        for (const p of pieces) crc = crc32Char(crc32Text(crc, p), sep);
        const joined = pieces.map((p) => p + String.fromCharCode(sep)).join("");
        expect(crc32End(crc)).toBe(crc32(joined) >>> 0);
      }),
    );
  });

  it("takes a decimal's digits without its point and leading zeros", () => {
    const digits = (t: string) => crc32End(crc32Digits(CRC32_START, t));
    const of = (t: string) => crc32(t) >>> 0;
    expect(digits("0.01500")).toBe(of("1500"));
    expect(digits("45281.0")).toBe(of("452810"));
    expect(digits("10.05")).toBe(of("1005"));
    expect(digits("0")).toBe(of(""));
    expect(digits("123")).toBe(of("123"));
  });
});
