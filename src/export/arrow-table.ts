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
  type Vector,
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
import { BOOK_FLAG_SNAPSHOT } from "../format/schema.js";
import {
  binaryValues,
  concatVarBinary,
  DECIMAL_PRECISION,
  DECIMAL_SCALE,
  decimal128Values,
  float64Values,
  int64Values,
  intText,
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

/** A decoded block and the exchange of its file. */
export interface ArrowPart {
  block: DecodedBlock;
  exchange: string;
}

type ArrowData = ReturnType<typeof makeData>;
/** Builds one Arrow column of blocks laid end to end (`rows` in all). */
type Build = (parts: readonly ArrowPart[], rows: number) => ArrowData;

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
    // Exchange and symbol: a dictionary of the batch's values (a block has one symbol, a file one exchange).
    const perBlock = (name: string, textOf: (p: ArrowPart) => string) => {
      const type = new Dictionary(new Utf8(), new Int32(), dictionaryId++);
      // The same vector for the same values: a stream writes a dictionary again only when it changes.
      let last: { values: string[]; vector: Vector } | null = null;
      add(name, type, false, (parts, rows) => {
        const values: string[] = [];
        const indices = new Int32Array(rows);
        let at = 0;
        for (const p of parts) {
          const text = textOf(p);
          let index = values.indexOf(text);
          if (index < 0) index = values.push(text) - 1;
          indices.fill(index, at, at + p.block.header.rowCount);
          at += p.block.header.rowCount;
        }
        // Compared value by value: any text may be a symbol, so no joined key is unambiguous.
        const same =
          last !== null &&
          last.values.length === values.length &&
          last.values.every((v, i) => v === values[i]);
        if (!same) last = { values, vector: vectorFromArray(values, new Utf8()) };
        return makeData({ type, length: rows, nullCount: 0, data: indices, dictionary: last!.vector });
      });
    };
    perBlock("exchange", (p) => p.exchange);
    perBlock("symbol", (p) => p.block.header.symbol);
    for (const c of [...COMMON, ...KIND_COLUMNS[kind]]) {
      switch (c.role) {
        case "timestamp": {
          const type = new TimestampNanosecond(timezone);
          add(c.source, type, c.nullable, (parts, rows) => int64Data(type, parts, rows, c.source));
          break;
        }
        case "decimal": {
          const exact = new Decimal(DECIMAL_SCALE, DECIMAL_PRECISION, 128);
          const float = new Float64();
          if (decimals !== "float")
            add(c.source, exact, c.nullable, (parts, rows) =>
              perColumn(exact, parts, rows, c.source, new Uint32Array(rows * 4), decimal128Values),
            );
          if (decimals !== "exact")
            add(decimals === "both" ? `${c.source}Float` : c.source, float, c.nullable, (parts, rows) =>
              perColumn(float, parts, rows, c.source, new Float64Array(rows), float64Values),
            );
          break;
        }
        case "int64": {
          const type = new Int64();
          add(c.source, type, true, (parts, rows) => int64Data(type, parts, rows, c.source));
          break;
        }
        case "enum": {
          const type = new Dictionary(new Utf8(), new Int8(), dictionaryId++);
          // One dictionary vector for every batch: written once to an IPC stream.
          const dictionary = vectorFromArray([...c.names], new Utf8());
          add(c.source, type, false, (parts, rows) => {
            const out = new Int8Array(rows);
            let at = 0;
            for (const p of parts) {
              out.set(enumColumn(p.block, c.source, c.names.length), at);
              at += p.block.header.rowCount;
            }
            return makeData({ type, length: rows, nullCount: 0, data: out, dictionary });
          });
          break;
        }
        case "snapshot": {
          const type = new Bool();
          add("snapshot", type, false, (parts, rows) => {
            const bits = new Uint8Array((rows + 7) >>> 3);
            let at = 0;
            for (const p of parts) {
              const flags = (p.block.columns["flags"] as U8Column).values;
              for (let i = 0; i < p.block.header.rowCount; i++, at++)
                if (flags[i]! & BOOK_FLAG_SNAPSHOT) bits[at >>> 3]! |= 1 << (at & 7);
            }
            return makeData({ type, length: rows, nullCount: 0, data: bits });
          });
          break;
        }
        case "id": {
          const type = new Utf8();
          add(c.source, type, true, (parts, rows) =>
            varData(type, parts, rows, (b) => {
              const col = b.columns[c.source];
              const n = b.header.rowCount;
              if (col === undefined) return { valid: new Uint8Array(n), text: emptyText(n) };
              if (col.type === "int") return { valid: col.valid, text: intText(col, n) };
              if (col.type === "string") return { valid: col.valid, text: stringText(col, n) };
              throw wrongType(b, c.source, col);
            }),
          );
          break;
        }
        case "string": {
          const type = new Utf8();
          add(c.source, type, false, (parts, rows) =>
            varData(type, parts, rows, (b) => {
              const col = b.columns[c.source];
              if (col?.type !== "string") throw wrongType(b, c.source, col);
              return { valid: null, text: stringText(col, b.header.rowCount) };
            }),
          );
          break;
        }
        case "binary": {
          const type = new Binary();
          add(c.source, type, false, (parts, rows) =>
            varData(type, parts, rows, (b) => {
              const col = b.columns[c.source];
              if (col?.type !== "bytes") throw wrongType(b, c.source, col);
              return { valid: null, text: binaryValues(col, b.header.rowCount) };
            }),
          );
          break;
        }
      }
    }
    this.schema = new Schema(fields);
    this.builds = builds;
  }

  /** Blocks of this table's kind, laid end to end, as one record batch. */
  batch(parts: readonly ArrowPart[]): RecordBatch {
    let rows = 0;
    for (const p of parts) {
      if (p.block.header.kind !== this.kind) {
        throw new TapeError(
          "E_TAPE_VALUE",
          `a ${p.block.header.kind} block given to the ${this.kind} table`,
          {
            offset: p.block.header.offset,
          },
        );
      }
      rows += p.block.header.rowCount;
    }
    const children = this.builds.map((build) => build(parts, rows));
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

/** Each part's int column `name` (undefined where a block does not store an optional column). */
function intColumns(parts: readonly ArrowPart[], name: string): (IntColumn | undefined)[] {
  return parts.map((p) => intColumn(p.block, name));
}

function int64Data(type: DataType, parts: readonly ArrowPart[], rows: number, name: string): ArrowData {
  return perColumn(type, parts, rows, name, new BigInt64Array(rows), int64Values);
}

/** Fixed-width values of the int column `name` of each part, written by `fill` into `out` one part after another. */
function perColumn<T extends ArrayBufferView>(
  type: DataType,
  parts: readonly ArrowPart[],
  rows: number,
  name: string,
  out: T,
  fill: (col: IntColumn, rows: number, out: T, at: number) => void,
): ArrowData {
  const cols = intColumns(parts, name);
  let at = 0;
  for (const [k, col] of cols.entries()) {
    const n = parts[k]!.block.header.rowCount;
    if (col !== undefined) fill(col, n, out, at);
    at += n;
  }
  return withValidity(type, parts, cols, rows, out);
}

/** Fixed-width values with the validity of their columns (an absent column: every row null). */
function withValidity(
  type: DataType,
  parts: readonly ArrowPart[],
  cols: readonly (IntColumn | undefined)[],
  rows: number,
  data: ArrayBufferView,
): ArrowData {
  const { bitmap, nulls } = validityBitmap(
    parts.map((p, k) => {
      const n = p.block.header.rowCount;
      return { valid: cols[k] === undefined ? new Uint8Array(n) : cols[k]!.valid, rows: n };
    }),
  );
  return makeData({ type, length: rows, nullCount: nulls, nullBitmap: bitmap, data } as never);
}

function varData(
  type: Utf8 | Binary,
  parts: readonly ArrowPart[],
  rows: number,
  textOf: (b: DecodedBlock) => { valid: Uint8Array | null; text: VarBinary },
): ArrowData {
  const each = parts.map((p) => textOf(p.block));
  const { bitmap, nulls } = validityBitmap(
    each.map((e, k) => ({ valid: e.valid, rows: parts[k]!.block.header.rowCount })),
  );
  const v = concatVarBinary(each.map((e) => e.text));
  return makeData({
    type,
    length: rows,
    nullCount: nulls,
    nullBitmap: bitmap,
    valueOffsets: v.offsets,
    data: v.bytes,
  } as never);
}

function emptyText(rows: number): VarBinary {
  return { offsets: new Int32Array(rows + 1), bytes: new Uint8Array(0) };
}
