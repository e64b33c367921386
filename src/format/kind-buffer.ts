/** The writer's buffer for one (symbol, kind): validates and converts records into column builders. */
import type { BlockInput } from "./block.js";
import { BytesBuilder, DecimalBuilder, IntBuilder, StringBuilder, U8Builder } from "./builders.js";
import { hasLoneSurrogate } from "./bytes.js";
import type { Column } from "./columns.js";
import { type Decimal, parseDecimal } from "./decimal.js";
import { TapeValueError } from "./errors.js";
import {
  BOOK_SIDES,
  EVENT_TYPES,
  type Kind,
  type RecordInput,
  type TimestampInput,
  TRADE_SIDES,
} from "./records.js";
import { BOOK_FLAG_SNAPSHOT } from "./schema.js";

type InputOf<K extends Kind> = Extract<RecordInput, { kind: K }>;
type TradeRecordInput = InputOf<"trade">;
type BookRecordInput = InputOf<"book">;
type BboRecordInput = InputOf<"bbo">;
type EventRecordInput = InputOf<"event">;
type RawRecordInput = InputOf<"raw">;

/** The latest time a `.tape` file can hold (ns since the epoch), and the largest int64. */
export const MAX_TS = (1n << 63n) - 1n;
const INT_TEXT = /^(0|-?[1-9]\d{0,18})$/;
const MAX_ID_BYTES = 256;
const MAX_MESSAGE_BYTES = 64 * 1024;

/** A timestamp input as exact ns; numbers must be safe integers, strings integer digits. */
export function toTimestamp(v: TimestampInput | undefined, field: string): bigint {
  let t: bigint;
  if (typeof v === "bigint") t = v;
  else if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) {
      throw new TapeValueError(
        `${v} is not an exact integer (pass ns timestamps as bigint or string)`,
        field,
      );
    }
    t = BigInt(v);
  } else if (typeof v === "string" && /^\d{1,19}$/.test(v)) t = BigInt(v);
  else
    throw new TapeValueError(
      `expected ns since the epoch, got ${JSON.stringify(String(v)).slice(0, 40)}`,
      field,
    );
  if (t < 0n || t > MAX_TS) throw new TapeValueError(`timestamp ${t} out of range [0, 2^63)`, field);
  return t;
}

function optionalInt(v: TimestampInput | undefined, field: string): bigint | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "bigint") {
    if (v < -MAX_TS - 1n || v > MAX_TS) throw new TapeValueError(`${v} does not fit in 64 bits`, field);
    return v;
  }
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === "string" && INT_TEXT.test(v)) return optionalInt(BigInt(v), field);
  throw new TapeValueError(`expected an integer, got ${JSON.stringify(String(v)).slice(0, 40)}`, field);
}

function decimal(v: string | number | undefined, field: string): Decimal {
  if (v === undefined) throw new TapeValueError("missing", field);
  return parseDecimal(v, field);
}
function optionalDecimal(v: string | number | undefined, field: string): Decimal | undefined {
  return v === undefined ? undefined : parseDecimal(v, field);
}

function enumIndex(names: readonly string[], v: unknown, field: string): number {
  const i = names.indexOf(v as string);
  if (i < 0) throw new TapeValueError(`expected one of ${names.join(", ")}, got ${JSON.stringify(v)}`, field);
  return i;
}

function checkText(v: unknown, field: string, max: number): string {
  if (typeof v !== "string") throw new TapeValueError(`expected a string, got ${typeof v}`, field);
  if (v.length > max) throw new TapeValueError(`longer than ${max} characters`, field);
  if (hasLoneSurrogate(v)) throw new TapeValueError("not well-formed Unicode (lone surrogate)", field);
  return v;
}

/** Trade ids: integers while every id of the block is a canonical integer, else strings. */
class TradeIdBuilder {
  /** Kept between blocks, so that its arrays keep their grown size. */
  private readonly intBuilder = new IntBuilder();
  ints: IntBuilder | null = this.intBuilder;
  strings = new StringBuilder();

  add(id: string | undefined): void {
    if (this.ints !== null) {
      if (id === undefined) {
        this.ints.add(undefined);
        return;
      }
      if (INT_TEXT.test(id)) {
        const v = BigInt(id);
        if (v >= -MAX_TS - 1n && v <= MAX_TS && this.ints.add(v)) return;
      }
      this.toStrings();
    }
    this.strings.add(id);
  }
  addInts(base: bigint, offsets: Float64Array): boolean {
    return this.ints?.addOffsets(base, offsets) === true;
  }
  private toStrings(): void {
    const col = this.ints!.column();
    for (let i = 0; i < col.offsets.length; i++) {
      this.strings.add(
        col.valid === null || col.valid[i] ? (col.base + BigInt(col.offsets[i]!)).toString() : undefined,
      );
    }
    this.ints = null;
  }
  truncate(n: number): void {
    if (n === 0) this.reset();
    else if (this.ints !== null) this.ints.truncate(n);
    else this.strings.truncate(n);
  }
  column(): Column {
    return this.ints !== null ? this.ints.column() : this.strings.column();
  }
  reset(): void {
    this.intBuilder.reset();
    this.ints = this.intBuilder;
    this.strings.reset();
  }
}

/** Columns of a batch of trades or book rows, in the block's own layout (the fast path). */
export interface OffsetsInput {
  base: bigint;
  offsets: Float64Array;
}
export interface MantissasInput {
  mantissas: Float64Array;
  scale: number;
}
export interface TradeBatch {
  ts: OffsetsInput;
  recvTs?: OffsetsInput;
  price: MantissasInput;
  size: MantissasInput;
  /** 0 unknown, 1 buy, 2 sell. */
  side: Uint8Array;
  tradeId?: OffsetsInput;
}
export interface BookBatch {
  ts: OffsetsInput;
  recvTs?: OffsetsInput;
  /** 0 bid, 1 ask. */
  side: Uint8Array;
  price: MantissasInput;
  size: MantissasInput;
  /** Bit 0: snapshot row. */
  flags: Uint8Array;
  seq?: OffsetsInput;
}

type Builder = IntBuilder | DecimalBuilder | U8Builder | StringBuilder | BytesBuilder | TradeIdBuilder;

export class KindBuffer {
  rows = 0;
  minTs = 0n;
  maxTs = 0n;
  /** Exchange timestamp of the record `add` accepted last. */
  lastTs = 0n;
  /** End of the writer's flush interval that the buffered rows belong to (kept across blocks; null: none yet). */
  intervalEnd: bigint | null = null;
  /** Blocks the writer made of this buffer (a flush tells by it whether a buffer it listed was written meanwhile). */
  blocks = 0;
  /** Price and size of the book row `add` accepted last, parsed (the writer's checkpoints reuse them). */
  lastPrice: Decimal | null = null;
  lastSize: Decimal | null = null;
  private readonly ts = new IntBuilder();
  private readonly recvTs = new IntBuilder();
  private readonly cols: Record<string, Builder>;

  constructor(
    readonly kind: Kind,
    readonly symbol: string,
  ) {
    switch (kind) {
      case "trade":
        this.cols = {
          price: new DecimalBuilder(),
          size: new DecimalBuilder(),
          side: new U8Builder(),
          tradeId: new TradeIdBuilder(),
        };
        break;
      case "book":
        this.cols = {
          side: new U8Builder(),
          price: new DecimalBuilder(),
          size: new DecimalBuilder(),
          flags: new U8Builder(),
          seq: new IntBuilder(),
        };
        break;
      case "bbo":
        this.cols = {
          bidPrice: new DecimalBuilder(),
          bidSize: new DecimalBuilder(),
          askPrice: new DecimalBuilder(),
          askSize: new DecimalBuilder(),
        };
        break;
      case "event":
        this.cols = {
          type: new U8Builder(),
          seqBefore: new IntBuilder(),
          seqAfter: new IntBuilder(),
          message: new StringBuilder(),
        };
        break;
      case "raw":
        this.cols = { data: new BytesBuilder() };
        break;
    }
  }

  /** Bytes buffered in string and byte columns (other columns are bounded by the row limit). */
  get variableBytes(): number {
    const c = this.cols;
    if (this.kind === "event") return (c.message as StringBuilder).bytes;
    if (this.kind === "raw") return (c.data as BytesBuilder).bytes;
    return this.kind === "trade" ? (c.tradeId as TradeIdBuilder).strings.bytes : 0;
  }

  /**
   * Validates and converts a record (throws TapeValueError before touching the buffer), then adds it.
   * Returns false, with the buffer unchanged, when the record does not fit this block's number ranges.
   * Runs for every record the writer takes: no closure or array is made per record. `ts` is `rec.ts` when the
   * caller parsed it already.
   */
  add(rec: RecordInput, ts: bigint = toTimestamp(rec.ts, "ts")): boolean {
    const recvTs = rec.recvTs === undefined ? undefined : toTimestamp(rec.recvTs, "recvTs");
    const n = this.rows;
    let ok = false;
    try {
      switch (rec.kind) {
        case "trade":
          ok = this.addTrade(rec, ts, recvTs);
          break;
        case "book":
          ok = this.addBook(rec, ts, recvTs);
          break;
        case "bbo":
          ok = this.addBbo(rec, ts, recvTs);
          break;
        case "event":
          ok = this.addEvent(rec, ts, recvTs);
          break;
        case "raw":
          ok = this.addRaw(rec, ts, recvTs);
          break;
        default:
          throw new TapeValueError(`unknown kind ${JSON.stringify((rec as { kind: unknown }).kind)}`, "kind");
      }
    } finally {
      // A refusal (or a throw) after some builders took the row puts every builder back as it was.
      if (!ok) this.truncate(n);
    }
    if (!ok) return false;
    // The time range grows only with records that were added.
    this.lastTs = ts;
    if (n === 0 || ts < this.minTs) this.minTs = ts;
    if (n === 0 || ts > this.maxTs) this.maxTs = ts;
    this.rows++;
    return true;
  }

  private addTimes(ts: bigint, recvTs: bigint | undefined): boolean {
    return this.ts.add(ts) && this.recvTs.add(recvTs);
  }

  // Each `add<Kind>` validates every value first (a throw leaves the builders untouched), then adds.

  private addTrade(rec: TradeRecordInput, ts: bigint, recvTs: bigint | undefined): boolean {
    const c = this.cols;
    const price = decimal(rec.price, "price");
    const size = decimal(rec.size, "size");
    const side = enumIndex(TRADE_SIDES, rec.side, "side");
    const id = rec.tradeId === undefined ? undefined : checkText(rec.tradeId, "tradeId", MAX_ID_BYTES);
    if (
      !this.addTimes(ts, recvTs) ||
      !(c.price as DecimalBuilder).add(price) ||
      !(c.size as DecimalBuilder).add(size)
    )
      return false;
    (c.side as U8Builder).add(side);
    (c.tradeId as TradeIdBuilder).add(id);
    return true;
  }

  private addBook(rec: BookRecordInput, ts: bigint, recvTs: bigint | undefined): boolean {
    const c = this.cols;
    const side = enumIndex(BOOK_SIDES, rec.side, "side");
    const price = decimal(rec.price, "price");
    const size = decimal(rec.size, "size");
    if (typeof rec.snapshot !== "boolean") throw new TapeValueError("expected true or false", "snapshot");
    const seq = optionalInt(rec.seq, "seq");
    if (
      !this.addTimes(ts, recvTs) ||
      !(c.price as DecimalBuilder).add(price) ||
      !(c.size as DecimalBuilder).add(size)
    )
      return false;
    (c.side as U8Builder).add(side);
    (c.flags as U8Builder).add(rec.snapshot ? BOOK_FLAG_SNAPSHOT : 0);
    this.lastPrice = price;
    this.lastSize = size;
    return (c.seq as IntBuilder).add(seq);
  }

  private addBbo(rec: BboRecordInput, ts: bigint, recvTs: bigint | undefined): boolean {
    const c = this.cols;
    const bidPrice = optionalDecimal(rec.bidPrice, "bidPrice");
    const bidSize = optionalDecimal(rec.bidSize, "bidSize");
    const askPrice = optionalDecimal(rec.askPrice, "askPrice");
    const askSize = optionalDecimal(rec.askSize, "askSize");
    return (
      this.addTimes(ts, recvTs) &&
      (c.bidPrice as DecimalBuilder).add(bidPrice) &&
      (c.bidSize as DecimalBuilder).add(bidSize) &&
      (c.askPrice as DecimalBuilder).add(askPrice) &&
      (c.askSize as DecimalBuilder).add(askSize)
    );
  }

  private addEvent(rec: EventRecordInput, ts: bigint, recvTs: bigint | undefined): boolean {
    const c = this.cols;
    const type = enumIndex(EVENT_TYPES, rec.type, "type");
    const before = optionalInt(rec.seqBefore, "seqBefore");
    const after = optionalInt(rec.seqAfter, "seqAfter");
    const message = checkText(rec.message, "message", MAX_MESSAGE_BYTES);
    if (
      !this.addTimes(ts, recvTs) ||
      !(c.seqBefore as IntBuilder).add(before) ||
      !(c.seqAfter as IntBuilder).add(after)
    )
      return false;
    (c.type as U8Builder).add(type);
    (c.message as StringBuilder).add(message);
    return true;
  }

  private addRaw(rec: RawRecordInput, ts: bigint, recvTs: bigint | undefined): boolean {
    const data = rec.data;
    if (!(data instanceof Uint8Array)) throw new TapeValueError("expected a Uint8Array", "data");
    if (data.length > 16 * 1024 * 1024) throw new TapeValueError("larger than 16 MiB", "data");
    if (!this.addTimes(ts, recvTs)) return false;
    (this.cols.data as BytesBuilder).add(data);
    return true;
  }

  /** Adds `count` rows of a trade or book batch from row `from`; false (buffer unchanged) when they do not fit. */
  addBatch(batch: TradeBatch | BookBatch, from: number, count: number): boolean {
    const n = this.rows;
    const slice = (o: OffsetsInput) => ({ base: o.base, offsets: o.offsets.subarray(from, from + count) });
    const ok = this.undoOnFailure((): boolean => {
      const ts = slice(batch.ts);
      if (!this.ts.addOffsets(ts.base, ts.offsets)) return false;
      if (batch.recvTs !== undefined) {
        const r = slice(batch.recvTs);
        if (!this.recvTs.addOffsets(r.base, r.offsets)) return false;
      } else for (let i = 0; i < count; i++) this.recvTs.add(undefined);
      const c = this.cols;
      const price = c.price as DecimalBuilder;
      const size = c.size as DecimalBuilder;
      if (!price.addMantissas(batch.price.mantissas.subarray(from, from + count), batch.price.scale))
        return false;
      if (!size.addMantissas(batch.size.mantissas.subarray(from, from + count), batch.size.scale))
        return false;
      (c.side as U8Builder).addAll(batch.side.subarray(from, from + count));
      if (this.kind === "trade") {
        const t = batch as TradeBatch;
        const ids = c.tradeId as TradeIdBuilder;
        if (t.tradeId !== undefined) {
          const s = slice(t.tradeId);
          if (!ids.addInts(s.base, s.offsets)) return false;
        } else for (let i = 0; i < count; i++) ids.add(undefined);
      } else {
        const b = batch as BookBatch;
        (c.flags as U8Builder).addAll(b.flags.subarray(from, from + count));
        const seq = c.seq as IntBuilder;
        if (b.seq !== undefined) {
          const s = slice(b.seq);
          if (!seq.addOffsets(s.base, s.offsets)) return false;
        } else for (let i = 0; i < count; i++) seq.add(undefined);
      }
      return true;
    });
    if (!ok) return false;
    const ts = batch.ts;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = from; i < from + count; i++) {
      const v = ts.offsets[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const min = ts.base + BigInt(lo);
    const max = ts.base + BigInt(hi);
    if (n === 0 || min < this.minTs) this.minTs = min;
    if (n === 0 || max > this.maxTs) this.maxTs = max;
    this.rows += count;
    return true;
  }

  /** Runs a change to the builders; if it refuses or throws, every builder is put back as it was. */
  private undoOnFailure(change: () => boolean): boolean {
    const n = this.rows;
    let ok = false;
    try {
      ok = change();
    } finally {
      if (!ok) this.truncate(n);
    }
    return ok;
  }

  private truncate(n: number): void {
    this.ts.truncate(n);
    this.recvTs.truncate(n);
    for (const b of Object.values(this.cols)) b.truncate(n);
  }

  blockInput(symbolId: number): BlockInput {
    const columns: Record<string, Column> = { ts: this.ts.column(), recvTs: this.recvTs.column() };
    for (const [name, b] of Object.entries(this.cols)) columns[name] = b.column();
    return {
      kind: this.kind,
      symbolId,
      symbol: this.symbol,
      rowCount: this.rows,
      minTs: this.minTs,
      maxTs: this.maxTs,
      columns,
    };
  }

  reset(): void {
    this.rows = 0;
    this.truncate(0);
  }
}
