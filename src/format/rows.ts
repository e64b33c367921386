/** Turning decoded blocks into row objects (fast, numbers) or exact records (bigint, decimal strings). */
import type { BlockHeader, DecodedBlock } from "./block.js";
import type { BytesColumn, Column, IntColumn, StringColumn, U8Column } from "./columns.js";
import { formatDecimal, pow10, toMantissa } from "./decimal.js";
import { TapeError } from "./errors.js";
import {
  BOOK_SIDES,
  type BookSide,
  EVENT_TYPES,
  type EventType,
  KIND_BY_ID,
  type Row,
  type TapeRecord,
  TRADE_SIDES,
  type TradeSide,
} from "./records.js";
import { BOOK_FLAG_SNAPSHOT, CHECKPOINT_KIND_ID } from "./schema.js";

function int(block: DecodedBlock, name: string): IntColumn {
  return block.columns[name] as IntColumn;
}
function u8(block: DecodedBlock, name: string): Uint8Array {
  return (block.columns[name] as U8Column).values;
}

/** Reads an enumerated u8 column, rejecting values outside the enumeration. */
function enumValues<T extends string>(block: DecodedBlock, name: string, names: readonly T[]): T[] {
  const raw = u8(block, name);
  const out = new Array<T>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = names[raw[i]!];
    if (v === undefined) {
      throw new TapeError("E_TAPE_CORRUPT", `value ${raw[i]} out of range in row ${i}`, {
        offset: block.header.offset,
        field: `${block.header.kind}.${name}`,
      });
    }
    out[i] = v;
  }
  return out;
}

const SAFE = 2 ** 53;

/** Whether base + offset is exact in doubles for every offset (offsets stay within +-2^51 by construction). */
function smallBase(col: IntColumn): boolean {
  return col.base >= -(2n ** 52n) && col.base <= 2n ** 52n;
}

/**
 * A large base split into a double and an exact remainder, so that `hi + (lo + offset)` rounds once, to the double
 * nearest the exact value. Null when some offset is so large (files of other writers may use up to 2^53 - 1) that
 * `lo + offset` would round first. `span`, when known, is the least and greatest value (a block header's time range
 * is its rows'): no pass over the offsets then.
 */
function splitBase(col: IntColumn, span?: { min: bigint; max: bigint }): { hi: number; lo: number } | null {
  const hi = Number(col.base);
  const lo = Number(col.base - BigInt(hi));
  if (lo === 0) return { hi, lo };
  const limit = SAFE - Math.abs(lo);
  if (span !== undefined) {
    const far = Math.max(Math.abs(Number(span.min - col.base)), Math.abs(Number(span.max - col.base)));
    return far <= limit ? { hi, lo } : null;
  }
  const offsets = col.offsets;
  for (let i = 0; i < offsets.length; i++) if (Math.abs(offsets[i]!) > limit) return null;
  return { hi, lo };
}

/** Integer value(i) of a column (absent rows read as their offset 0) as the double nearest the exact value. */
function integerReader(col: IntColumn, span?: { min: bigint; max: bigint }): (i: number) => number {
  const offsets = col.offsets;
  const split = splitBase(col, span);
  if (split === null) return (i) => Number(col.base + BigInt(offsets[i]!));
  const { hi, lo } = split;
  return (i) => hi + (lo + offsets[i]!);
}

/**
 * value(i) as the double nearest the exact value (integers as `integerReader`). Decimals beyond 2^53 go through
 * their exact text.
 */
function numberReader(col: IntColumn): (i: number) => number | null {
  const offsets = col.offsets;
  const valid = col.valid;
  let value: (i: number) => number;
  if (col.scale === 0) value = integerReader(col);
  else if (smallBase(col)) {
    const base = Number(col.base);
    const div = pow10(col.scale);
    value = (i) => {
      const m = base + offsets[i]!;
      return Math.abs(m) < SAFE ? m / div : Number(formatDecimal(col.base + BigInt(offsets[i]!), col.scale));
    };
  } else value = (i) => Number(formatDecimal(col.base + BigInt(offsets[i]!), col.scale));
  return valid === null ? value : (i) => (valid[i] ? value(i) : null);
}

/** A non-null decimal column's reader, with the common case (small mantissas) inline. */
function decimalReader(col: IntColumn): (i: number) => number {
  if (col.valid === null && smallBase(col)) {
    const base = Number(col.base);
    const offsets = col.offsets;
    const div = pow10(col.scale);
    let fits = true;
    for (let i = 0; i < offsets.length && fits; i++) fits = Math.abs(base + offsets[i]!) < SAFE;
    if (fits) return (i) => (base + offsets[i]!) / div;
  }
  const read = numberReader(col);
  return (i) => read(i) ?? 0;
}

/** Only blocks of a record kind hold rows: a book checkpoint (§6.5) or a kind of a later version is refused. */
function checkRowKind(h: BlockHeader): void {
  if (h.kind !== null && KIND_BY_ID.get(h.kindId) === h.kind) return;
  const what =
    h.kindId === CHECKPOINT_KIND_ID
      ? "is a book checkpoint, which holds no rows (read it with readCheckpoint)"
      : `is of unknown kind ${h.kindId}`;
  throw new TapeError("E_TAPE_VERSION", `block ${what}`, { offset: h.offset, field: "block.kind" });
}

/** Row objects with number fields; `exchange` is the file header's (blocks do not know it). */
export function blockRows(block: DecodedBlock, exchange = ""): Row[] {
  const read = rowReader(block, exchange);
  const n = block.header.rowCount;
  const rows = new Array<Row>(n);
  for (let i = 0; i < n; i++) rows[i] = read(i);
  return rows;
}

/**
 * A function that makes the row object of row i of a block: what a merge uses to materialise only the rows
 * it emits. Enumerations are checked here, once per block.
 */
export function rowReader(block: DecodedBlock, exchange = ""): (i: number) => Row {
  checkRowKind(block.header);
  const fast = fastRowReader(block, exchange);
  if (fast !== null) return fast;
  const h = block.header;
  const symbol = h.symbol;
  const ts = integerReader(int(block, "ts"), { min: h.minTs, max: h.maxTs });
  const recv = numberReader(int(block, "recvTs"));
  switch (h.kind) {
    case "trade": {
      const price = decimalReader(int(block, "price"));
      const size = decimalReader(int(block, "size"));
      const sides = enumValues<TradeSide>(block, "side", TRADE_SIDES);
      const idCol = block.columns["tradeId"]!;
      const id: (i: number) => number | string | null =
        idCol.type === "int" ? numberReader(idCol) : stringReader(idCol as StringColumn);
      return (i) => ({
        exchange,
        kind: "trade",
        symbol,
        ts: ts(i),
        recvTs: recv(i),
        price: price(i),
        size: size(i),
        side: sides[i]!,
        tradeId: id(i),
      });
    }
    case "book": {
      const price = decimalReader(int(block, "price"));
      const size = decimalReader(int(block, "size"));
      const sides = enumValues<BookSide>(block, "side", BOOK_SIDES);
      const flags = u8(block, "flags");
      const seq = numberReader(int(block, "seq"));
      return (i) => ({
        exchange,
        kind: "book",
        symbol,
        ts: ts(i),
        recvTs: recv(i),
        side: sides[i]!,
        price: price(i),
        size: size(i),
        snapshot: (flags[i]! & BOOK_FLAG_SNAPSHOT) !== 0,
        seq: seq(i),
      });
    }
    case "bbo": {
      const bp = numberReader(int(block, "bidPrice"));
      const bs = numberReader(int(block, "bidSize"));
      const ap = numberReader(int(block, "askPrice"));
      const as = numberReader(int(block, "askSize"));
      return (i) => ({
        exchange,
        kind: "bbo",
        symbol,
        ts: ts(i),
        recvTs: recv(i),
        bidPrice: bp(i),
        bidSize: bs(i),
        askPrice: ap(i),
        askSize: as(i),
      });
    }
    case "event": {
      const types = enumValues<EventType>(block, "type", EVENT_TYPES);
      const before = numberReader(int(block, "seqBefore"));
      const after = numberReader(int(block, "seqAfter"));
      const message = (block.columns["message"] as StringColumn).values;
      return (i) => ({
        exchange,
        kind: "event",
        symbol,
        ts: ts(i),
        recvTs: recv(i),
        type: types[i]!,
        seqBefore: before(i),
        seqAfter: after(i),
        message: message[i]!,
      });
    }
    case "raw": {
      const data = (block.columns["data"] as BytesColumn).values;
      return (i) => ({
        exchange,
        kind: "raw",
        symbol,
        ts: ts(i),
        recvTs: recv(i),
        data: data[i]!,
      });
    }
    default:
      throw new TapeError("E_TAPE_VERSION", `unknown block kind ${h.kindId}`, { offset: h.offset });
  }
}

/** Integers with every value present, as `hi + (lo + offset)` (see `splitBase`): one rounding to the nearest double. */
function plainInt(
  col: Column | undefined,
  span?: { min: bigint; max: bigint },
): { hi: number; lo: number; off: Float64Array } | null {
  if (col === undefined || col.type !== "int" || col.valid !== null || col.scale !== 0) return null;
  const split = splitBase(col, span);
  return split === null ? null : { hi: split.hi, lo: split.lo, off: col.offsets };
}

/** Decimals with every value present and every mantissa below 2^53: `(base + offset) / 10^scale`. */
function plainDecimal(col: Column | undefined): { base: number; div: number; off: Float64Array } | null {
  if (col === undefined || col.type !== "int" || col.valid !== null || !smallBase(col)) return null;
  const base = Number(col.base);
  const off = col.offsets;
  for (let i = 0; i < off.length; i++) if (Math.abs(base + off[i]!) >= SAFE) return null;
  return { base, div: pow10(col.scale), off };
}

/**
 * The row reader of the common trade and book blocks (every value present, small numbers), with every field
 * read inline: no call per field. Null when a block needs the general reader. Same values as the general one.
 */
function fastRowReader(block: DecodedBlock, exchange: string): ((i: number) => Row) | null {
  const h = block.header;
  const c = block.columns;
  const symbol = h.symbol;
  const ts = plainInt(c["ts"], { min: h.minTs, max: h.maxTs });
  const recv = plainInt(c["recvTs"]);
  const price = plainDecimal(c["price"]);
  const size = plainDecimal(c["size"]);
  if (ts === null || recv === null || price === null || size === null) return null;
  const { hi: tHi, lo: tLo, off: tOff } = ts;
  const { hi: rHi, lo: rLo, off: rOff } = recv;
  const { base: pBase, div: pDiv, off: pOff } = price;
  const { base: sBase, div: sDiv, off: sOff } = size;
  if (h.kind === "trade") {
    const id = plainInt(c["tradeId"]);
    if (id === null) return null;
    const { hi: iHi, lo: iLo, off: iOff } = id;
    const sides = enumValues<TradeSide>(block, "side", TRADE_SIDES);
    return (i) => ({
      exchange,
      kind: "trade",
      symbol,
      ts: tHi + (tLo + tOff[i]!),
      recvTs: rHi + (rLo + rOff[i]!),
      price: (pBase + pOff[i]!) / pDiv,
      size: (sBase + sOff[i]!) / sDiv,
      side: sides[i]!,
      tradeId: iHi + (iLo + iOff[i]!),
    });
  }
  if (h.kind === "book") {
    const seq = plainInt(c["seq"]);
    if (seq === null) return null;
    const { hi: qHi, lo: qLo, off: qOff } = seq;
    const sides = enumValues<BookSide>(block, "side", BOOK_SIDES);
    const flags = u8(block, "flags");
    return (i) => ({
      exchange,
      kind: "book",
      symbol,
      ts: tHi + (tLo + tOff[i]!),
      recvTs: rHi + (rLo + rOff[i]!),
      side: sides[i]!,
      price: (pBase + pOff[i]!) / pDiv,
      size: (sBase + sOff[i]!) / sDiv,
      snapshot: (flags[i]! & BOOK_FLAG_SNAPSHOT) !== 0,
      seq: qHi + (qLo + qOff[i]!),
    });
  }
  return null;
}

function stringReader(col: StringColumn): (i: number) => string | null {
  const valid = col.valid;
  return valid === null ? (i) => col.values[i]! : (i) => (valid[i] ? col.values[i]! : null);
}

/** Exact value of row i: bigint, or undefined when absent. */
function bigAt(col: IntColumn, i: number): bigint | undefined {
  if (col.valid !== null && !col.valid[i]) return undefined;
  return col.base + BigInt(col.offsets[i]!);
}
function decimalAt(col: Column | undefined, i: number): string | undefined {
  const c = col as IntColumn;
  const v = bigAt(c, i);
  return v === undefined ? undefined : formatDecimal(toMantissa(v), c.scale);
}

/** Exact records: bigint ns timestamps and canonical decimal strings; absent fields are omitted. */
export function blockRecords(block: DecodedBlock): TapeRecord[] {
  const read = recordReader(block);
  const out = new Array<TapeRecord>(block.header.rowCount);
  for (let i = 0; i < out.length; i++) out[i] = read(i);
  return out;
}

/** A function that makes the exact record of row i of a block (see `rowReader`). */
export function recordReader(block: DecodedBlock): (i: number) => TapeRecord {
  const h = block.header;
  checkRowKind(h);
  const ts = int(block, "ts");
  const recv = int(block, "recvTs");
  const c = block.columns;
  const sides = h.kind === "trade" ? enumValues(block, "side", TRADE_SIDES) : null;
  const bookSides = h.kind === "book" ? enumValues(block, "side", BOOK_SIDES) : null;
  const types = h.kind === "event" ? enumValues(block, "type", EVENT_TYPES) : null;
  return (i) => {
    const base = { symbol: h.symbol, ts: bigAt(ts, i)! };
    const recvTs = bigAt(recv, i);
    if (recvTs !== undefined) Object.assign(base, { recvTs });
    let r: TapeRecord;
    switch (h.kind) {
      case "trade": {
        r = {
          kind: "trade",
          ...base,
          price: decimalAt(c["price"], i)!,
          size: decimalAt(c["size"], i)!,
          side: sides![i]!,
        };
        const idCol = c["tradeId"]!;
        const id =
          idCol.type === "int"
            ? bigAt(idCol, i)?.toString()
            : idCol.type === "string" && (idCol.valid === null || idCol.valid[i])
              ? idCol.values[i]
              : undefined;
        if (id !== undefined) r.tradeId = id;
        break;
      }
      case "book": {
        const flags = u8(block, "flags")[i]!;
        r = {
          kind: "book",
          ...base,
          side: bookSides![i]!,
          price: decimalAt(c["price"], i)!,
          size: decimalAt(c["size"], i)!,
          snapshot: (flags & BOOK_FLAG_SNAPSHOT) !== 0,
        };
        const seq = bigAt(int(block, "seq"), i);
        if (seq !== undefined) r.seq = seq;
        break;
      }
      case "bbo": {
        r = { kind: "bbo", ...base };
        for (const name of ["bidPrice", "bidSize", "askPrice", "askSize"] as const) {
          const v = decimalAt(c[name], i);
          if (v !== undefined) r[name] = v;
        }
        break;
      }
      case "event": {
        r = { kind: "event", ...base, type: types![i]!, message: (c["message"] as StringColumn).values[i]! };
        const before = bigAt(int(block, "seqBefore"), i);
        const after = bigAt(int(block, "seqAfter"), i);
        if (before !== undefined) r.seqBefore = before;
        if (after !== undefined) r.seqAfter = after;
        break;
      }
      case "raw":
        r = { kind: "raw", ...base, data: (c["data"] as BytesColumn).values[i]! };
        break;
      default:
        throw new TapeError("E_TAPE_VERSION", `unknown block kind ${h.kindId}`, { offset: h.offset });
    }
    return r;
  };
}
