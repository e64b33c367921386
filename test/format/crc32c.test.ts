import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32c } from "../../src/index.js";

/** Bit-at-a-time CRC-32C, the textbook definition. */
function reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const ascii = (s: string) => new TextEncoder().encode(s);

describe("crc32c", () => {
  it('check value: "123456789" -> 0xE3069283', () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
  });

  it("RFC 3720 vectors", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it("empty input is 0, and results are unsigned 32-bit", () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(0), 0x12345678)).toBe(0x12345678);
    const v = crc32c(new Uint8Array(32).fill(0xff));
    expect(v).toBeGreaterThan(0);
    expect(Number.isInteger(v) && v < 2 ** 32).toBe(true);
  });

  it("agrees with the bitwise definition for every length 0..64 (slicing tail and body)", () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 151 + 7) & 0xff);
    for (let n = 0; n <= 64; n++)
      expect(crc32c(data.subarray(0, n)), `length ${n}`).toBe(reference(data.subarray(0, n)));
  });

  it("agrees with the bitwise definition on random input, at any alignment", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
        const buf = new Uint8Array(bytes.length + shift);
        buf.set(bytes, shift);
        expect(crc32c(buf.subarray(shift))).toBe(reference(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it("is incremental: crc(b, crc(a)) === crc(a + b)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
        const ab = new Uint8Array(a.length + b.length);
        ab.set(a);
        ab.set(b, a.length);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(ab));
      }),
      { numRuns: 500 },
    );
  });

  it("incremental over the check string split at every point", () => {
    const s = ascii("123456789");
    for (let i = 0; i <= s.length; i++)
      expect(crc32c(s.subarray(i), crc32c(s.subarray(0, i)))).toBe(0xe3069283);
  });

  it("detects every single-bit flip in a 64-byte message", () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => i * 3);
    const good = crc32c(data);
    for (let bit = 0; bit < 64 * 8; bit++) {
      const d = data.slice();
      d[bit >>> 3]! ^= 1 << (bit & 7);
      expect(crc32c(d)).not.toBe(good);
    }
  });
});
