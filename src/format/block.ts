/**
 * Blocks: the unit of compression, checksumming and seeking. One block holds rows of one (symbol, kind).
 *
 *   fixed header (42 bytes) | symbol (UTF-8) | stored body | CRC32C (4 bytes)
 *
 * The stored body is the codec's output for the raw body: a column directory followed by the column data.
 */
import { ByteReader, ByteWriter, utf8 } from "./bytes.js";
import { CODEC_ID, type Codec, compressBody, decompressBody } from "./codecs.js";
import {
  COLUMN_FLAG_PRESENCE,
  type Column,
  ColumnArena,
  decodeColumn,
  ENCODING,
  encodeBytesColumn,
  encodeIntColumn,
  encodeStringColumn,
  encodeU8Column,
  type IntColumn,
  isIntEncoding,
  offsetRange,
} from "./columns.js";
import { crc32c } from "./crc32c.js";
import { TapeError } from "./errors.js";
import { KIND_BY_ID, KIND_ID, type Kind } from "./records.js";
import { CHECKPOINT_KIND_ID, CHECKPOINT_SCHEMA, type ColumnSpec, SCHEMAS } from "./schema.js";

/** "TBLK": marks the start of every block, so that a forward scan can find blocks without the footer. */
export const BLOCK_MAGIC = 0x4b4c4254;
export const BLOCK_FIXED_HEADER = 42;
export const MAX_SYMBOL_BYTES = 256;
export const MAX_BLOCK_ROWS = 1 << 20;
export const MAX_BLOCK_RAW_BYTES = 64 * 1024 * 1024;
/** Stored bytes may exceed raw bytes a little for incompressible data. */
export const MAX_BLOCK_BYTES = MAX_BLOCK_RAW_BYTES + (1 << 20);
const MAX_COLUMNS = 64;

export interface BlockHeader {
  /** File offset of the block. */
  offset: number;
  /** Total bytes, header to CRC inclusive. */
  length: number;
  /** Null for a kind id this reader does not know (a later minor version): skip the block. */
  kind: Kind | null;
  kindId: number;
  codecId: number;
  flags: number;
  symbolId: number;
  symbol: string;
  rowCount: number;
  rawLength: number;
  minTs: bigint;
  maxTs: bigint;
  /** Bytes of the fixed header plus the symbol. */
  headerLength: number;
}

export interface DecodedBlock {
  header: BlockHeader;
  /** Columns by name (see schema.ts); unknown column ids are skipped. */
  columns: Record<string, Column>;
}

export interface BlockInput {
  /** A record kind, or a book checkpoint (format 1.1). */
  kind: Kind | "checkpoint";
  symbolId: number;
  symbol: string;
  rowCount: number;
  minTs: bigint;
  maxTs: bigint;
  columns: Record<string, Column>;
}

/** Encodes a block; `scratch` is reused between calls to avoid reallocating the raw body. */
export function encodeBlock(
  input: BlockInput,
  codec: Codec,
  scratch = new ByteWriter(1 << 16),
  zstdLevel?: number,
): Uint8Array {
  const schema = input.kind === "checkpoint" ? CHECKPOINT_SCHEMA : SCHEMAS[input.kind];
  const rows = input.rowCount;
  if (rows <= 0 || rows > MAX_BLOCK_ROWS) throw new TapeError("E_TAPE_LIMIT", `block of ${rows} rows`);
  const symbolBytes = utf8(input.symbol);
  if (symbolBytes.length > MAX_SYMBOL_BYTES)
    throw new TapeError("E_TAPE_LIMIT", "symbol too long", { field: "symbol" });

  // Column data first (into scratch, after room for the largest directory), then the directory that
  // describes it, written just before the data so that the raw body is one slice of scratch, never copied.
  const room = 5 + schema.length * 9;
  scratch.pos = 0;
  scratch.ensure(room);
  scratch.pos = room;
  const dir: { id: number; encoding: number; flags: number; scale: number; length: number }[] = [];
  for (const spec of schema) {
    const col = input.columns[spec.name];
    if (col === undefined) throw new TapeError("E_TAPE_STATE", `missing column ${spec.name}`);
    const start = scratch.pos;
    let encoding: number;
    switch (col.type) {
      case "int":
        encoding = encodeIntColumn(scratch, col, rows, spec.layout);
        break;
      case "u8":
        encoding = encodeU8Column(scratch, col, rows);
        break;
      case "string":
        encoding = encodeStringColumn(scratch, col, rows);
        break;
      case "bytes":
        encoding = encodeBytesColumn(scratch, col, rows);
        break;
    }
    const flags = col.valid !== null ? COLUMN_FLAG_PRESENCE : 0;
    dir.push({
      id: spec.id,
      encoding,
      flags,
      scale: col.type === "int" ? col.scale : 0,
      length: scratch.pos - start,
    });
  }
  const head = new ByteWriter(room);
  head.varint(dir.length);
  for (const d of dir) {
    head.u8(d.id);
    head.u8(d.encoding);
    head.u8(d.flags);
    head.u8(d.scale);
    head.varint(d.length);
  }
  const dirBytes = head.finish();
  const bodyStart = room - dirBytes.length;
  scratch.buf.set(dirBytes, bodyStart);
  const rawBody = scratch.buf.subarray(bodyStart, scratch.pos);
  if (rawBody.length > MAX_BLOCK_RAW_BYTES)
    throw new TapeError("E_TAPE_LIMIT", `block body of ${rawBody.length} bytes`);
  const stored = compressBody(codec, rawBody, zstdLevel, partEnds(dirBytes.length, dir, rawBody.length));

  const length = BLOCK_FIXED_HEADER + symbolBytes.length + stored.length + 4;
  const out = new ByteWriter(length);
  out.u32(BLOCK_MAGIC);
  out.u32(length);
  out.u8(input.kind === "checkpoint" ? CHECKPOINT_KIND_ID : KIND_ID[input.kind]);
  out.u8(CODEC_ID[codec]);
  out.u16(0);
  out.u32(input.symbolId);
  out.u32(rows);
  out.u32(rawBody.length);
  out.i64(input.minTs);
  out.i64(input.maxTs);
  out.u16(symbolBytes.length);
  out.bytes(symbolBytes);
  out.bytes(stored);
  out.u32(crc32c(out.buf.subarray(0, out.pos)));
  return out.finish();
}

/**
 * Where the parts of a raw body that the codec compresses apart end (docs/FORMAT.md §12.3): at the end of a
 * column, once the part holds at least MIN_PART_BYTES and so does the rest of the body; the directory goes with
 * the first column. A smaller part would cost more in entropy tables of its own than they save.
 */
function partEnds(dirLength: number, dir: readonly { length: number }[], bodyLength: number): number[] {
  const ends: number[] = [];
  let end = dirLength;
  let partStart = 0;
  for (let i = 0; i < dir.length - 1; i++) {
    end += dir[i]!.length;
    if (end - partStart >= MIN_PART_BYTES && bodyLength - end >= MIN_PART_BYTES) {
      ends.push(end);
      partStart = end;
    }
  }
  return ends;
}
const MIN_PART_BYTES = 4096;

/**
 * Parses a block header from `buf` (which must hold at least the fixed header and the symbol).
 * `fileOffset` is where `buf[at]` sits in the file; `fileSize` bounds the block length.
 */
export function decodeBlockHeader(
  buf: Uint8Array,
  at: number,
  fileOffset: number,
  fileSize: number,
): BlockHeader {
  const r = new ByteReader(buf, at, buf.length, fileOffset - at);
  if (r.remaining < BLOCK_FIXED_HEADER) {
    throw new TapeError("E_TAPE_TRUNCATED", "block header cut short", { offset: fileOffset, field: "block" });
  }
  if (r.u32("block.magic") !== BLOCK_MAGIC) {
    throw new TapeError("E_TAPE_CORRUPT", "no block magic", { offset: fileOffset, field: "block.magic" });
  }
  const length = r.u32("block.length");
  const kindId = r.u8("block.kind");
  const codecId = r.u8("block.codec");
  const flags = r.u16("block.flags");
  const symbolId = r.u32("block.symbolId");
  const rowCount = r.u32("block.rowCount");
  const rawLength = r.u32("block.rawLength");
  const minTs = r.i64("block.minTs");
  const maxTs = r.i64("block.maxTs");
  const symbolLength = r.u16("block.symbolLength");
  const headerLength = BLOCK_FIXED_HEADER + symbolLength;
  const where = { offset: fileOffset, field: "block.length" };
  if (symbolLength > MAX_SYMBOL_BYTES)
    throw new TapeError("E_TAPE_LIMIT", `symbol of ${symbolLength} bytes`, where);
  if (length < headerLength + 4 || length > MAX_BLOCK_BYTES) {
    throw new TapeError("E_TAPE_CORRUPT", `implausible block length ${length}`, where);
  }
  if (fileOffset + length > fileSize) {
    throw new TapeError("E_TAPE_TRUNCATED", `block of ${length} bytes runs past the end of the file`, where);
  }
  // Every row takes at least one byte of the raw body (each kind has a one-byte-per-row column).
  if (
    rowCount === 0 ||
    rowCount > MAX_BLOCK_ROWS ||
    rawLength > MAX_BLOCK_RAW_BYTES ||
    rowCount > rawLength
  ) {
    throw new TapeError("E_TAPE_LIMIT", `block claims ${rowCount} rows, ${rawLength} bytes`, {
      offset: fileOffset,
      field: "block.rowCount",
    });
  }
  const symbol = r.remaining >= symbolLength ? r.text(symbolLength, "block.symbol") : "";
  return {
    offset: fileOffset,
    length,
    kind: KIND_BY_ID.get(kindId) ?? null,
    kindId,
    codecId,
    flags,
    symbolId,
    symbol,
    rowCount,
    rawLength,
    minTs,
    maxTs,
    headerLength,
  };
}

/** Checks that `bytes` is the whole block (`header.length` bytes, else `E_TAPE_TRUNCATED`) and its CRC. */
export function checkBlockCrc(bytes: Uint8Array, header: BlockHeader): void {
  if (bytes.length !== header.length) {
    throw new TapeError("E_TAPE_TRUNCATED", "block bytes cut short", {
      offset: header.offset,
      field: "block",
    });
  }
  const stored = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  const actual = crc32c(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    throw new TapeError(
      "E_TAPE_CRC",
      `block CRC32C mismatch (stored ${hex(stored)}, computed ${hex(actual)})`,
      { offset: header.offset, field: "block.crc" },
    );
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** Verifies and decodes a whole block (`bytes` = exactly the block). Never returns rows of a bad block. */
export function decodeBlock(bytes: Uint8Array, header: BlockHeader): DecodedBlock {
  checkBlockCrc(bytes, header);
  const checkpoint = header.kind === null && header.kindId === CHECKPOINT_KIND_ID;
  if (header.kind === null && !checkpoint) {
    throw new TapeError("E_TAPE_VERSION", `unknown block kind ${header.kindId}`, {
      offset: header.offset,
      field: "block.kind",
    });
  }
  const bodyOffset = header.offset + header.headerLength;
  const raw = decompressBody(
    header.codecId,
    bytes.subarray(header.headerLength, bytes.length - 4),
    header.rawLength,
    bodyOffset,
  );
  // Offsets inside the raw body are reported relative to the body start in the file.
  const r = new ByteReader(raw, 0, raw.length, bodyOffset);
  const count = r.bounded("columns.count", MAX_COLUMNS);
  const dir: { id: number; encoding: number; flags: number; scale: number; length: number }[] = [];
  for (let i = 0; i < count; i++) {
    dir.push({
      id: r.u8("column.id"),
      encoding: r.u8("column.encoding"),
      flags: r.u8("column.flags"),
      scale: r.u8("column.scale"),
      length: r.bounded("column.length", raw.length),
    });
  }
  const schema = checkpoint ? CHECKPOINT_SCHEMA : SCHEMAS[header.kind!];
  const kindName = header.kind ?? "checkpoint";
  const columns: Record<string, Column> = {};
  const arena = arenaFor(dir, schema, header.rowCount);
  let tsRange: { low: number; high: number } | null = null;
  let recvRange: { low: number; high: number } | null = null;
  for (const d of dir) {
    const start = r.pos;
    r.need(d.length, "column.data");
    const spec = schema.find((s) => s.id === d.id);
    if (spec !== undefined) {
      const field = `${kindName}.${spec.name}`;
      // Two copies of a column leave no way to tell which holds the rows: the block is damaged.
      if (columns[spec.name] !== undefined) r.fail(`column ${spec.name} given twice`, field);
      const sub = new ByteReader(raw, start, start + d.length, bodyOffset);
      const col = decodeColumn(sub, d.encoding, d.flags, d.scale, header.rowCount, field, arena);
      if (sub.pos !== sub.end) sub.fail(`${sub.end - sub.pos} unread bytes`, field);
      checkColumnType(col, spec, header, field);
      // Taken at once: the extremes of an INT_DELTA or INT_RUNS column are known only until the next column is
      // decoded.
      if (spec.name === "ts") tsRange = offsetRange(col as IntColumn);
      else if (spec.name === "recvTs") recvRange = offsetRange(col as IntColumn);
      columns[spec.name] = col;
    }
    r.pos = start + d.length;
  }
  if (r.pos !== raw.length) r.fail("bytes after the last column", "columns");
  for (const spec of schema) {
    if (columns[spec.name] === undefined) {
      throw new TapeError("E_TAPE_CORRUPT", `block lacks column ${spec.name}`, {
        offset: header.offset,
        field: `${kindName}.${spec.name}`,
      });
    }
  }
  checkTimeRange(columns["ts"] as IntColumn, tsRange!, header, `${kindName}.ts`);
  const recvTs = columns["recvTs"] as IntColumn | undefined;
  if (recvTs !== undefined && recvRange !== null)
    checkTimestamps(
      recvTs.base + BigInt(recvRange.low),
      recvTs.base + BigInt(recvRange.high),
      header,
      `${kindName}.recvTs`,
    );
  return { header, columns };
}

const MAX_TIMESTAMP = 2n ** 63n - 1n;

/** Timestamps are in [0, 2^63 − 1] (§7.1): beyond, they are no instant an int64 of ns since 1970 can hold. */
function checkTimestamps(min: bigint, max: bigint, header: BlockHeader, field: string): void {
  if (min < 0n || max > MAX_TIMESTAMP) {
    throw new TapeError("E_TAPE_CORRUPT", `timestamps span ${min}..${max}, outside [0, 2^63 − 1]`, {
      offset: header.offset,
      field,
    });
  }
}

/**
 * The header's `minTs`/`maxTs` must be the rows' (§4.1): readers select rows by time with them, and a block that
 * lies about them would hand out rows outside the range asked for.
 */
function checkTimeRange(
  ts: IntColumn,
  { low, high }: { low: number; high: number },
  header: BlockHeader,
  field: string,
): void {
  const min = ts.base + BigInt(low);
  const max = ts.base + BigInt(high);
  if (min !== header.minTs || max !== header.maxTs) {
    throw new TapeError(
      "E_TAPE_CORRUPT",
      `rows' ts span ${min}..${max}, the block header says ${header.minTs}..${header.maxTs}`,
      { offset: header.offset, field },
    );
  }
  checkTimestamps(min, max, header, field);
}

/** Room for the typed arrays the known columns of a block decode into (unknown encodings get none). */
function arenaFor(
  dir: readonly { id: number; encoding: number; flags: number }[],
  schema: readonly ColumnSpec[],
  rows: number,
): ColumnArena {
  let floats = 0;
  let bytes = 0;
  const seen = new Set<number>();
  for (const d of dir) {
    // A repeated column id counts once: a hostile directory must not size the arena 255 times.
    if (seen.has(d.id) || !schema.some((s) => s.id === d.id)) continue;
    seen.add(d.id);
    const presence = (d.flags & COLUMN_FLAG_PRESENCE) !== 0;
    if (isIntEncoding(d.encoding)) {
      floats += rows;
      if (presence) bytes += rows;
    } else if (d.encoding === ENCODING.u8) bytes += rows;
    else if (d.encoding === ENCODING.string && presence) bytes += rows;
  }
  return ColumnArena.sized(floats, bytes);
}

function checkColumnType(col: Column, spec: ColumnSpec, header: BlockHeader, field: string): void {
  const type = spec.type;
  const ok =
    type === "id"
      ? col.type === "int" || col.type === "string"
      : type === "decimal"
        ? col.type === "int"
        : col.type === type;
  if (!ok || (col.valid !== null && !spec.nullable)) {
    throw new TapeError("E_TAPE_CORRUPT", `column has type ${col.type}, expected ${type}`, {
      offset: header.offset,
      field,
    });
  }
  if (col.type === "int" && (type !== "decimal" ? col.scale !== 0 : col.scale > 18)) {
    throw new TapeError("E_TAPE_CORRUPT", `bad decimal scale ${col.scale}`, { offset: header.offset, field });
  }
}
