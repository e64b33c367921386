/**
 * Column values in memory and their encodings on disk.
 *
 * Integers (timestamps, ids, sequence numbers, decimal mantissas) live as a bigint `base` plus exact
 * `offsets` in a Float64Array (`value = base + offsets[i]`, every offset a safe integer), so that hot loops
 * run on doubles and never allocate a BigInt per value. The writer keeps every block within that range.
 */
import { type ByteReader, type ByteWriter, unzigzagBig, utf8, zigzagBig } from "./bytes.js";
import { TapeError } from "./errors.js";

export interface IntColumn {
  type: "int";
  base: bigint;
  offsets: Float64Array;
  /** Decimal scale (`value / 10^scale`); 0 for plain integers. */
  scale: number;
  /** 1 where a value is present; null when every row has one. Absent rows have offset 0. */
  valid: Uint8Array | null;
}
export interface U8Column {
  type: "u8";
  values: Uint8Array;
  valid: null;
}
export interface StringColumn {
  type: "string";
  /** "" where absent. */
  values: string[];
  valid: Uint8Array | null;
}
export interface BytesColumn {
  type: "bytes";
  values: Uint8Array[];
  valid: null;
}
export type Column = IntColumn | U8Column | StringColumn | BytesColumn;

/** Column encoding ids as stored in the column directory. */
export const ENCODING = {
  intDelta: 1,
  intFor: 2,
  u8: 3,
  string: 4,
  bytes: 5,
  intSci: 6,
  intRuns: 7,
} as const;

/** The integer encodings: their columns decode into a Float64Array of offsets. */
export function isIntEncoding(encoding: number): boolean {
  return (
    encoding === ENCODING.intDelta ||
    encoding === ENCODING.intFor ||
    encoding === ENCODING.intSci ||
    encoding === ENCODING.intRuns
  );
}

/** 10^0 … 10^15, all exact doubles. */
const POW10 = Float64Array.from({ length: 16 }, (_, e) => 10 ** e);
/** An `INT_SCI` significand stays below this, so that s·16 + e stays below 2^52. */
const MAX_SIGNIFICAND = 2 ** 48;
export const COLUMN_FLAG_PRESENCE = 1;

/** Longest string or byte value in a column (a raw exchange message fits easily). */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

function writePresence(out: ByteWriter, valid: Uint8Array, rows: number): void {
  const nbytes = (rows + 7) >>> 3;
  out.ensure(nbytes);
  const buf = out.buf;
  const start = out.pos;
  buf.fill(0, start, start + nbytes);
  for (let i = 0; i < rows; i++) if (valid[i]) buf[start + (i >>> 3)]! |= 1 << (i & 7);
  out.pos += nbytes;
}

/**
 * One allocation for the typed arrays of a decoded block, carved into views: allocating each column's array on
 * its own cost a third as much as decoding the values. The memory is not zeroed; decoders write every element.
 */
export class ColumnArena {
  private floatPos = 0;
  private readonly floatEnd: number;
  private bytePos: number;
  /** Room for `floats` Float64 values followed by `bytes` single bytes. */
  static sized(floats: number, bytes: number): ColumnArena {
    // allocUnsafe: uninitialised and 8-byte aligned (also inside Node's pool).
    return new ColumnArena(Buffer.allocUnsafe(floats * 8 + bytes), floats);
  }
  /** `memory` (8-byte aligned) holds `floats` Float64 values, then bytes. */
  constructor(
    private readonly memory: Buffer,
    floats: number,
  ) {
    this.floatEnd = floats * 8;
    this.bytePos = this.floatEnd;
  }
  float64(n: number): Float64Array {
    if (this.floatPos + n * 8 > this.floatEnd) return new Float64Array(n);
    const a = new Float64Array(this.memory.buffer, this.memory.byteOffset + this.floatPos, n);
    this.floatPos += n * 8;
    return a;
  }
  u8(n: number): Uint8Array {
    if (this.bytePos + n > this.memory.length) return new Uint8Array(n);
    const a = new Uint8Array(this.memory.buffer, this.memory.byteOffset + this.bytePos, n);
    this.bytePos += n;
    return a;
  }
}

function readPresence(
  r: ByteReader,
  rows: number,
  field: string,
  arena: ColumnArena | null,
): { valid: Uint8Array; present: number } {
  const bits = r.bytes((rows + 7) >>> 3, field);
  const valid = arena === null ? new Uint8Array(rows) : arena.u8(rows);
  let present = 0;
  for (let i = 0; i < rows; i++) {
    const v = (bits[i >>> 3]! >>> (i & 7)) & 1;
    valid[i] = v;
    present += v;
  }
  return { valid, present };
}

/** Writes the unsigned varint `z` (a safe integer ≥ 0) at `buf[p]`; returns the position after it. */
function putVarint(buf: Uint8Array, p: number, z: number): number {
  if (z < 0x80) {
    buf[p] = z;
    return p + 1;
  }
  if (z < 0x10000000) {
    // Up to 28 bits: integer shifts.
    do {
      buf[p++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    } while (z >= 0x80);
    buf[p] = z;
    return p + 1;
  }
  while (z >= 0x80) {
    buf[p++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  buf[p] = z;
  return p + 1;
}

/**
 * Writes the varint of `z` < 2^28 at `buf[p]`; returns the position after it. It writes four bytes and keeps as
 * many as `z` needs, with no branch on how many: for values whose lengths vary at random (sizes), a mispredicted
 * branch costs more than the stores. The caller leaves 3 bytes of room past the varint.
 */
function putVarint28(buf: Uint8Array, p: number, z: number): number {
  buf[p] = z | 0x80;
  buf[p + 1] = (z >>> 7) | 0x80;
  buf[p + 2] = (z >>> 14) | 0x80;
  buf[p + 3] = z >>> 21;
  // ceil(bits / 7) for 1 to 28 bits: (bits + 6) * 37 >> 8 is (bits + 6) / 7 rounded down below 35.
  const length = ((38 - Math.clz32(z | 1)) * 37) >>> 8;
  buf[p + length - 1]! &= 0x7f;
  return p + length;
}

/** Trailing decimal zeros of 1 … 99999 (0 → 5: five or more). */
const TRAILING_ZEROS = Uint8Array.from({ length: 100000 }, (_, r) => {
  let zeros = 0;
  for (let x = r; zeros < 5 && x % 10 === 0; x /= 10) zeros++;
  return zeros;
});

/**
 * Writes zigzag varints of `values[i] / unit` (every value a safe integer). Returns false, having written part of
 * them, when a value is not a multiple of `unit`: the caller rewinds and writes again with the exact unit.
 */
function writeVarints(out: ByteWriter, values: Float64Array, unit: number): boolean {
  const rows = values.length;
  out.ensure(rows * 8);
  const buf = out.buf;
  let p = out.pos;
  // Division is slow; most columns have unit 1.
  const exact = unit === 1;
  for (let i = 0; i < rows; i++) {
    let q = values[i]!;
    if (!exact) {
      q /= unit;
      if (q !== Math.floor(q)) return false;
    }
    p = putVarint(buf, p, q >= 0 ? q * 2 : -q * 2 - 1);
  }
  out.pos = p;
  return true;
}

/**
 * Writes each value in scientific form, as the varint s·16 + e where value = s·10^e and e ≤ 15 is the number of
 * trailing decimal zeros (`INT_SCI`): a size of 0.5 at scale 8 (50000000) takes one byte instead of four. Returns
 * false, having written part of them, when a value is negative or its significand too large for the form.
 */
function writeScientific(out: ByteWriter, values: Float64Array): boolean {
  const rows = values.length;
  out.ensure(rows * 8);
  const buf = out.buf;
  let p = out.pos;
  for (let i = 0; i < rows; i++) {
    let s = values[i]!;
    if (!(s >= 0)) return false;
    let e = 0;
    if (s !== 0) {
      if (s <= 0x7fffffff) {
        // Small values in int32 arithmetic: far faster than double remainders. Up to 4 trailing zeros from a
        // table, with no loop whose length varies at random from value to value.
        let small = s | 0;
        e = TRAILING_ZEROS[small % 100000]!;
        small = (small / POW10[e]!) | 0;
        if (e === 5) {
          while (e < 15 && small % 10 === 0) {
            small = (small / 10) | 0;
            e++;
          }
        }
        s = small;
      } else {
        while (e < 15 && s % 10 === 0) {
          s /= 10;
          e++;
        }
        if (s >= MAX_SIGNIFICAND) return false;
      }
    }
    const z = s * 16 + e;
    if (z < 0x10000000) p = putVarint28(buf, p, z);
    else p = putVarint(buf, p, z);
  }
  out.pos = p;
  return true;
}

/** The gcd of the first `limit` non-zero values (1 when there are none). */
function gcdOf(values: Float64Array, limit: number): number {
  let unit = 0;
  let seen = 0;
  for (let i = 0; i < values.length && seen < limit && unit !== 1; i++) {
    const v = values[i]!;
    if (v === 0) continue;
    unit = unit === 0 ? Math.abs(v) : gcd(Math.abs(v), unit);
    seen++;
  }
  return unit === 0 ? 1 : unit;
}

/**
 * Writes varint unit, then the values divided by it. The unit is guessed from the first values (cheap) and
 * checked against all of them; when the guess fails, the exact gcd of every value is used.
 */
function writeWithUnit(out: ByteWriter, values: Float64Array): void {
  const start = out.pos;
  const guess = gcdOf(values, 64);
  out.varint(guess);
  if (writeVarints(out, values, guess)) return;
  // The guess divides not every value: written again with the gcd of all of them.
  out.pos = start;
  const unit = gcdOf(values, values.length);
  out.varint(unit);
  writeVarints(out, values, unit);
}

/** Gathers the present rows' offsets (a copy when there are absent rows). */
function presentOffsets(col: IntColumn, rows: number): Float64Array {
  if (col.valid === null) return col.offsets.subarray(0, rows);
  const out = new Float64Array(rows);
  let m = 0;
  for (let i = 0; i < rows; i++) if (col.valid[i]) out[m++] = col.offsets[i]!;
  return out.subarray(0, m);
}

/** Reused between calls: encoding is synchronous, so one scratch array serves every column. */
let deltaScratch = new Float64Array(1 << 15);

/**
 * Encodes an integer column; returns the encoding id. `layout` is the schema's hint (docs/FORMAT.md §6.2): the
 * encoding is chosen per block from the values.
 */
export function encodeIntColumn(
  out: ByteWriter,
  col: IntColumn,
  rows: number,
  layout: "delta" | "runs" | "for",
): number {
  if (col.valid !== null) writePresence(out, col.valid, rows);
  const values = presentOffsets(col, rows);
  const m = values.length;
  if (layout === "for") return writeFrameOfReference(out, col.base, values);
  const first = m > 0 ? values[0]! : 0;
  if (deltaScratch.length < m) deltaScratch = new Float64Array(Math.max(m, 2 * deltaScratch.length));
  if (layout === "runs") {
    // Every difference is stored and only a change moves on: rows repeat at random, and a branch on whether they
    // do would be mispredicted about as often as not.
    let changes = 0;
    for (let i = 1; i < m; i++) {
      const d = values[i]! - values[i - 1]!;
      deltaScratch[changes] = d;
      changes += Number(d !== 0);
    }
    // Runs pay one bit per row to drop the one-byte zero deltas: worth it when at least one row in eight repeats.
    if ((m - 1 - changes) * 8 >= m) {
      writeChanges(out, values);
      out.varintBig(zigzagBig(col.base + BigInt(first)));
      writeWithUnit(out, deltaScratch.subarray(0, changes));
      return ENCODING.intRuns;
    }
  }
  const deltas = deltaScratch.subarray(0, Math.max(0, m - 1));
  for (let i = 1; i < m; i++) deltas[i - 1] = values[i]! - values[i - 1]!;
  out.varintBig(zigzagBig(col.base + BigInt(first)));
  writeWithUnit(out, deltas);
  return ENCODING.intDelta;
}

/** The `INT_RUNS` bitmap: bit k set when present value k differs from the one before (bit 0 always set). */
function writeChanges(out: ByteWriter, values: Float64Array): void {
  const m = values.length;
  const nbytes = (m + 7) >>> 3;
  out.ensure(nbytes);
  const buf = out.buf;
  const start = out.pos;
  buf.fill(0, start, start + nbytes);
  if (m > 0) buf[start] = 1;
  for (let i = 1; i < m; i++) buf[start + (i >>> 3)]! |= Number(values[i] !== values[i - 1]) << (i & 7);
  out.pos += nbytes;
}

/**
 * Columns longer than `4 * FORM_SAMPLE` are judged on their first `FORM_SAMPLE` values: when one form takes less
 * than `CLEAR_WIN` of the other's bytes there, only that form is written. Otherwise, and for shorter columns, both
 * are written and the smaller kept.
 */
const FORM_SAMPLE = 256;
const CLEAR_WIN = 0.9;

/** `INT_FOR` or `INT_SCI`, whichever is smaller for these values (both start with the base). */
function writeFrameOfReference(out: ByteWriter, base: bigint, values: Float64Array): number {
  out.varintBig(zigzagBig(base));
  const start = out.pos;
  if (values.length > 4 * FORM_SAMPLE) {
    const sample = values.subarray(0, FORM_SAMPLE);
    writeWithUnit(out, sample);
    const forBytes = out.pos - start;
    out.pos = start;
    const sciBytes = writeScientific(out, sample) ? out.pos - start : Number.POSITIVE_INFINITY;
    out.pos = start;
    const sciClear = sciBytes < CLEAR_WIN * forBytes;
    if (sciClear && writeScientific(out, values)) return ENCODING.intSci;
    if (sciClear || forBytes < CLEAR_WIN * sciBytes) {
      // Frame of reference won clearly, or a later value has no scientific form.
      out.pos = start;
      writeWithUnit(out, values);
      return ENCODING.intFor;
    }
  }
  writeWithUnit(out, values);
  const forEnd = out.pos;
  // Tried after the INT_FOR bytes, and moved down over them when shorter.
  if (writeScientific(out, values) && out.pos - forEnd < forEnd - start) {
    out.buf.copyWithin(start, forEnd, out.pos);
    out.pos = start + (out.pos - forEnd);
    return ENCODING.intSci;
  }
  out.pos = forEnd;
  return ENCODING.intFor;
}

export function encodeU8Column(out: ByteWriter, col: U8Column, rows: number): number {
  out.bytes(col.values.subarray(0, rows));
  return ENCODING.u8;
}

export function encodeStringColumn(out: ByteWriter, col: StringColumn, rows: number): number {
  if (col.valid !== null) writePresence(out, col.valid, rows);
  for (let i = 0; i < rows; i++) {
    if (col.valid !== null && !col.valid[i]) continue;
    const b = utf8(col.values[i]!);
    out.varint(b.length);
    out.bytes(b);
  }
  return ENCODING.string;
}

export function encodeBytesColumn(out: ByteWriter, col: BytesColumn, rows: number): number {
  for (let i = 0; i < rows; i++) {
    const b = col.values[i]!;
    out.varint(b.length);
    out.bytes(b);
  }
  return ENCODING.bytes;
}

/** Where the varint read by `multiByteVarint` ended (a module variable: no object per call). */
let varintEnd = 0;

/**
 * The varint of two or more bytes at `buf[p]` (not unzigzagged); sets `varintEnd`. Up to 28 bits in integer
 * operations, beyond in doubles (exact below 2^53). A varint longer than 8 bytes, one of 2^53 or more, or one
 * running past the buffer, sets `varintEnd` past any column end, so that the caller's bound check fails.
 */
function multiByteRaw(buf: Uint8Array, p: number): number {
  let b = buf[p++]!;
  let z = b & 0x7f;
  b = buf[p++]!;
  z |= (b & 0x7f) << 7;
  if (b >= 0x80) {
    b = buf[p++]!;
    z |= (b & 0x7f) << 14;
    if (b >= 0x80) {
      b = buf[p++]!;
      z |= (b & 0x7f) << 21;
      if (b >= 0x80) {
        let mul = 0x10000000;
        do {
          b = buf[p++]!;
          z += (b & 0x7f) * mul;
          mul *= 0x80;
        } while (b >= 0x80 && mul < 0x100000000000000);
        // Beyond 2^53 a double rounds the value (and the zigzag sign with it): refused like an overlong varint.
        varintEnd = b >= 0x80 || b === undefined || z > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : p;
        return z;
      }
    }
  }
  varintEnd = b === undefined ? Number.MAX_SAFE_INTEGER : p;
  return z;
}

/** `multiByteRaw` unzigzagged. */
function multiByteVarint(buf: Uint8Array, p: number): number {
  const z = multiByteRaw(buf, p);
  if (z < 0x10000000) return (z >>> 1) ^ -(z & 1);
  return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
}

/*
 * The two loops every read spends most of its time in: one for running sums, one for plain values (one loop with
 * a flag runs markedly slower), with one-byte varints decoded in line. They read the present values one after the
 * other; `spreadToPresentRows` then moves them to their rows when some rows are absent.
 */

function readDenseDeltas(
  r: ByteReader,
  target: Float64Array,
  count: number,
  unit: number,
  startIndex: number,
  field: string,
): void {
  const buf = r.buf;
  let p = r.pos;
  let acc = 0;
  let lowest = 0;
  let highest = 0;
  const end = startIndex + count;
  for (let row = startIndex; row < end; row++) {
    const b = buf[p]!;
    let v: number;
    if (b < 0x80) {
      v = (b >>> 1) ^ -(b & 1);
      p++;
    } else {
      v = multiByteVarint(buf, p);
      p = varintEnd;
    }
    acc += v * unit;
    if (acc > highest) highest = acc;
    else if (acc < lowest) lowest = acc;
    target[row] = acc;
  }
  if (p > r.end) r.fail("varint runs past the column or exceeds 2^53 − 1", field);
  checkOffsetRange(r, lowest, highest, field);
  lastDeltaLow = lowest;
  lastDeltaHigh = highest;
  r.pos = p;
}

/** The least and greatest running sum of the last `readDenseDeltas` (offset 0, the first value, included). */
let lastDeltaLow = 0;
let lastDeltaHigh = 0;
/**
 * The offsets of the last `INT_DELTA` or `INT_RUNS` column decoded with a present row: its present values are the
 * running sums of its `readDenseDeltas`, so `offsetRange` knows their extremes.
 */
let lastDeltaColumn: Float64Array | null = null;

/**
 * The least and greatest offset of an integer column's present rows (null when none is present), without a pass
 * over it when it is the `INT_DELTA` or `INT_RUNS` column just decoded (its reading tracked them).
 */
export function offsetRange(col: IntColumn): { low: number; high: number } | null {
  const offsets = col.offsets;
  if (offsets === lastDeltaColumn) return { low: lastDeltaLow, high: lastDeltaHigh };
  const valid = col.valid;
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < offsets.length; i++) {
    if (valid !== null && valid[i] === 0) continue;
    const v = offsets[i]!;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return low === Number.POSITIVE_INFINITY ? null : { low, high };
}

/**
 * Every value − base must be within ±(2^53 − 1) (§5.5): beyond, a double no longer holds it exactly. Checking the
 * extremes of the running values suffices: once a sum leaves that range it is caught, even if later deltas bring
 * it back.
 */
function checkOffsetRange(r: ByteReader, lowest: number, highest: number, field: string): void {
  if (highest > Number.MAX_SAFE_INTEGER || lowest < -Number.MAX_SAFE_INTEGER)
    r.fail("value − base exceeds 2^53 − 1", field);
}

function readDenseValues(
  r: ByteReader,
  target: Float64Array,
  count: number,
  unit: number,
  field: string,
): void {
  const buf = r.buf;
  let p = r.pos;
  let lowest = 0;
  let highest = 0;
  for (let row = 0; row < count; row++) {
    const b = buf[p]!;
    let v: number;
    if (b < 0x80) {
      v = (b >>> 1) ^ -(b & 1);
      p++;
    } else {
      v = multiByteVarint(buf, p);
      p = varintEnd;
    }
    const value = v * unit;
    if (value > highest) highest = value;
    else if (value < lowest) lowest = value;
    target[row] = value;
  }
  if (p > r.end) r.fail("varint runs past the column or exceeds 2^53 − 1", field);
  checkOffsetRange(r, lowest, highest, field);
  r.pos = p;
}

/**
 * `INT_RUNS`: into `target[0..count)`, the value of the last change at or before each position. The changed values
 * are read first into the end of `target` (one tight loop), then copied forward with an index that advances on
 * each set bit: no branch on the bits, which follow the messages at random.
 */
function readRuns(
  r: ByteReader,
  target: Float64Array,
  changes: Uint8Array,
  count: number,
  unit: number,
  field: string,
): void {
  let changed = 0;
  for (let k = 0; k < count; k++) changed += (changes[k >>> 3]! >>> (k & 7)) & 1;
  // Bit 0 is set (checked by the caller), so the first value is at `count - changed`, with offset 0.
  const first = count - changed;
  target[first] = 0;
  readDenseDeltas(r, target, changed - 1, unit, first + 1, field);
  // In place: position k reads from j ≥ k, which has not been overwritten yet.
  let j = first - 1;
  for (let k = 0; k < count; k++) {
    j += (changes[k >>> 3]! >>> (k & 7)) & 1;
    target[k] = target[j]!;
  }
}

/** `INT_SCI`: `count` varints s·16 + e into `target[0..count)` as s·10^e, which must be a safe integer. */
function readScientific(r: ByteReader, target: Float64Array, count: number, field: string): void {
  const buf = r.buf;
  const end = r.end;
  let p = r.pos;
  let largest = 0;
  for (let k = 0; k < count; k++) {
    let w: number;
    const b0 = buf[p]!;
    const b1 = p + 1 < end ? buf[p + 1]! : 0;
    const more = b0 >>> 7;
    if ((more & (b1 >>> 7)) === 0) {
      // One or two bytes, decoded without a branch on which: sizes mix both at random.
      w = (b0 & 0x7f) | ((b1 & 0x7f & -more) << 7);
      p += 1 + more;
    } else {
      w = multiByteRaw(buf, p);
      p = varintEnd;
    }
    const v = w < 0x10000000 ? (w >>> 4) * POW10[w & 15]! : Math.floor(w / 16) * POW10[w % 16]!;
    if (v > largest) largest = v;
    target[k] = v;
  }
  if (p > end) r.fail("varint runs past the column or exceeds 2^53 − 1", field);
  // Beyond 2^53 the product is no longer exact.
  if (largest > Number.MAX_SAFE_INTEGER) r.fail("value in scientific form exceeds 2^53", field);
  r.pos = p;
}

/**
 * Moves the `count` values at the start of `target` to the rows where `valid` is set, in place (from the end, so
 * that nothing is overwritten before it moves), and zeroes the other rows.
 */
function spreadToPresentRows(target: Float64Array, valid: Uint8Array, count: number): void {
  let k = count;
  for (let row = target.length - 1; row >= 0; row--) target[row] = valid[row] === 1 ? target[--k]! : 0;
}

export function decodeColumn(
  r: ByteReader,
  encoding: number,
  flags: number,
  scale: number,
  rows: number,
  field: string,
  arena: ColumnArena | null = null,
): Column {
  const hasPresence = (flags & COLUMN_FLAG_PRESENCE) !== 0;
  switch (encoding) {
    case ENCODING.intDelta:
    case ENCODING.intFor:
    case ENCODING.intSci:
    case ENCODING.intRuns: {
      let valid: Uint8Array | null = null;
      let present = rows;
      if (hasPresence) ({ valid, present } = readPresence(r, rows, field, arena));
      let changes: Uint8Array | null = null;
      if (encoding === ENCODING.intRuns) {
        changes = r.bytes((present + 7) >>> 3, field);
        if (present > 0 && (changes[0]! & 1) === 0) r.fail("first value not marked as a change", field);
      }
      const base = unzigzagBig(r.varintBig(field));
      const unit = encoding === ENCODING.intSci ? 1 : r.varint(field);
      if (unit === 0) r.fail("unit 0", field);
      const offsets = arena === null ? new Float64Array(rows) : arena.float64(rows);
      // The present values are decoded into offsets[0..present), then moved to their rows, which also writes
      // the absent rows' 0 (arena memory is not zeroed).
      lastDeltaColumn = null;
      if (encoding === ENCODING.intDelta) {
        if (present > 0) {
          // The first present value is the base.
          offsets[0] = 0;
          readDenseDeltas(r, offsets, present - 1, unit, 1, field);
          lastDeltaColumn = offsets;
        }
      } else if (encoding === ENCODING.intFor) readDenseValues(r, offsets, present, unit, field);
      else if (changes !== null) {
        if (present > 0) {
          readRuns(r, offsets, changes, present, unit, field);
          lastDeltaColumn = offsets;
        }
      } else readScientific(r, offsets, present, field);
      if (valid !== null) spreadToPresentRows(offsets, valid, present);
      return { type: "int", base, offsets, scale, valid };
    }
    case ENCODING.u8: {
      const values = arena === null ? new Uint8Array(rows) : arena.u8(rows);
      values.set(r.bytes(rows, field));
      return { type: "u8", values, valid: null };
    }
    case ENCODING.string: {
      let valid: Uint8Array | null = null;
      if (hasPresence) valid = readPresence(r, rows, field, arena).valid;
      const values = new Array<string>(rows);
      for (let i = 0; i < rows; i++) {
        if (valid !== null && !valid[i]) {
          values[i] = "";
          continue;
        }
        const n = r.bounded(field, MAX_VALUE_BYTES);
        values[i] = r.text(n, field);
      }
      return { type: "string", values, valid };
    }
    case ENCODING.bytes: {
      const values = new Array<Uint8Array>(rows);
      // Copies: a value must not keep the whole decompressed block alive. Buffer.from copies a small value into
      // Node's shared 8 KiB pool, without an allocation of its own (a frame of 200 bytes: 2.5x faster).
      for (let i = 0; i < rows; i++)
        values[i] = Buffer.from(r.bytes(r.bounded(field, MAX_VALUE_BYTES), field));
      return { type: "bytes", values, valid: null };
    }
    default:
      throw new TapeError("E_TAPE_CORRUPT", `unknown column encoding ${encoding}`, {
        offset: r.baseOffset + r.pos,
        field,
      });
  }
}
