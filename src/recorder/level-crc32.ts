/**
 * CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF) of a book's top
 * levels as a venue's checksum writes them out (OKX: `price:size` joined by `:`; Kraken: the digits of price and
 * size without decimal point or leading zeros), computed without writing that text out. Each level's part is hashed
 * once and kept with the level (`HashedLevel`), and a checksum combines the parts as zlib's `crc32_combine` does:
 * the CRC register moved over n bytes is a linear map, kept as tables for short parts. A checksum of 50 levels then
 * costs a few operations a level instead of one per character (the level strings are ASCII: decimals checked as
 * they were read).
 */
import type { TextLevel } from "./level-book.js";

/** How a level is written in a venue's checksum text. */
export const LEVEL_PART = {
  /** `price:size` (OKX). */
  priceColonSize: 1,
  /** The digits of price then size, without decimal point and leading zeros (Kraken). */
  digits: 2,
} as const;
export type LevelPart = (typeof LEVEL_PART)[keyof typeof LEVEL_PART];

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The register after one more byte. */
export function crc32Byte(crc: number, byte: number): number {
  return TABLE[(crc ^ byte) & 255]! ^ (crc >>> 8);
}

/** Parts up to this long are combined by table; longer ones (not seen in market data) byte by byte. */
const MAX_TABLED = 64;
/** SHIFT[n·1024 + k·256 + b]: the register holding byte b at byte k, moved over n zero bytes. */
const SHIFT = (() => {
  const t = new Int32Array((MAX_TABLED + 1) * 1024);
  for (let k = 0; k < 4; k++) for (let b = 0; b < 256; b++) t[k * 256 + b] = b << (8 * k);
  for (let n = 1; n <= MAX_TABLED; n++)
    for (let i = 0; i < 1024; i++) t[n * 1024 + i] = crc32Byte(t[(n - 1) * 1024 + i]!, 0);
  return t;
})();

/** The register moved over `n` zero bytes. */
function shift(crc: number, n: number): number {
  if (n > MAX_TABLED) {
    for (let i = 0; i < n; i++) crc = crc32Byte(crc, 0);
    return crc;
  }
  const o = n * 1024;
  return (
    SHIFT[o + (crc & 255)]! ^
    SHIFT[o + 256 + ((crc >>> 8) & 255)]! ^
    SHIFT[o + 512 + ((crc >>> 16) & 255)]! ^
    SHIFT[o + 768 + (crc >>> 24)]!
  );
}

/** Characters hashed by the last `hashPart`. */
let partLength = 0;

function addText(crc: number, text: string): number {
  for (let i = 0; i < text.length; i++) crc = crc32Byte(crc, text.charCodeAt(i));
  partLength += text.length;
  return crc;
}

function addDigits(crc: number, text: string): number {
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 48 /* 0 */ && c !== 46 /* . */) break;
  }
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) continue;
    crc = crc32Byte(crc, c);
    partLength++;
  }
  return crc;
}

/** A level's part hashed from a zero register (no initial XOR); its length in `partLength`. */
function hashPart(level: TextLevel, part: LevelPart): number {
  partLength = 0;
  if (part === LEVEL_PART.digits) return addDigits(addDigits(0, level.price), level.size);
  const price = addText(0, level.price);
  partLength++;
  return addText(crc32Byte(price, 58 /* : */), level.size);
}

/** The register before any text. */
export const CRC32_START = -1;

/** A level of a `LevelBook`: it keeps its hash for the venue's checksum (private: not one of the level's fields). */
export class HashedLevel implements TextLevel {
  #part = 0;
  #value = 0;
  #length = 0;
  constructor(
    readonly price: string,
    readonly size: string,
  ) {}

  /** The register after this level written as `part`. */
  addTo(crc: number, part: LevelPart): number {
    if (this.#part !== part) {
      this.#value = hashPart(this, part);
      this.#length = partLength;
      this.#part = part;
    }
    return shift(crc, this.#length) ^ this.#value;
  }
}

/** The register after `level` written as `part`. */
export function crc32Level(crc: number, level: TextLevel, part: LevelPart): number {
  if (level instanceof HashedLevel) return level.addTo(crc, part);
  const value = hashPart(level, part);
  return shift(crc, partLength) ^ value;
}

/** The unsigned CRC-32 of what was fed. */
export function crc32End(crc: number): number {
  return (crc ^ -1) >>> 0;
}
