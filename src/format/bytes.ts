/**
 * Little-endian byte writing and bounds-checked reading, with LEB128 varints and zigzag. Varints of JS numbers
 * are exact up to 2^53; 64-bit values go through the bigint variants.
 */
import { TapeError } from "./errors.js";

const TEXT_ENCODER = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text, not a marker to drop.
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TWO_POW_32 = 4294967296;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the string cannot be encoded as UTF-8 without replacing characters. */
export function hasLoneSurrogate(v: string): boolean {
  return LONE_SURROGATE.test(v);
}

export function utf8(text: string): Uint8Array {
  return TEXT_ENCODER.encode(text);
}

/** Growable output buffer. */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }
  u64(v: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, v % TWO_POW_32, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / TWO_POW_32), true);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Unsigned LEB128 of a non-negative safe integer. */
  varint(v: number): void {
    this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      buf[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[p++] = v;
    this.pos = p;
  }
  /** Unsigned LEB128 of a value in [0, 2^64). */
  varintBig(v: bigint): void {
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }
  /** u16 length + UTF-8 bytes. */
  string16(text: string): void {
    const b = utf8(text);
    this.u16(b.length);
    this.bytes(b);
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

export function zigzagBig(v: bigint): bigint {
  return v >= 0n ? v << 1n : (-v << 1n) - 1n;
}
export function unzigzagBig(z: bigint): bigint {
  return z & 1n ? -((z + 1n) >> 1n) : z >> 1n;
}

/** Bounds-checked reader over a byte range; every failure is a TapeError naming the offset and field. */
export class ByteReader {
  readonly view: DataView;
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    /** Added to positions in error messages, so that they are file offsets. */
    readonly baseOffset = 0,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string, field: string, code: "E_TAPE_CORRUPT" | "E_TAPE_LIMIT" = "E_TAPE_CORRUPT"): never {
    throw new TapeError(code, message, { offset: this.baseOffset + this.pos, field });
  }

  need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.end) this.fail(`needs ${n} bytes, ${this.end - this.pos} left`, field);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** u64 that must be a safe integer (offsets, lengths). */
  u64(field: string): number {
    this.need(8, field);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    if (hi >= 0x200000) this.fail("value exceeds 2^53", field);
    this.pos += 8;
    return hi * TWO_POW_32 + lo;
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** Unsigned LEB128 that must fit in 2^53. */
  varint(field: string): number {
    const buf = this.buf;
    let p = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= this.end) this.fail("varint runs past the end", field);
      const b = buf[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) break;
        this.pos = p;
        return result;
      }
      mul *= 128;
    }
    return this.fail("varint exceeds 2^53", field);
  }
  /** Unsigned LEB128 up to 2^64 - 1. */
  varintBig(field: string): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("varint runs past the end", field);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (result >= 1n << 64n) this.fail("varint exceeds 64 bits", field);
        return result;
      }
      shift += 7n;
    }
    return this.fail("varint longer than 10 bytes", field);
  }
  /** A count or length bounded by `max` (so a corrupt value cannot cause a huge allocation). */
  bounded(field: string, max: number): number {
    const v = this.varint(field);
    if (v > max) this.fail(`${v} exceeds the limit ${max}`, field, "E_TAPE_LIMIT");
    return v;
  }
  text(n: number, field: string): string {
    const start = this.pos;
    const b = this.bytes(n, field);
    try {
      return TEXT_DECODER.decode(b);
    } catch {
      this.pos = start; // the error names where the text starts
      return this.fail("invalid UTF-8", field);
    }
  }
  string16(field: string, max: number): string {
    const n = this.u16(field);
    if (n > max) this.fail(`length ${n} exceeds the limit ${max}`, field, "E_TAPE_LIMIT");
    return this.text(n, field);
  }
}
