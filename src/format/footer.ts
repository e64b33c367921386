/**
 * The footer (symbol dictionary, block index, stats, file digest) and the fixed 32-byte trailer that locates it.
 * The footer is a sequence of tagged sections; a reader skips tags it does not know (later minor versions).
 */

import { BLOCK_FIXED_HEADER, type BlockHeader, MAX_BLOCK_BYTES, MAX_SYMBOL_BYTES } from "./block.js";
import { ByteReader, ByteWriter, utf8 } from "./bytes.js";
import { crc32c } from "./crc32c.js";
import { TapeError } from "./errors.js";
import { KIND_BY_ID, KIND_ID, KINDS, type Kind } from "./records.js";

export const FOOTER_MAGIC = 0x52544654; // "TFTR"
export const TRAILER_MAGIC = "TAPE_END";
export const TRAILER_BYTES = 32;
export const MAX_FOOTER_BYTES = 256 * 1024 * 1024;
const BLOCK_ENTRY_BYTES = 42;
export const SECTION = { symbols: 1, blocks: 2, stats: 3, digest: 4 } as const;
const KNOWN_SECTIONS = new Set<number>(Object.values(SECTION));
export const DIGEST_SHA256 = 1;

export interface KindStats {
  rows: number;
  blocks: number;
  rawBytes: number;
  storedBytes: number;
}
export interface Footer {
  symbols: string[];
  blocks: readonly BlockHeader[];
  /** Rows, blocks and bytes per kind (kinds without rows are absent). */
  stats: Partial<Record<Kind, KindStats>>;
  /** SHA-256 of every byte before the footer. */
  digest: Uint8Array;
}
export interface Trailer {
  footerOffset: number;
  footerLength: number;
  footerCrc: number;
  fileLength: number;
}

/** Block headers to encode: an array, or the writer's index. */
export type BlockList = Iterable<BlockHeader> & { readonly length: number };

export function statsOf(blocks: Iterable<BlockHeader>): Partial<Record<Kind, KindStats>> {
  const stats: Partial<Record<Kind, KindStats>> = {};
  for (const b of blocks) {
    if (b.kind === null) continue;
    const s = stats[b.kind] ?? { rows: 0, blocks: 0, rawBytes: 0, storedBytes: 0 };
    stats[b.kind] = s;
    s.rows += b.rowCount;
    s.blocks += 1;
    s.rawBytes += b.rawLength;
    s.storedBytes += b.length;
  }
  return stats;
}

function section(out: ByteWriter, tag: number, body: ByteWriter): void {
  out.u8(tag);
  out.u32(body.pos);
  out.bytes(body.finish());
}

export function encodeFooter(f: Omit<Footer, "blocks"> & { blocks: BlockList }): Uint8Array {
  const out = new ByteWriter(64 + f.blocks.length * BLOCK_ENTRY_BYTES);
  out.u32(FOOTER_MAGIC);
  const sym = new ByteWriter();
  sym.varint(f.symbols.length);
  for (const s of f.symbols) {
    const b = utf8(s);
    sym.varint(b.length);
    sym.bytes(b);
  }
  section(out, SECTION.symbols, sym);
  const blk = new ByteWriter(8 + f.blocks.length * BLOCK_ENTRY_BYTES);
  blk.varint(f.blocks.length);
  for (const b of f.blocks) {
    blk.u64(b.offset);
    blk.u32(b.length);
    blk.u32(b.symbolId);
    blk.u8(b.kindId);
    blk.u8(b.codecId);
    blk.u32(b.rowCount);
    blk.u32(b.rawLength);
    blk.i64(b.minTs);
    blk.i64(b.maxTs);
  }
  section(out, SECTION.blocks, blk);
  const st = new ByteWriter();
  const kinds = KINDS.filter((k) => f.stats[k] !== undefined);
  st.varint(kinds.length);
  for (const k of kinds) {
    const s = f.stats[k]!;
    st.u8(KIND_ID[k]);
    st.u64(s.rows);
    st.u64(s.blocks);
    st.u64(s.rawBytes);
    st.u64(s.storedBytes);
  }
  section(out, SECTION.stats, st);
  const dg = new ByteWriter(40);
  dg.u8(DIGEST_SHA256);
  dg.u8(f.digest.length);
  dg.bytes(f.digest);
  section(out, SECTION.digest, dg);
  return out.finish();
}

export function encodeTrailer(t: Trailer): Uint8Array {
  const w = new ByteWriter(TRAILER_BYTES);
  w.u64(t.footerOffset);
  w.u32(t.footerLength);
  w.u32(t.footerCrc);
  w.u64(t.fileLength);
  for (let i = 0; i < 8; i++) w.u8(TRAILER_MAGIC.charCodeAt(i));
  return w.finish();
}

/** Parses the last 32 bytes of a file of `fileSize` bytes; null-free: throws E_TAPE_NO_TRAILER when absent. */
export function decodeTrailer(buf: Uint8Array, fileSize: number, headerLength: number): Trailer {
  const at = fileSize - TRAILER_BYTES;
  const noTrailer = (why: string): never => {
    throw new TapeError("E_TAPE_NO_TRAILER", why, { offset: Math.max(0, at), field: "trailer" });
  };
  if (buf.length !== TRAILER_BYTES) noTrailer("file too short for a trailer");
  for (let i = 0; i < 8; i++) {
    if (buf[24 + i] !== TRAILER_MAGIC.charCodeAt(i)) noTrailer("no trailer (the file was not sealed)");
  }
  const view = new DataView(buf.buffer, buf.byteOffset, TRAILER_BYTES);
  // u64 fields as doubles: one of 2^53 or more is inexact, but cannot equal the file's size or end at its trailer
  // either, so the checks below find it.
  const u64 = (p: number) => view.getUint32(p + 4, true) * 2 ** 32 + view.getUint32(p, true);
  const footerOffset = u64(0);
  const footerLength = view.getUint32(8, true);
  const footerCrc = view.getUint32(12, true);
  const fileLength = u64(16);
  if (fileLength !== fileSize) noTrailer(`trailer says the file has ${fileLength} bytes, it has ${fileSize}`);
  if (footerOffset < headerLength || footerOffset + footerLength !== at || footerLength > MAX_FOOTER_BYTES) {
    noTrailer(`trailer locates the footer at ${footerOffset}+${footerLength}, which does not end at ${at}`);
  }
  return { footerOffset, footerLength, footerCrc, fileLength };
}

export function decodeFooter(buf: Uint8Array, trailer: Trailer): Footer {
  const at = trailer.footerOffset;
  if (crc32c(buf) !== trailer.footerCrc) {
    throw new TapeError("E_TAPE_CRC", "footer CRC32C mismatch", { offset: at, field: "footer.crc" });
  }
  const r = new ByteReader(buf, 0, buf.length, at);
  if (r.u32("footer.magic") !== FOOTER_MAGIC) r.fail("no footer magic", "footer.magic");
  let symbols: string[] | null = null;
  let entries: ByteReader | null = null;
  let stats: Partial<Record<Kind, KindStats>> = {};
  let digest: Uint8Array | null = null;
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const tag = r.u8("footer.section");
    const len = r.u32("footer.sectionLength");
    r.need(len, "footer.section");
    // A known section given twice: either copy could be the one meant.
    if (KNOWN_SECTIONS.has(tag) && seen.has(tag))
      r.fail(`footer section ${tag} given twice`, "footer.section");
    seen.add(tag);
    const s = new ByteReader(buf, r.pos, r.pos + len, at);
    r.pos += len;
    if (tag === SECTION.symbols) {
      const n = s.bounded("symbols.count", len);
      symbols = [];
      for (let i = 0; i < n; i++)
        symbols.push(s.text(s.bounded("symbol.length", MAX_SYMBOL_BYTES), "symbol"));
    } else if (tag === SECTION.blocks) entries = s;
    else if (tag === SECTION.stats) stats = decodeStats(s, len);
    else if (tag === SECTION.digest) {
      const alg = s.u8("digest.algorithm");
      const n = s.u8("digest.length");
      if (alg !== DIGEST_SHA256 || n !== 32) s.fail(`unknown digest algorithm ${alg}/${n}`, "digest");
      digest = new Uint8Array(s.bytes(n, "digest"));
    }
  }
  if (symbols === null || entries === null || digest === null) {
    throw new TapeError("E_TAPE_CORRUPT", "footer lacks a required section", { offset: at, field: "footer" });
  }
  const blocks = decodeBlockEntries(entries, symbols, entries.remaining);
  return { symbols, blocks, stats, digest };
}

function decodeStats(s: ByteReader, len: number): Partial<Record<Kind, KindStats>> {
  const stats: Partial<Record<Kind, KindStats>> = {};
  const n = s.bounded("stats.count", len);
  for (let i = 0; i < n; i++) {
    const kind = KIND_BY_ID.get(s.u8("stats.kind"));
    const row = {
      rows: s.u64("stats.rows"),
      blocks: s.u64("stats.blocks"),
      rawBytes: s.u64("stats.rawBytes"),
      storedBytes: s.u64("stats.storedBytes"),
    };
    if (kind !== undefined) stats[kind] = row;
  }
  return stats;
}

function decodeBlockEntries(s: ByteReader, symbols: string[], bytes: number): BlockHeader[] {
  const n = s.bounded("blocks.count", Math.floor(bytes / BLOCK_ENTRY_BYTES));
  const blocks: BlockHeader[] = [];
  for (let i = 0; i < n; i++) {
    const offset = s.u64("block.offset");
    const length = s.u32("block.length");
    const symbolId = s.u32("block.symbolId");
    const kindId = s.u8("block.kind");
    const codecId = s.u8("block.codec");
    const rowCount = s.u32("block.rowCount");
    const rawLength = s.u32("block.rawLength");
    const minTs = s.i64("block.minTs");
    const maxTs = s.i64("block.maxTs");
    // Checked before any read of the block: a block is read whole, in one buffer.
    if (length > MAX_BLOCK_BYTES) s.fail(`block length ${length} exceeds ${MAX_BLOCK_BYTES}`, "block.length");
    const symbol = symbols[symbolId];
    if (symbol === undefined) s.fail(`symbol id ${symbolId} not in the dictionary`, "block.symbolId");
    blocks.push({
      offset,
      length,
      kind: KIND_BY_ID.get(kindId) ?? null,
      kindId,
      codecId,
      flags: 0,
      symbolId,
      symbol,
      rowCount,
      rawLength,
      minTs,
      maxTs,
      headerLength: BLOCK_FIXED_HEADER + utf8(symbol).length,
    });
  }
  return blocks;
}
