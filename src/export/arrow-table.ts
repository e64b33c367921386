/**
 * The Arrow schema of each record kind and a decoded block as an Arrow RecordBatch (docs/EXPORT.md). Every kind's
 * schema is the same for every symbol and file, so exported files can be read together.
 */
import {
  Binary,
  Bool,
  type DataType,
  Decimal,
  Dictionary,
  Field,
  Float64,
  Int8,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampNanosecond,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import {
  BOOK_SIDES,
  type Column,
  type DecodedBlock,
  EVENT_TYPES,
  type IntColumn,
  type Kind,
  TapeError,
  TRADE_SIDES,
  type U8Column,
} from "../format/index.js";
import {
  binaryValues,
  DECIMAL_PRECISION,
  DECIMAL_SCALE,
  decimal128Values,
  float64Values,
  int64Values,
  intText,
  nullCount,
  stringText,
  type VarBinary,
  validityBitmap,
} from "./arrow-columns.js";

/** How prices and sizes are exported: exact Decimal128(38, 18), float64, or both (`price` and `priceFloat`). */
export type DecimalMode = "both" | "exact" | "float";

export interface ArrowTableOptions {
  /** Default `"both"`. */
  decimals?: DecimalMode;
  /**
   * Zone of the timestamp columns: `"UTC"` (default; Arrow's `timestamp[ns, UTC]`), or null for zone-less
   * `timestamp[ns]` holding the same UTC values (for engines without a nanosecond type with a zone).
   */
  timezone?: "UTC" | null;
}

/** What a kind's column holds, and how it becomes Arrow. */
type ColumnRole =
  | { role: "timestamp"; source: string; nullable: boolean }
  | { role: "decimal"; source: string; nullable: boolean }
  | { role: "int64"; source: string }
  | { role: "enum"; source: string; names: readonly string[] }
  | { role: "snapshot" }
  | { role: "id"; source: string }
  | { role: "string"; source: string }
  | { role: "binary"; source: string };

const COMMON: ColumnRole[] = [
  { role: "timestamp", source: "ts", nullable: false },
  { role: "timestamp", source: "recvTs", nullable: true },
];

const KIND_COLUMNS: Record<Kind, ColumnRole[]> = {
  trade: [
    { role: "decimal", source: "price", nullable: false },
    { role: "decimal", source: "size", nullable: false },
    { role: "enum", source: "side", names: TRADE_SIDES },
    { role: "id", source: "tradeId" },
  ],
  book: [
    { role: "enum", source: "side", names: BOOK_SIDES },
    { role: "decimal", source: "price", nullable: false },
    { role: "decimal", source: "size", nullable: false },
    { role: "snapshot" },
    { role: "int64", source: "seq" },
  ],
  bbo: [
    { role: "decimal", source: "bidPrice", nullable: true },
    { role: "decimal", source: "bidSize", nullable: true },
    { role: "decimal", source: "askPrice", nullable: true },
    { role: "decimal", source: "askSize", nullable: true },
  ],
  event: [
    { role: "enum", source: "type", names: EVENT_TYPES },
    { role: "int64", source: "seqBefore" },
    { role: "int64", source: "seqAfter" },
    { role: "string", source: "message" },
  ],
  raw: [{ role: "binary", source: "data" }],
};

/** Builds one Arrow column of a block of a file of `exchange`. */
type Build = (block: DecodedBlock, exchange: string) => ReturnType<typeof makeData>;

/** A kind's Arrow schema and how to make its record batches from decoded blocks. */
export class ArrowTable {
  readonly schema: Schema;
  private readonly builds: Build[];

  constructor(
    readonly kind: Kind,
    options: ArrowTableOptions = {},
  ) {
    const decimals = options.decimals ?? "both";
    const timezone = options.timezone === undefined ? "UTC" : options.timezone;
    const fields: Field[] = [];
    const builds: Build[] = [];
    let dictionaryId = 0;
    const add = (name: string, type: DataType, nullable: boolean, build: Build) => {
      fields.push(new Field(name, type, nullable));
      builds.push(build);
    };
    // Exchange and symbol: a one-entry dictionary per batch (a block has one symbol, a file one exchange).
    const constant = (name: string, textOf: (b: DecodedBlock, exchange: string) => string) => {
      const type = new Dictionary(new Utf8(), new Int32(), dictionaryId++);
      add(name, type, false, (b, exchange) => {
        const rows = b.header.rowCount;
        return makeData({
          type,
          length: rows,
          nullCount: 0,
          data: new Int32Array(rows),
          dictionary: vectorFromArray([textOf(b, exchange)], new Utf8()),
        });
      });
    };
    constant("exchange", (_, exchange) => exchange);
    constant("symbol", (b) => b.header.symbol);
    for (const c of [...COMMON, ...KIND_COLUMNS[kind]]) {
      switch (c.role) {
        case "timestamp": {
          const type = new TimestampNanosecond(timezone);
          add(c.source, type, c.nullable, (b) => int64Data(type, intColumn(b, c.source)!, b.header.rowCount));
          break;
        }
        case "decimal": {
          const exact = new Decimal(DECIMAL_SCALE, DECIMAL_PRECISION, 128);
          const float = new Float64();
          if (decimals !== "float")
            add(c.source, exact, c.nullable, (b) => {
              const col = intColumn(b, c.source)!;
              const rows = b.header.rowCount;
              return withValidity(exact, col.valid, rows, decimal128Values(col, rows));
            });
          if (decimals !== "exact")
            add(decimals === "both" ? `${c.source}Float` : c.source, float, c.nullable, (b) => {
              const col = intColumn(b, c.source)!;
              const rows = b.header.rowCount;
              return withValidity(float, col.valid, rows, float64Values(col, rows));
            });
          break;
        }
        case "int64": {
          const type = new Int64();
          add(c.source, type, true, (b) => {
            const col = intColumn(b, c.source);
            const rows = b.header.rowCount;
            return col === undefined ? absent(type, rows) : int64Data(type, col, rows);
          });
          break;
        }
        case "enum": {
          const type = new Dictionary(new Utf8(), new Int8(), dictionaryId++);
          // One dictionary vector for every batch: written once to an IPC stream.
          const dictionary = vectorFromArray([...c.names], new Utf8());
          add(c.source, type, false, (b) => {
            const values = enumColumn(b, c.source, c.names.length);
            return makeData({
              type,
              length: values.length,
              nullCount: 0,
              data: new Int8Array(values.buffer, values.byteOffset, values.length),
              dictionary,
            });
          });
          break;
        }
        case "snapshot": {
          const type = new Bool();
          add("snapshot", type, false, (b) => {
            const flags = (b.columns["flags"] as U8Column).values;
            const rows = b.header.rowCount;
            const bits = new Uint8Array((rows + 7) >>> 3);
            for (let i = 0; i < rows; i++) if (flags[i]! & 1) bits[i >>> 3]! |= 1 << (i & 7);
            return makeData({ type, length: rows, nullCount: 0, data: bits });
          });
          break;
        }
        case "id": {
          const type = new Utf8();
          add(c.source, type, true, (b) => {
            const col = b.columns[c.source];
            const rows = b.header.rowCount;
            if (col === undefined) return absent(type, rows);
            if (col.type === "int") return varData(type, col.valid, rows, intText(col, rows));
            if (col.type === "string") return varData(type, col.valid, rows, stringText(col, rows));
            throw wrongType(b, c.source, col);
          });
          break;
        }
        case "string": {
          const type = new Utf8();
          add(c.source, type, false, (b) => {
            const col = b.columns[c.source];
            if (col?.type !== "string") throw wrongType(b, c.source, col);
            return varData(type, null, b.header.rowCount, stringText(col, b.header.rowCount));
          });
          break;
        }
        case "binary": {
          const type = new Binary();
          add(c.source, type, false, (b) => {
            const col = b.columns[c.source];
            if (col?.type !== "bytes") throw wrongType(b, c.source, col);
            return varData(type, null, b.header.rowCount, binaryValues(col, b.header.rowCount));
          });
          break;
        }
      }
    }
    this.schema = new Schema(fields);
    this.builds = builds;
  }

  /** One block (of this table's kind) as a record batch; `exchange` is its file's. */
  batch(block: DecodedBlock, exchange: string): RecordBatch {
    if (block.header.kind !== this.kind) {
      throw new TapeError("E_TAPE_VALUE", `a ${block.header.kind} block given to the ${this.kind} table`, {
        offset: block.header.offset,
      });
    }
    const rows = block.header.rowCount;
    const children = this.builds.map((build) => build(block, exchange));
    const data = makeData({ type: new Struct(this.schema.fields), length: rows, nullCount: 0, children });
    return new RecordBatch(this.schema, data);
  }
}

function intColumn(b: DecodedBlock, name: string): IntColumn | undefined {
  const col = b.columns[name];
  if (col === undefined) return undefined;
  if (col.type !== "int") throw wrongType(b, name, col);
  return col;
}

function enumColumn(b: DecodedBlock, name: string, count: number): Uint8Array {
  const col = b.columns[name];
  if (col?.type !== "u8") throw wrongType(b, name, col);
  const values = col.values;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! >= count) {
      throw new TapeError("E_TAPE_CORRUPT", `value ${values[i]} out of range in row ${i}`, {
        offset: b.header.offset,
        field: `${b.header.kind}.${name}`,
      });
    }
  }
  return values;
}

function wrongType(b: DecodedBlock, name: string, col: Column | undefined): TapeError {
  return new TapeError(
    "E_TAPE_CORRUPT",
    col === undefined ? "column missing" : `column holds ${col.type} values`,
    { offset: b.header.offset, field: `${b.header.kind}.${name}` },
  );
}

function int64Data(type: DataType, col: IntColumn, rows: number): ReturnType<typeof makeData> {
  return withValidity(type, col.valid, rows, int64Values(col, rows));
}

function withValidity(
  type: DataType,
  valid: Uint8Array | null,
  rows: number,
  data: ArrayBufferView,
): ReturnType<typeof makeData> {
  const nulls = nullCount(valid, rows);
  const nullBitmap = nulls === 0 ? null : validityBitmap(valid, rows);
  return makeData({ type, length: rows, nullCount: nulls, nullBitmap, data } as never);
}

function varData(
  type: Utf8 | Binary,
  valid: Uint8Array | null,
  rows: number,
  v: VarBinary,
): ReturnType<typeof makeData> {
  const nulls = nullCount(valid, rows);
  const nullBitmap = nulls === 0 ? null : validityBitmap(valid, rows);
  return makeData({
    type,
    length: rows,
    nullCount: nulls,
    nullBitmap,
    valueOffsets: v.offsets,
    data: v.bytes,
  } as never);
}

/** A column every row of which is null (an optional column the block does not store). */
function absent(type: DataType, rows: number): ReturnType<typeof makeData> {
  const bits = new Uint8Array((rows + 7) >>> 3);
  if (type instanceof Utf8) {
    return makeData({
      type,
      length: rows,
      nullCount: rows,
      nullBitmap: bits,
      valueOffsets: new Int32Array(rows + 1),
      data: new Uint8Array(0),
    });
  }
  return makeData({
    type,
    length: rows,
    nullCount: rows,
    nullBitmap: bits,
    data: new BigInt64Array(rows),
  } as never);
}
