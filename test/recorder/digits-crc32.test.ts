/** Kraken's checksum CRC-32, fed decimal by decimal, equals zlib's CRC-32 of the digits joined as Kraken says. */
import { crc32 } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRC32_START, crc32Digits, crc32End } from "../../src/recorder/digits-crc32.js";

/** Kraken's rule, written plainly: the decimal point taken out, then the leading zeros. */
const digitsOf = (t: string) => t.replace(".", "").replace(/^0+/, "");

const decimal = fc
  .tuple(fc.stringMatching(/^(0|[1-9][0-9]{0,8})$/), fc.stringMatching(/^(\.[0-9]{1,10})?$/))
  .map(([int, frac]) => int + frac);

describe("crc32Digits", () => {
  it("over a book's decimals equals the CRC-32 of their digits joined", () => {
    fc.assert(
      fc.property(fc.array(decimal, { maxLength: 40 }), (decimals) => {
        let crc = CRC32_START;
        for (const d of decimals) crc = crc32Digits(crc, d);
        expect(crc32End(crc)).toBe(crc32(decimals.map(digitsOf).join("")) >>> 0);
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
