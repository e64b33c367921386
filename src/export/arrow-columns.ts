/**
 * Decoded tape columns as Arrow buffers: int64 (timestamps, sequence ids) as 32-bit word pairs, exact decimals as
 * Decimal128 at scale 18, doubles, validity bitmaps, and UTF-8 / binary values with their offsets. Hot loops run
 * on doubles and 32-bit words; a BigInt is made only for a value beyond 2^53.
 */
import { type BytesColumn, formatDecimal, type IntColumn, type StringColumn } from "../format/index.js";

/** The one scale of every exported decimal: the largest the format allows, so no value is ever rounded. */
export const DECIMAL_SCALE = 18;
/** Digits of an exported decimal: an int64 mantissa (19 digits) times 10^18 fits in 38. */
export const DECIMAL_PRECISION = 38;

const TWO32 = 2 ** 32;
/**
 * A base within this range is an exact double, and base + offset (an offset is within ±(2^53 − 1), §5.5) is then
 * exact whenever the double sum is below 2^53 in magnitude: rounding cannot bring a sum of 2^53 or more below it.
 * Rows whose sum is not go through BigInt.
 */
const SMALL_BASE = 2n ** 52n;
/** Integers below this in magnitude are exact doubles. */
const SAFE = 2 ** 53;

/**
 * The validity bitmap (1 = present, LSB first) of columns laid end to end, or null when every row is present.
 * `valid` is a column's presence bytes, null when all its rows are present.
 */
export function validityBitmap(parts: readonly { valid: Uint8Array | null; rows: number }[]): {
  bitmap: Uint8Array | null;
  nulls: number;
} {
  let total = 0;
  let nulls = 0;
  for (const p of parts) {
    total += p.rows;
    if (p.valid !== null) for (let i = 0; i < p.rows; i++) if (p.valid[i] === 0) nulls++;
  }
  if (nulls === 0) return { bitmap: null, nulls };
  const bits = new Uint8Array((total + 7) >>> 3);
  let at = 0;
  for (const p of parts) {
    for (let i = 0; i < p.rows; i++, at++)
      if (p.valid === null || p.valid[i]) bits[at >>> 3]! |= 1 << (at & 7);
  }
  return { bitmap: bits, nulls };
}

/** Writes the int64 values base + offsets[i] (two's complement, wrapping as int64 does) at `out[at]`. */
export function int64Values(col: IntColumn, rows: number, out: BigInt64Array, at: number): void {
  const low = new Uint32Array(out.buffer, out.byteOffset + at * 8, rows * 2);
  const high = new Int32Array(out.buffer, out.byteOffset + at * 8, rows * 2);
  const baseLo = Number(BigInt.asUintN(32, col.base));
  const baseHi = Number(BigInt.asIntN(32, col.base >> 32n));
  const offsets = col.offsets;
  for (let i = 0; i < rows; i++) {
    // The offset in 32-bit words too, each part exact (a division by 2^32 and its floor are exact in doubles),
    // so that any offset the format allows (up to ±(2^53 − 1)) adds exactly.
    const offset = offsets[i]!;
    const offsetHi = Math.floor(offset / TWO32);
    const lo = baseLo + (offset - offsetHi * TWO32);
    const carry = lo >= TWO32 ? 1 : 0;
    low[2 * i] = lo - carry * TWO32;
    // The typed array wraps the high word to int32, as int64 arithmetic wraps.
    high[2 * i + 1] = baseHi + offsetHi + carry;
  }
}

/** Writes the nearest double of each decimal value (as row objects have it) at `all[at]`. */
export function float64Values(col: IntColumn, rows: number, all: Float64Array, at: number): void {
  const out = all.subarray(at, at + rows);
  const offsets = col.offsets;
  const div = 10 ** col.scale;
  // Beyond 2^53 the mantissa would be rounded before the division: its decimal text is rounded once instead.
  const exact = (i: number) => Number(formatDecimal(col.base + BigInt(offsets[i]!), col.scale));
  if (col.base >= -SMALL_BASE && col.base <= SMALL_BASE) {
    const base = Number(col.base);
    for (let i = 0; i < rows; i++) {
      const m = base + offsets[i]!;
      out[i] = m < SAFE && m > -SAFE ? m / div : exact(i);
    }
  } else {
    for (let i = 0; i < rows; i++) out[i] = exact(i);
  }
}

const TWO24 = 2 ** 24;
const TWO48 = 2 ** 48;

/** 10^k for k = 0…18 as three 24-bit limbs, least significant first. */
const POW10_LIMBS: [number, number, number][] = Array.from({ length: DECIMAL_SCALE + 1 }, (_, k) => {
  const p = 10 ** k;
  const p2 = Math.floor(p / TWO48);
  const p1 = Math.floor((p - p2 * TWO48) / TWO24);
  return [p - p2 * TWO48 - p1 * TWO24, p1, p2];
});

/**
 * Each decimal as Decimal128 at scale 18: the mantissa times 10^(18 - scale), 16 bytes little-endian two's
 * complement per value. For a mantissa below 2^53 the product is computed in 24-bit limbs, whose partial products
 * (below 2^48) and their sums stay exact in doubles; larger mantissas go through BigInt.
 */
export function decimal128Values(col: IntColumn, rows: number, all: Uint32Array, at: number): void {
  const out = all.subarray(at * 4, (at + rows) * 4);
  const k = DECIMAL_SCALE - col.scale;
  const offsets = col.offsets;
  const mul = 10n ** BigInt(k);
  const exact = (i: number) => {
    let v = BigInt.asUintN(128, (col.base + BigInt(offsets[i]!)) * mul);
    for (let w = 0; w < 4; w++) {
      out[4 * i + w] = Number(v & 0xffffffffn);
      v >>= 32n;
    }
  };
  if (col.base < -SMALL_BASE || col.base > SMALL_BASE) {
    for (let i = 0; i < rows; i++) exact(i);
    return;
  }
  const [p0, p1, p2] = POW10_LIMBS[k]!;
  const base = Number(col.base);
  for (let i = 0; i < rows; i++) {
    const m = base + offsets[i]!;
    if (!(m < SAFE && m > -SAFE)) {
      exact(i);
      continue;
    }
    const a = m < 0 ? -m : m;
    const a2 = Math.floor(a / TWO48);
    const a1 = Math.floor((a - a2 * TWO48) / TWO24);
    const a0 = a - a2 * TWO48 - a1 * TWO24;
    // Column sums of the partial products, then carries into 24-bit limbs r0…r4 (and 8 bits in r5).
    let c = a0 * p0;
    let q = Math.floor(c / TWO24);
    const r0 = c - q * TWO24;
    c = q + a0 * p1 + a1 * p0;
    q = Math.floor(c / TWO24);
    const r1 = c - q * TWO24;
    c = q + a0 * p2 + a1 * p1 + a2 * p0;
    q = Math.floor(c / TWO24);
    const r2 = c - q * TWO24;
    c = q + a1 * p2 + a2 * p1;
    q = Math.floor(c / TWO24);
    const r3 = c - q * TWO24;
    c = q + a2 * p2;
    q = Math.floor(c / TWO24);
    const r4 = c - q * TWO24;
    // 24-bit limbs into 32-bit words (the shifts drop the bits that belong to the next word).
    let w0 = (r0 | (r1 << 24)) >>> 0;
    let w1 = ((r1 >>> 8) | (r2 << 16)) >>> 0;
    let w2 = ((r2 >>> 16) | (r3 << 8)) >>> 0;
    let w3 = (r4 | (q << 24)) >>> 0;
    if (m < 0) {
      // Two's complement: invert, add one.
      w0 = (~w0 + 1) >>> 0;
      w1 = ~w1 >>> 0;
      w2 = ~w2 >>> 0;
      w3 = ~w3 >>> 0;
      if (w0 === 0) {
        w1 = (w1 + 1) >>> 0;
        if (w1 === 0) {
          w2 = (w2 + 1) >>> 0;
          if (w2 === 0) w3 = (w3 + 1) >>> 0;
        }
      }
    }
    const o = 4 * i;
    out[o] = w0;
    out[o + 1] = w1;
    out[o + 2] = w2;
    out[o + 3] = w3;
  }
}

/** Variable-length values: Arrow's int32 offsets (rows + 1) and the bytes they index. */
export interface VarBinary {
  offsets: Int32Array;
  bytes: Uint8Array;
}

/** Decimal digits of integer ids (a trade id stored as an integer), as UTF-8; absent rows are empty. */
export function intText(col: IntColumn, rows: number): VarBinary {
  const offsets = new Int32Array(rows + 1);
  // 20 bytes hold any int64 in decimal with its sign.
  const bytes = new Uint8Array(rows * 20);
  const valid = col.valid;
  let p = 0;
  if (col.base >= -SMALL_BASE && col.base <= SMALL_BASE) {
    const base = Number(col.base);
    for (let i = 0; i < rows; i++) {
      if (valid === null || valid[i]) {
        const v = base + col.offsets[i]!;
        p = v < SAFE && v > -SAFE ? writeDigits(bytes, p, v) : writeBigDigits(bytes, p, col, i);
      }
      offsets[i + 1] = p;
    }
  } else {
    for (let i = 0; i < rows; i++) {
      if (valid === null || valid[i]) p = writeBigDigits(bytes, p, col, i);
      offsets[i + 1] = p;
    }
  }
  return { offsets, bytes: bytes.subarray(0, p) };
}

/** Writes the decimal digits of base + offsets[i] through BigInt; returns the position after them. */
function writeBigDigits(bytes: Uint8Array, p: number, col: IntColumn, i: number): number {
  const text = (col.base + BigInt(col.offsets[i]!)).toString();
  for (let c = 0; c < text.length; c++) bytes[p++] = text.charCodeAt(c);
  return p;
}

/** Writes the decimal digits of the safe integer `v` at `bytes[p]`; returns the position after them. */
function writeDigits(bytes: Uint8Array, p: number, v: number): number {
  if (v < 0) {
    bytes[p++] = 0x2d;
    v = -v;
  }
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  let q = p + digits;
  const end = q;
  do {
    const d = v % 10;
    bytes[--q] = 0x30 + d;
    v = (v - d) / 10;
  } while (q > p);
  return end;
}

/** Strings as UTF-8 (absent rows empty). */
export function stringText(col: StringColumn, rows: number): VarBinary {
  return joinBytes(rows, (i) => Buffer.from(col.values[i]!, "utf8"));
}

/** Byte values as they are. */
export function binaryValues(col: BytesColumn, rows: number): VarBinary {
  return joinBytes(rows, (i) => col.values[i]!);
}

/** Variable-length values of several columns laid end to end. */
export function concatVarBinary(parts: readonly VarBinary[]): VarBinary {
  if (parts.length === 1) return parts[0]!;
  let rows = 0;
  let bytes = 0;
  for (const p of parts) {
    rows += p.offsets.length - 1;
    bytes += p.bytes.length;
  }
  const offsets = new Int32Array(rows + 1);
  const data = new Uint8Array(bytes);
  let row = 0;
  let byte = 0;
  for (const p of parts) {
    const n = p.offsets.length - 1;
    for (let i = 1; i <= n; i++) offsets[row + i] = byte + p.offsets[i]!;
    data.set(p.bytes, byte);
    row += n;
    byte += p.bytes.length;
  }
  return { offsets, bytes: data };
}

function joinBytes(rows: number, valueAt: (i: number) => Uint8Array): VarBinary {
  const offsets = new Int32Array(rows + 1);
  const parts = new Array<Uint8Array>(rows);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const v = valueAt(i);
    parts[i] = v;
    total += v.length;
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < rows; i++) bytes.set(parts[i]!, offsets[i]!);
  return { offsets, bytes };
}
