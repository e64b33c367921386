/**
 * Column builders: the writer's per-(symbol, kind) buffers. Each `add` returns false when the value cannot
 * join the values already buffered without breaking the block's number ranges (offsets must stay safe
 * integers, decimals must stay below 10^18 at the block's scale); the writer then closes the block and
 * starts a new one, so that no value is ever rejected for the company it keeps.
 */
import type { BytesColumn, IntColumn, StringColumn, U8Column } from "./columns.js";
import { MAX_DECIMAL_SCALE, type Mantissa, pow10, pow10Big } from "./decimal.js";
import { TapeValueError } from "./errors.js";

/**
 * Offsets from a block's base stay within +-2^50, so that the encoder's differences (up to 2^51) and their
 * zigzag form (up to 2^52) are still exact doubles.
 */
export const MAX_OFFSET = 2 ** 50;
const MAX_OFFSET_BIG = 2n ** 50n;
/** Decimal values (at the block's scale) stay below 10^18: at most 18 digits, far inside int64. */
const DECIMAL_LIMIT = 1e18;
const DECIMAL_LIMIT_BIG = 10n ** 18n;

/** `a` itself when it holds `need` elements, else a copy with at least twice its room. */
export function grow<T extends Float64Array | Uint8Array | Uint32Array | BigInt64Array>(
  a: T,
  need: number,
): T {
  if (need <= a.length) return a;
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const next = new (a.constructor as new (n: number) => T)(cap);
  next.set(a as never);
  return next;
}

class Presence {
  valid: Uint8Array | null = null;
  mark(count: number, present: boolean): void {
    if (present && this.valid === null) return;
    if (this.valid === null) this.valid = new Uint8Array(Math.max(16, count * 2)).fill(1, 0, count);
    this.valid = grow(this.valid, count + 1);
    this.valid[count] = present ? 1 : 0;
  }
  reset(): void {
    this.valid = null;
  }
}

/** Integers (timestamps, ids, sequence numbers) as a bigint base and safe-integer offsets. */
export class IntBuilder {
  base: bigint | null = null;
  offsets = new Float64Array(1024);
  count = 0;
  private presence = new Presence();
  /**
   * The last value added and its offset: the rows of one message share their times and sequence id, and a
   * comparison costs less than a bigint subtraction (which allocates).
   */
  private lastValue: bigint | null = null;
  private lastOffset = 0;

  /** Adds a value (undefined = absent). */
  add(v: bigint | undefined): boolean {
    if (v === undefined) {
      this.presence.mark(this.count, false);
      this.offsets = grow(this.offsets, this.count + 1);
      this.offsets[this.count++] = 0;
      return true;
    }
    if (v !== this.lastValue) {
      if (this.base === null) this.base = v;
      const d = v - this.base;
      if (d > MAX_OFFSET_BIG || d < -MAX_OFFSET_BIG) return false;
      this.lastValue = v;
      this.lastOffset = Number(d);
    }
    this.presence.mark(this.count, true);
    this.offsets = grow(this.offsets, this.count + 1);
    this.offsets[this.count++] = this.lastOffset;
    return true;
  }

  /** Adds a present value at base 0 (the caller checked that |v| <= MAX_OFFSET). */
  addSafe(v: number): void {
    if (this.base === null) this.base = 0n;
    this.presence.mark(this.count, true);
    this.offsets = grow(this.offsets, this.count + 1);
    this.offsets[this.count++] = v;
  }

  /** Adds offsets relative to `base` in bulk (the columnar path). */
  addOffsets(base: bigint, offsets: Float64Array): boolean {
    const n = offsets.length;
    if (n === 0) return true;
    // An empty builder takes the first value as its base, wherever the caller's base is.
    if (this.base === null) {
      if (!Number.isSafeInteger(offsets[0]!))
        throw new TapeValueError(`offset ${offsets[0]} at row 0 is not a safe integer`, "offsets");
      this.base = base + BigInt(offsets[0]!);
    }
    const shift = base - this.base;
    if (shift > 2n ** 53n || shift < -(2n ** 53n)) return false;
    const s = Number(shift);
    this.offsets = grow(this.offsets, this.count + n);
    const out = this.offsets;
    const at = this.count;
    // One pass: check, shift and copy. A value that fails leaves `count` as it was, so nothing is added.
    for (let i = 0; i < n; i++) {
      const v = offsets[i]!;
      // Safe integers only: the test is written so that NaN fails it too.
      if (!(Math.abs(v) <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v))
        throw new TapeValueError(`offset ${v} at row ${i} is not a safe integer`, "offsets");
      const shifted = v + s;
      if (Math.abs(shifted) > MAX_OFFSET) return false;
      out[at + i] = shifted;
    }
    if (this.presence.valid !== null) for (let i = 0; i < n; i++) this.presence.mark(at + i, true);
    this.count += n;
    return true;
  }

  /** Drops rows from `n` on (to undo a partly added record). */
  truncate(n: number): void {
    if (n === 0) this.reset();
    else this.count = Math.min(this.count, n);
  }

  column(scale = 0): IntColumn {
    return {
      type: "int",
      base: this.base ?? 0n,
      offsets: this.offsets.subarray(0, this.count),
      scale,
      valid: this.presence.valid === null ? null : this.presence.valid.subarray(0, this.count),
    };
  }

  /** Multiplies every value by `factor` (= `factorBig`); the caller checked that the offsets stay in range. */
  multiply(factor: number, factorBig: bigint): void {
    for (let i = 0; i < this.count; i++) this.offsets[i] = this.offsets[i]! * factor;
    this.base = (this.base ?? 0n) * factorBig;
    this.lastValue = null;
  }

  reset(): void {
    this.base = null;
    this.count = 0;
    this.lastValue = null;
    this.presence.reset();
  }
}

/** Decimals at a common scale: the block's scale grows to the most decimals seen. */
export class DecimalBuilder {
  private ints = new IntBuilder();
  scale = 0;
  /** Largest |value| at the current scale, as a double (for the range check). */
  private maxAbs = 0;
  private present = 0;

  get count(): number {
    return this.ints.count;
  }

  add(d: { mantissa: Mantissa; scale: number } | undefined): boolean {
    if (d === undefined) return this.ints.add(undefined);
    if (this.present === 0) this.scale = d.scale;
    else if (d.scale > this.scale && !this.rescale(d.scale)) return false;
    const up = this.scale - d.scale;
    if (typeof d.mantissa === "number") {
      const v = d.mantissa * pow10(up);
      const abs = Math.abs(v);
      if (abs <= MAX_OFFSET && (this.ints.base ?? 0n) === 0n) {
        // Fast path: a small integer at base 0 (exact: the product of two exact doubles below 2^53).
        this.ints.addSafe(v);
        if (abs > this.maxAbs) this.maxAbs = abs;
        this.present++;
        return true;
      }
    }
    const v = BigInt(d.mantissa) * pow10Big(up);
    if ((v < 0n ? -v : v) >= DECIMAL_LIMIT_BIG || !this.ints.add(v)) return false;
    const abs = Math.abs(Number(v));
    if (abs > this.maxAbs) this.maxAbs = abs;
    this.present++;
    return true;
  }

  /** Multiplies every buffered value by 10^(scale - this.scale), if they stay in range. */
  private rescale(scale: number): boolean {
    const factor = pow10(scale - this.scale);
    if (this.maxAbs * factor >= DECIMAL_LIMIT) return false;
    const ints = this.ints;
    const offs = ints.offsets;
    for (let i = 0; i < ints.count; i++) if (Math.abs(offs[i]! * factor) > MAX_OFFSET) return false;
    ints.multiply(factor, pow10Big(scale - this.scale));
    this.maxAbs *= factor;
    this.scale = scale;
    return true;
  }

  /** Bulk add of mantissas (safe integers) at one scale. */
  addMantissas(mantissas: Float64Array, scale: number): boolean {
    if (!Number.isInteger(scale) || scale < 0 || scale > MAX_DECIMAL_SCALE) {
      throw new TapeValueError(`scale ${scale} is not an integer in [0, ${MAX_DECIMAL_SCALE}]`, "scale");
    }
    if (this.present === 0) this.scale = scale;
    if (scale > this.scale && !this.rescale(scale)) return false;
    const factor = pow10(this.scale - scale);
    let maxAbs = 0;
    for (let i = 0; i < mantissas.length; i++) {
      const a = Math.abs(mantissas[i]!);
      if (a > maxAbs) maxAbs = a;
    }
    // Below 2^50 / factor, every product is an exact double within the block's offset range.
    if (maxAbs * factor > MAX_OFFSET) return false;
    // Mantissas at base 0, as `add` keeps them: sizes in scientific form need their trailing zeros.
    if (this.ints.count === 0) this.ints.base = 0n;
    if (factor === 1) {
      if (!this.ints.addOffsets(0n, mantissas)) return false;
    } else if (!this.ints.addOffsets(0n, scaleBy(mantissas, factor))) return false;
    if (maxAbs * factor > this.maxAbs) this.maxAbs = maxAbs * factor;
    this.present += mantissas.length;
    return true;
  }

  column(): IntColumn {
    return this.ints.column(this.scale);
  }

  truncate(n: number): void {
    if (n === 0) this.reset();
    else {
      this.ints.truncate(n);
      this.present = Math.min(this.present, n);
    }
  }

  reset(): void {
    this.ints.reset();
    this.scale = 0;
    this.maxAbs = 0;
    this.present = 0;
  }
}

/** Reused by addMantissas: a block's batch is scaled, added and dropped before the next one. */
let scaleScratch = new Float64Array(1024);
function scaleBy(values: Float64Array, factor: number): Float64Array {
  if (scaleScratch.length < values.length) scaleScratch = new Float64Array(2 * values.length);
  const out = scaleScratch.subarray(0, values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! * factor;
  return out;
}

export class U8Builder {
  values = new Uint8Array(1024);
  count = 0;
  add(v: number): void {
    this.values = grow(this.values, this.count + 1);
    this.values[this.count++] = v;
  }
  addAll(vs: Uint8Array): void {
    this.values = grow(this.values, this.count + vs.length);
    this.values.set(vs, this.count);
    this.count += vs.length;
  }
  truncate(n: number): void {
    this.count = Math.min(this.count, n);
  }
  column(): U8Column {
    return { type: "u8", values: this.values.subarray(0, this.count), valid: null };
  }
  reset(): void {
    this.count = 0;
  }
}

export class StringBuilder {
  values: string[] = [];
  private presence = new Presence();
  /** Approximate bytes buffered (UTF-16 length), for the block byte limit. */
  bytes = 0;
  add(v: string | undefined): void {
    this.presence.mark(this.values.length, v !== undefined);
    this.values.push(v ?? "");
    this.bytes += (v?.length ?? 0) + 1;
  }
  truncate(n: number): void {
    if (n === 0) this.reset();
    else while (this.values.length > n) this.bytes -= this.values.pop()!.length + 1;
  }
  column(): StringColumn {
    const valid = this.presence.valid;
    return {
      type: "string",
      values: this.values,
      valid: valid === null ? null : valid.subarray(0, this.values.length),
    };
  }
  reset(): void {
    this.values = [];
    this.presence.reset();
    this.bytes = 0;
  }
}

const BYTES_START = 64 * 1024;
const BYTES_KEPT = 2 * 1024 * 1024;
/** Values a block keeps room for between blocks (the default policy's rows a block); more was one very large block. */
const ENDS_KEPT = 32_768;

/**
 * Byte values copied into one growing buffer: the caller's buffers are not held until the block is written (a
 * recorder's raw frames would otherwise live through garbage collections by the thousand, and make each slower).
 */
export class BytesBuilder {
  private data = new Uint8Array(BYTES_START);
  /**
   * End offset of each value in `data`, `count` of them. Kept from block to block, as `data` is: an array grown
   * again for each block lived through young collections and was copied by them.
   */
  private ends = new Float64Array(1024);
  private count = 0;
  /** Bytes buffered plus one per value, for the block byte limit. */
  bytes = 0;
  add(v: Uint8Array): void {
    const used = this.count === 0 ? 0 : this.ends[this.count - 1]!;
    if (used + v.length > this.data.length) {
      const grown = new Uint8Array(Math.max(2 * this.data.length, used + v.length));
      grown.set(this.data.subarray(0, used));
      this.data = grown;
    }
    this.data.set(v, used);
    this.ends = grow(this.ends, this.count + 1);
    this.ends[this.count++] = used + v.length;
    this.bytes += v.length + 1;
  }
  truncate(n: number): void {
    // The byte count goes down with the values: it decides when a block is full.
    if (n === 0) this.reset();
    else if (n < this.count) {
      this.count = n;
      this.bytes = this.ends[n - 1]! + n;
    }
  }
  /** Views into the buffer: valid until the next `add`, `truncate` or `reset`. */
  column(): BytesColumn {
    const values: Uint8Array[] = new Array(this.count);
    let start = 0;
    for (let i = 0; i < values.length; i++) {
      const end = this.ends[i]!;
      values[i] = this.data.subarray(start, end);
      start = end;
    }
    return { type: "bytes", values, valid: null };
  }
  reset(): void {
    this.count = 0;
    this.bytes = 0;
    // Buffers grown for one very large block are not kept for the next.
    if (this.data.length > BYTES_KEPT) this.data = new Uint8Array(BYTES_START);
    if (this.ends.length > ENDS_KEPT) this.ends = new Float64Array(1024);
  }
}
