/**
 * Decoded tape columns as Arrow buffers: int64 (timestamps, sequence ids) as 32-bit word pairs, exact decimals as
 * Decimal128 at scale 18, doubles, validity bitmaps, and UTF-8 / binary values with their offsets. Hot loops run
 * on doubles and 32-bit words; a BigInt is made only for a value beyond 2^53.
 */
import type { BytesColumn, IntColumn, StringColumn } from "../format/index.js";

/** The one scale of every exported decimal: the largest the format allows, so no value is ever rounded. */
export const DECIMAL_SCALE = 18;
/** Digits of an exported decimal: an int64 mantissa (19 digits) times 10^18 fits in 38. */
export const DECIMAL_PRECISION = 38;

const TWO32 = 2 ** 32;
const TWO16 = 2 ** 16;
/** |base| up to this and offsets within +-2^51 (the format's bound) keep base + offset exact in a double. */
const SMALL_BASE = 2n ** 52n;

/** 1 bits where `valid[i]` is 1 (LSB first), or null when every row is valid. */
export function validityBitmap(valid: Uint8Array | null, rows: number): Uint8Array | null {
  if (valid === null) return null;
  const bits = new Uint8Array((rows + 7) >>> 3);
  for (let i = 0; i < rows; i++) if (valid[i]) bits[i >>> 3]! |= 1 << (i & 7);
  return bits;
}

export function nullCount(valid: Uint8Array | null, rows: number): number {
  if (valid === null) return 0;
  let n = 0;
  for (let i = 0; i < rows; i++) if (valid[i] === 0) n++;
  return n;
}

/** The int64 values base + offsets[i] (two's complement, wrapping as int64 does). */
export function int64Values(col: IntColumn, rows: number): BigInt64Array {
  const out = new BigInt64Array(rows);
  const words = new Int32Array(out.buffer);
  const baseLo = Number(BigInt.asUintN(32, col.base));
  const baseHi = Number(BigInt.asIntN(32, col.base >> 32n));
  const offsets = col.offsets;
  for (let i = 0; i < rows; i++) {
    const off = offsets[i]!;
    // off / 2^32 is exact; so is the remainder, in [0, 2^32).
    const offHi = Math.floor(off / TWO32);
    let lo = baseLo + (off - offHi * TWO32);
    let carry = 0;
    if (lo >= TWO32) {
      lo -= TWO32;
      carry = 1;
    }
    words[2 * i] = lo | 0;
    words[2 * i + 1] = (baseHi + offHi + carry) | 0;
  }
  return out;
}

/** The nearest double of each decimal value (as row objects have it). */
export function float64Values(col: IntColumn, rows: number): Float64Array {
  const out = new Float64Array(rows);
  const offsets = col.offsets;
  const div = 10 ** col.scale;
  if (col.base >= -SMALL_BASE && col.base <= SMALL_BASE) {
    const base = Number(col.base);
    for (let i = 0; i < rows; i++) out[i] = (base + offsets[i]!) / div;
  } else {
    for (let i = 0; i < rows; i++) out[i] = Number(col.base + BigInt(offsets[i]!)) / div;
  }
  return out;
}

/** 10^k for k = 0…18 as four 16-bit limbs, least significant first. */
const POW10_LIMBS: number[][] = Array.from({ length: DECIMAL_SCALE + 1 }, (_, k) => {
  let p = 10n ** BigInt(k);
  const limbs: number[] = [];
  for (let j = 0; j < 4; j++) {
    limbs.push(Number(p & 0xffffn));
    p >>= 16n;
  }
  return limbs;
});

/**
 * Each decimal as Decimal128 at scale 18: the mantissa times 10^(18 - scale), 16 bytes little-endian two's
 * complement per value. The product of a mantissa below 2^53 and 10^18 is computed in 16-bit limbs, whose partial
 * products stay exact in doubles; larger mantissas go through BigInt.
 */
export function decimal128Values(col: IntColumn, rows: number): Uint32Array {
  const out = new Uint32Array(rows * 4);
  const k = DECIMAL_SCALE - col.scale;
  const offsets = col.offsets;
  if (col.base < -SMALL_BASE || col.base > SMALL_BASE) {
    const mul = 10n ** BigInt(k);
    for (let i = 0; i < rows; i++) {
      let v = BigInt.asUintN(128, (col.base + BigInt(offsets[i]!)) * mul);
      for (let w = 0; w < 4; w++) {
        out[4 * i + w] = Number(v & 0xffffffffn);
        v >>= 32n;
      }
    }
    return out;
  }
  const [p0, p1, p2, p3] = POW10_LIMBS[k]! as [number, number, number, number];
  const base = Number(col.base);
  for (let i = 0; i < rows; i++) {
    const m = base + offsets[i]!;
    const a = Math.abs(m);
    const aLo = a % TWO32;
    const aHi = (a - aLo) / TWO32;
    const a0 = aLo & 0xffff;
    const a1 = aLo >>> 16;
    const a2 = aHi & 0xffff;
    const a3 = aHi >>> 16;
    // Column sums of the partial products (each below 2^34), then carries into 16-bit limbs.
    let t = a0 * p0;
    const r0 = t % TWO16;
    t = (t - r0) / TWO16 + a0 * p1 + a1 * p0;
    const r1 = t % TWO16;
    t = (t - r1) / TWO16 + a0 * p2 + a1 * p1 + a2 * p0;
    const r2 = t % TWO16;
    t = (t - r2) / TWO16 + a0 * p3 + a1 * p2 + a2 * p1 + a3 * p0;
    const r3 = t % TWO16;
    t = (t - r3) / TWO16 + a1 * p3 + a2 * p2 + a3 * p1;
    const r4 = t % TWO16;
    t = (t - r4) / TWO16 + a2 * p3 + a3 * p2;
    const r5 = t % TWO16;
    t = (t - r5) / TWO16 + a3 * p3;
    const r6 = t % TWO16;
    const r7 = (t - r6) / TWO16;
    let w0 = (r0 + r1 * TWO16) >>> 0;
    let w1 = (r2 + r3 * TWO16) >>> 0;
    let w2 = (r4 + r5 * TWO16) >>> 0;
    let w3 = (r6 + r7 * TWO16) >>> 0;
    if (m < 0) {
      // Two's complement: invert, add one.
      w0 = ~w0 >>> 0;
      w1 = ~w1 >>> 0;
      w2 = ~w2 >>> 0;
      w3 = ~w3 >>> 0;
      w0 = (w0 + 1) >>> 0;
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
  return out;
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
      if (valid === null || valid[i]) p = writeDigits(bytes, p, base + col.offsets[i]!);
      offsets[i + 1] = p;
    }
  } else {
    for (let i = 0; i < rows; i++) {
      if (valid === null || valid[i]) {
        const text = (col.base + BigInt(col.offsets[i]!)).toString();
        for (let c = 0; c < text.length; c++) bytes[p++] = text.charCodeAt(c);
      }
      offsets[i + 1] = p;
    }
  }
  return { offsets, bytes: bytes.subarray(0, p) };
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
