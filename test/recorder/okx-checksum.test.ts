/** OKX's book checksum against a plain implementation: zlib's CRC-32 of the levels joined as OKX's guide says. */
import { crc32 } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { okxChecksum } from "../../src/recorder/connectors/okx.js";
import { LevelBook, type TextLevel } from "../../src/recorder/level-book.js";

/** "bid price:bid size:ask price:ask size:…" over the top 25 levels, as a signed 32-bit integer. */
function plainChecksum(bids: readonly TextLevel[], asks: readonly TextLevel[]): number {
  const parts: string[] = [];
  for (let i = 0; i < 25; i++) {
    if (i < bids.length) parts.push(`${bids[i]!.price}:${bids[i]!.size}`);
    if (i < asks.length) parts.push(`${asks[i]!.price}:${asks[i]!.size}`);
  }
  return crc32(parts.join(":")) | 0;
}

describe("okx book checksum", () => {
  const decimal = fc.oneof(
    fc.constantFrom("0.00001", "0.00000001", "1", "100", "45281.0", "0.10000000", "2500.50"),
    fc
      .tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 8 }))
      .map(([n, d]) => (d === 0 ? String(n + 1) : (n / 10 ** d + 10 ** -d).toFixed(d))),
  );

  it("equals a plain implementation over random books, plain levels or a LevelBook's", () => {
    const side = fc.array(fc.record({ price: decimal, size: decimal }), { maxLength: 30 });
    fc.assert(
      fc.property(side, side, (bids, asks) => {
        expect(okxChecksum(bids, asks)).toBe(plainChecksum(bids, asks));
        // The same levels in a LevelBook (which keeps each level's hash), checked twice.
        const book = new LevelBook();
        for (const l of bids) book.bids.set(l.price, l.size);
        for (const l of asks) book.asks.set(l.price, l.size);
        const top = () => [book.bids.top(25), book.asks.top(25)] as const;
        for (let pass = 0; pass < 2; pass++) expect(okxChecksum(...top())).toBe(plainChecksum(...top()));
      }),
      { numRuns: 500 },
    );
  });
});
