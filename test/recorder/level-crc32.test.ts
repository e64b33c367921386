/**
 * The venue checksums' CRC-32 of book levels, combined from each level's kept hash, equals zlib's CRC-32 of the
 * text written out plainly.
 */
import { crc32 } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TextLevel } from "../../src/recorder/level-book.js";
import {
  CRC32_START,
  crc32Byte,
  crc32End,
  crc32Level,
  HashedLevel,
  LEVEL_PART,
  type LevelPart,
} from "../../src/recorder/level-crc32.js";

/** Kraken's rule, written plainly: the decimal point taken out, then the leading zeros. */
const digitsOf = (t: string) => t.replace(".", "").replace(/^0+/, "");
const written = (l: TextLevel, part: LevelPart) =>
  part === LEVEL_PART.digits ? digitsOf(l.price) + digitsOf(l.size) : `${l.price}:${l.size}`;

const decimal = fc
  .tuple(fc.stringMatching(/^(0|[1-9][0-9]{0,8})$/), fc.stringMatching(/^(\.[0-9]{1,10})?$/))
  .map(([int, frac]) => int + frac);
// Some levels far longer than any price: their parts are combined byte by byte.
const long = fc.stringMatching(/^[1-9][0-9]{40,80}$/);
const level = fc
  .tuple(fc.oneof(decimal, long), decimal, fc.boolean())
  .map(([price, size, hashed]): TextLevel => (hashed ? new HashedLevel(price, size) : { price, size }));

describe("crc32Level", () => {
  it("over levels (joined by a separator or not) equals the CRC-32 of their text", () => {
    fc.assert(
      fc.property(
        fc.array(level, { maxLength: 50 }),
        fc.constantFrom(LEVEL_PART.digits, LEVEL_PART.priceColonSize),
        fc.option(fc.constant(58)),
        (levels, part, separator) => {
          // Twice: the second time from the hashes kept by the HashedLevels.
          for (let pass = 0; pass < 2; pass++) {
            let crc = CRC32_START;
            levels.forEach((l, i) => {
              if (i > 0 && separator !== null) crc = crc32Byte(crc, separator);
              crc = crc32Level(crc, l, part);
            });
            const text = levels.map((l) => written(l, part)).join(separator === null ? "" : ":");
            expect(crc32End(crc)).toBe(crc32(text) >>> 0);
          }
        },
      ),
    );
  });

  it("keeps a level's hash for one way of writing it: the other way is hashed again", () => {
    const l = new HashedLevel("0.0150", "45281.0");
    const one = (part: LevelPart) => crc32End(crc32Level(CRC32_START, l, part));
    expect(one(LEVEL_PART.digits)).toBe(crc32("150452810") >>> 0);
    expect(one(LEVEL_PART.priceColonSize)).toBe(crc32("0.0150:45281.0") >>> 0);
    expect(one(LEVEL_PART.digits)).toBe(crc32("150452810") >>> 0);
  });

  it("shows nothing of the hash among a level's fields", () => {
    expect(new HashedLevel("1.5", "2")).toEqual({ price: "1.5", size: "2" });
    expect(Object.keys(new HashedLevel("1.5", "2"))).toEqual(["price", "size"]);
  });
});
