/**
 * Shared tools of the format tests: canonical record keys for comparisons, and a small independent model of
 * the file layout (header | blocks | footer | trailer) that can take a valid file apart, change it, and put it
 * back together with every length, CRC, digest and offset recomputed.
 */
import { createHash } from "node:crypto";
import {
  BytesSource,
  crc32c,
  type RecordInput,
  type Row,
  TapeError,
  TapeReader,
  type TapeRecord,
} from "../../src/index.js";

/** Canonical decimal text of m / 10^scale, written independently of the code under test. */
export function canonicalDecimal(m: bigint, scale: number): string {
  if (m === 0n) return "0";
  const negative = m < 0n;
  let digits = (negative ? -m : m).toString();
  let s = scale;
  while (s > 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    s--;
  }
  let text = digits;
  if (s > 0) {
    const padded = digits.padStart(s + 1, "0");
    text = `${padded.slice(0, padded.length - s)}.${padded.slice(padded.length - s)}`;
  }
  return negative ? `-${text}` : text;
}

function canonValue(v: unknown): unknown {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array)
    return `bytes:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`;
  return v;
}

/** A record as a string that does not depend on key order (bigints and bytes tagged, absent keys omitted). */
export function recordKey(r: object): string {
  const entries = Object.entries(r)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, canonValue(v)]);
  return JSON.stringify(entries);
}

export function streamKey(r: { kind: string; symbol: string }): string {
  return `${r.kind}\u0000${r.symbol}`;
}

/** Record keys grouped by (kind, symbol), each group in order. */
export function streams(records: readonly { kind: string; symbol: string }[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of records) {
    const k = streamKey(r);
    let list = m.get(k);
    if (list === undefined) {
      list = [];
      m.set(k, list);
    }
    list.push(recordKey(r));
  }
  return m;
}

export interface ReadResult {
  records: TapeRecord[];
  /** The error that ended the read, or null. */
  error: unknown;
}

/** Reads every record of an open reader, keeping what came before an error. */
export async function drainRecords(reader: TapeReader): Promise<ReadResult> {
  const records: TapeRecord[] = [];
  try {
    for await (const r of reader.records()) records.push(r);
  } catch (err) {
    return { records, error: err };
  }
  return { records, error: null };
}

export async function readAll(
  bytes: Uint8Array,
): Promise<{ reader: TapeReader; records: TapeRecord[]; rows: Row[] }> {
  const reader = await TapeReader.open(new BytesSource(bytes));
  const records: TapeRecord[] = [];
  for await (const r of reader.records()) records.push(r);
  const rows: Row[] = [];
  for await (const r of reader.rows()) rows.push(r);
  return { reader, records, rows };
}

/** Asserts that `err` is a TapeError with an E_TAPE_ code and a numeric offset; returns it. */
export function expectTapeError(err: unknown, codes?: readonly string[]): TapeError {
  if (!(err instanceof TapeError))
    throw new Error(`expected a TapeError, got ${String(err)}`, { cause: err });
  if (!err.code.startsWith("E_TAPE_")) throw new Error(`unexpected code ${err.code}`);
  if (codes !== undefined && !codes.includes(err.code)) {
    throw new Error(`expected one of ${codes.join(", ")}, got ${err.code}: ${err.message}`);
  }
  return err;
}

/** Runs `f` and returns what it threw (fails when it does not throw). */
export async function thrown(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error, none was thrown");
}

// ---------------------------------------------------------------------------------------------------------
// File layout model

export const HEADER_LENGTH_AT = 12;
export const TRAILER_BYTES = 32;
const FOOTER_MAGIC = 0x52544654;
const TRAILER_MAGIC = "TAPE_END";
/** Block header fields (byte offsets inside a block). */
export const BLOCK = {
  magic: 0,
  length: 4,
  kind: 8,
  codec: 9,
  flags: 10,
  symbolId: 12,
  rowCount: 16,
  rawLength: 20,
  minTs: 24,
  maxTs: 32,
  symbolLength: 40,
  fixed: 42,
} as const;

/** A copy in a plain Uint8Array (`Buffer#slice` would share memory). */
export function copy(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  return new Uint8Array(b.subarray(start, end));
}

export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
export function u32(b: Uint8Array, at: number): number {
  return view(b).getUint32(at, true);
}
export function setU32(b: Uint8Array, at: number, v: number): void {
  view(b).setUint32(at, v >>> 0, true);
}
export function u64(b: Uint8Array, at: number): number {
  const v = view(b);
  return v.getUint32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
}

/** Recomputes the CRC of a whole block (its last 4 bytes). */
export function fixBlockCrc(block: Uint8Array): void {
  setU32(block, block.length - 4, crc32c(block.subarray(0, block.length - 4)));
}
/** Recomputes the CRC of a whole header (its last 4 bytes). */
export function fixHeaderCrc(header: Uint8Array): void {
  setU32(header, header.length - 4, crc32c(header.subarray(0, header.length - 4)));
}

export interface Section {
  tag: number;
  body: Uint8Array;
}
export interface TapeParts {
  header: Uint8Array;
  blocks: Uint8Array[];
  symbols: string[];
  /** Footer sections other than symbols, blocks, stats and digest, written after them. */
  extraSections: Section[];
  /** Sections written before the known ones. */
  leadingSections: Section[];
}

function readVarint(b: Uint8Array, pos: { at: number }): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos.at++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return v;
    mul *= 128;
  }
}

class Out {
  chunks: number[] = [];
  u8(v: number): void {
    this.chunks.push(v & 0xff);
  }
  u32(v: number): void {
    for (let i = 0; i < 4; i++) this.u8(Math.floor(v / 256 ** i));
  }
  u64(v: number): void {
    this.u32(v % 2 ** 32);
    this.u32(Math.floor(v / 2 ** 32));
  }
  i64(v: bigint): void {
    const x = BigInt.asUintN(64, v);
    for (let i = 0n; i < 8n; i++) this.u8(Number((x >> (8n * i)) & 0xffn));
  }
  varint(v: number): void {
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.u8(v);
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.chunks.push(x);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** Takes a sealed file apart (copies: the parts can be changed freely). */
export function disassemble(bytes: Uint8Array): TapeParts {
  const headerLength = u32(bytes, HEADER_LENGTH_AT);
  const t = bytes.length - TRAILER_BYTES;
  const footerOffset = u64(bytes, t);
  const footerLength = u32(bytes, t + 8);
  const blocks: Uint8Array[] = [];
  for (let at = headerLength; at < footerOffset; ) {
    const len = u32(bytes, at + BLOCK.length);
    blocks.push(copy(bytes, at, at + len));
    at += len;
  }
  const footer = bytes.subarray(footerOffset, footerOffset + footerLength);
  let symbols: string[] = [];
  const extraSections: Section[] = [];
  for (let at = 4; at < footer.length; ) {
    const tag = footer[at]!;
    const len = u32(footer, at + 1);
    const body = copy(footer, at + 5, at + 5 + len);
    at += 5 + len;
    if (tag === 1) {
      const pos = { at: 0 };
      const n = readVarint(body, pos);
      symbols = [];
      for (let i = 0; i < n; i++) {
        const l = readVarint(body, pos);
        symbols.push(Buffer.from(body.subarray(pos.at, pos.at + l)).toString("utf8"));
        pos.at += l;
      }
    } else if (tag > 4) extraSections.push({ tag, body });
  }
  return { header: copy(bytes, 0, headerLength), blocks, symbols, extraSections, leadingSections: [] };
}

function section(out: Out, tag: number, body: Uint8Array): void {
  out.u8(tag);
  out.u32(body.length);
  out.bytes(body);
}

/**
 * Builds a sealed file from parts: the block index and the stats come from the block headers, the digest from
 * the bytes, the trailer from the footer. `stats` of unknown kind ids are written too.
 */
export function assemble(parts: TapeParts): Uint8Array {
  const body = Buffer.concat([parts.header, ...parts.blocks]);
  const footerOffset = body.length;
  const out = new Out();
  out.u32(FOOTER_MAGIC);
  for (const s of parts.leadingSections) section(out, s.tag, s.body);
  const sym = new Out();
  sym.varint(parts.symbols.length);
  for (const s of parts.symbols) {
    const b = Buffer.from(s, "utf8");
    sym.varint(b.length);
    sym.bytes(b);
  }
  section(out, 1, sym.finish());
  const blk = new Out();
  blk.varint(parts.blocks.length);
  const stats = new Map<number, { rows: number; blocks: number; raw: number; stored: number }>();
  let at = parts.header.length;
  for (const b of parts.blocks) {
    const v = view(b);
    const kind = b[BLOCK.kind]!;
    const rows = v.getUint32(BLOCK.rowCount, true);
    const raw = v.getUint32(BLOCK.rawLength, true);
    blk.u64(at);
    blk.u32(b.length);
    blk.u32(v.getUint32(BLOCK.symbolId, true));
    blk.u8(kind);
    blk.u8(b[BLOCK.codec]!);
    blk.u32(rows);
    blk.u32(raw);
    blk.i64(v.getBigInt64(BLOCK.minTs, true));
    blk.i64(v.getBigInt64(BLOCK.maxTs, true));
    const s = stats.get(kind) ?? { rows: 0, blocks: 0, raw: 0, stored: 0 };
    s.rows += rows;
    s.blocks += 1;
    s.raw += raw;
    s.stored += b.length;
    stats.set(kind, s);
    at += b.length;
  }
  section(out, 2, blk.finish());
  const st = new Out();
  const kinds = [...stats.keys()].sort((a, b) => a - b);
  st.varint(kinds.length);
  for (const k of kinds) {
    const s = stats.get(k)!;
    st.u8(k);
    st.u64(s.rows);
    st.u64(s.blocks);
    st.u64(s.raw);
    st.u64(s.stored);
  }
  section(out, 3, st.finish());
  const dg = new Out();
  dg.u8(1);
  dg.u8(32);
  dg.bytes(createHash("sha256").update(body).digest());
  section(out, 4, dg.finish());
  for (const s of parts.extraSections) section(out, s.tag, s.body);
  const footer = out.finish();
  const tr = new Out();
  tr.u64(footerOffset);
  tr.u32(footer.length);
  tr.u32(crc32c(footer));
  tr.u64(footerOffset + footer.length + TRAILER_BYTES);
  for (let i = 0; i < 8; i++) tr.u8(TRAILER_MAGIC.charCodeAt(i));
  return new Uint8Array(Buffer.concat([body, footer, tr.finish()]));
}

/** Offsets of the blocks of a file laid out by `assemble` (header length, then each block's length). */
export function blockOffsets(parts: TapeParts): number[] {
  const out: number[] = [];
  let at = parts.header.length;
  for (const b of parts.blocks) {
    out.push(at);
    at += b.length;
  }
  return out;
}

/** A copy of `block` with a new stored body: length, raw length (codec none) and CRC recomputed. */
export function withBody(block: Uint8Array, body: Uint8Array): Uint8Array {
  const headerLength = BLOCK.fixed + view(block).getUint16(BLOCK.symbolLength, true);
  const out = new Uint8Array(headerLength + body.length + 4);
  out.set(block.subarray(0, headerLength));
  out.set(body, headerLength);
  setU32(out, BLOCK.length, out.length);
  setU32(out, BLOCK.rawLength, body.length);
  fixBlockCrc(out);
  return out;
}

/** The stored body of a block. */
export function bodyOf(block: Uint8Array): Uint8Array {
  const headerLength = BLOCK.fixed + view(block).getUint16(BLOCK.symbolLength, true);
  return block.subarray(headerLength, block.length - 4);
}

/** Where the footer of a sealed file is, from its trailer. */
export function footerRange(bytes: Uint8Array): { offset: number; length: number } {
  const t = bytes.length - TRAILER_BYTES;
  return { offset: u64(bytes, t), length: u32(bytes, t + 8) };
}

/** Recomputes the footer CRC stored in the trailer (after the footer was changed in place). */
export function fixFooterCrc(bytes: Uint8Array): void {
  const { offset, length } = footerRange(bytes);
  setU32(bytes, bytes.length - TRAILER_BYTES + 12, crc32c(bytes.subarray(offset, offset + length)));
}

/** Offset (inside the footer) of the body of the first section with `tag`. */
export function sectionBody(bytes: Uint8Array, tag: number): number {
  const { offset, length } = footerRange(bytes);
  for (let at = offset + 4; at < offset + length; ) {
    const len = u32(bytes, at + 1);
    if (bytes[at] === tag) return at + 5;
    at += 5 + len;
  }
  throw new Error(`no footer section ${tag}`);
}

export const T0 = 1_700_000_000_000_000_000n;

/** A buy of 1 at 1: for tests of where rows go, not of their values. */
export function unitTrade(symbol: string, ts: bigint): RecordInput {
  return { kind: "trade", symbol, ts, price: "1", size: "1", side: "buy" };
}

/** A small mixed tape: 3 symbols, every kind, 36 records. */
export function sampleRecords(n = 36): TapeRecord[] {
  const symbols = ["BTC-USDT", "ÉTH/€", ""];
  const out: TapeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const symbol = symbols[i % 3]!;
    const ts = T0 + BigInt(i) * 1_000_000n;
    switch (i % 5) {
      case 0:
        out.push({
          kind: "trade",
          symbol,
          ts,
          price: `${65000 + i}.${i}1`,
          size: "0.01",
          side: "buy",
          tradeId: String(1000 + i),
        });
        break;
      case 1:
        out.push({
          kind: "book",
          symbol,
          ts,
          recvTs: ts + 5n,
          side: "bid",
          price: "64999.5",
          size: `${i}`,
          snapshot: i < 10,
          seq: BigInt(i),
        });
        break;
      case 2:
        out.push({ kind: "bbo", symbol, ts, bidPrice: "1.5", askPrice: "1.6" });
        break;
      case 3:
        out.push({ kind: "event", symbol, ts, type: "gap", seqBefore: BigInt(i), message: `gap ${i}` });
        break;
      default:
        out.push({ kind: "raw", symbol, ts, data: new TextEncoder().encode(`{"i":${i}}`) });
    }
  }
  return out;
}
