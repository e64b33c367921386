/**
 * Column builders: the writer's per-(symbol, kind) buffers. Each `add` returns false when the value cannot
 * join the values already buffered without breaking the block's number ranges (offsets must stay safe
 * integers, decimals must stay below 10^18 at the block's scale); the writer then closes the block and
 * starts a new one, so that no value is ever rejected for the company it keeps.
 */
import type { BytesColumn, IntColumn, StringColumn, U8Column } from "./columns.js";
import { type Mantissa, pow10, pow10Big } from "./decimal.js";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Decimal values (at the block's scale) stay below this, far inside int64. */
const DECIMAL_LIMIT = 1e18;

function grow<T extends Float64Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const next = new (a.constructor as new (n: number) => T)(cap);
  next.set(a);
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

  /** Adds a value (undefined = absent). */
  add(v: bigint | undefined): boolean {
    if (v === undefined) {
      this.presence.mark(this.count, false);
      this.offsets = grow(this.offsets, this.count + 1);
      this.offsets[this.count++] = 0;
      return true;
    }
    if (this.base === null) this.base = v;
    const d = v - this.base;
    if (d > 9007199254740991n || d < -9007199254740991n) return false;
    this.presence.mark(this.count, true);
    this.offsets = grow(this.offsets, this.count + 1);
    this.offsets[this.count++] = Number(d);
    return true;
  }

  /** Adds a present value at base 0 (the caller checked that it is a safe integer). */
  addSafe(v: number): void {
    if (this.base === null) this.base = 0n;
    this.presence.mark(this.count, true);
    this.offsets = grow(this.offsets, this.count + 1);
    this.offsets[this.count++] = v;
  }

  /** Adds offsets relative to `base` in bulk (the columnar path). */
  addOffsets(base: bigint, offsets: Float64Array): boolean {
    if (this.base === null) this.base = base;
    const shift = base - this.base;
    if (shift > 9007199254740991n || shift < -9007199254740991n) return false;
    const s = Number(shift);
    for (let i = 0; i < offsets.length; i++) if (Math.abs(offsets[i]! + s) > MAX_SAFE) return false;
    this.offsets = grow(this.offsets, this.count + offsets.length);
    if (s === 0) this.offsets.set(offsets, this.count);
    else for (let i = 0; i < offsets.length; i++) this.offsets[this.count + i] = offsets[i]! + s;
    if (this.presence.valid !== null) for (let i = 0; i < offsets.length; i++) this.presence.mark(this.count + i, true);
    this.count += offsets.length;
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

  reset(): void {
    this.base = null;
    this.count = 0;
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
    const abs = Math.abs(Number(d.mantissa)) * pow10(up);
    if (abs >= DECIMAL_LIMIT) return false;
    if (typeof d.mantissa === "number" && abs <= MAX_SAFE && (this.ints.base ?? 0n) === 0n) {
      // Fast path: a safe integer at base 0 (the product is exact because it is a safe integer).
      this.ints.addSafe(d.mantissa * pow10(up));
    } else if (!this.ints.add(BigInt(d.mantissa) * pow10Big(up))) return false;
    if (abs > this.maxAbs) this.maxAbs = abs;
    this.present++;
    return true;
  }

  /** Multiplies every buffered value by 10^(scale - this.scale), if they stay in range. */
  private rescale(scale: number): boolean {
    const factor = pow10(scale - this.scale);
    if (this.maxAbs * factor >= DECIMAL_LIMIT) return false;
    const ints = this.ints;
    const base = ints.base ?? 0n;
    const offs = ints.offsets;
    for (let i = 0; i < ints.count; i++) if (Math.abs(offs[i]! * factor) > MAX_SAFE) return false;
    for (let i = 0; i < ints.count; i++) offs[i] = offs[i]! * factor;
    ints.base = base * pow10Big(scale - this.scale);
    this.maxAbs *= factor;
    this.scale = scale;
    return true;
  }

  /** Bulk add of mantissas (safe integers) at one scale. */
  addMantissas(mantissas: Float64Array, scale: number): boolean {
    if (this.present === 0) this.scale = scale;
    if (scale > this.scale && !this.rescale(scale)) return false;
    const factor = pow10(this.scale - scale);
    let maxAbs = this.maxAbs;
    for (let i = 0; i < mantissas.length; i++) {
      const a = Math.abs(mantissas[i]!) * factor;
      if (a > maxAbs) maxAbs = a;
    }
    if (maxAbs > MAX_SAFE) return false;
    const scaled = factor === 1 ? mantissas : mantissas.map((m) => m * factor);
    if (!this.ints.addOffsets(0n, scaled)) return false;
    this.maxAbs = maxAbs;
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
    else this.values.length = Math.min(this.values.length, n);
  }
  column(): StringColumn {
    const valid = this.presence.valid;
    return { type: "string", values: this.values, valid: valid === null ? null : valid.subarray(0, this.values.length) };
  }
  reset(): void {
    this.values = [];
    this.presence.reset();
    this.bytes = 0;
  }
}

export class BytesBuilder {
  values: Uint8Array[] = [];
  bytes = 0;
  add(v: Uint8Array): void {
    this.values.push(v);
    this.bytes += v.length + 1;
  }
  truncate(n: number): void {
    this.values.length = Math.min(this.values.length, n);
  }
  column(): BytesColumn {
    return { type: "bytes", values: this.values, valid: null };
  }
  reset(): void {
    this.values = [];
    this.bytes = 0;
  }
}
