/**
 * TapeReader: opens a tape through its trailer and footer (one footer read, then one read per block), or, when
 * the trailer is missing or bad, by a forward scan that keeps every whole block whose CRC holds.
 */
import { createHash } from "node:crypto";
import {
  BLOCK_FIXED_HEADER,
  type BlockHeader,
  checkBlockCrc,
  type DecodedBlock,
  decodeBlock,
  decodeBlockHeader,
  MAX_SYMBOL_BYTES,
} from "./block.js";
import { type Checkpoint, decodeCheckpoint } from "./checkpoint.js";
import { isFileDamage, TapeError } from "./errors.js";
import { decodeFooter, decodeTrailer, FOOTER_MAGIC, type Footer, TRAILER_BYTES } from "./footer.js";
import { checkPreamble, decodeHeader, type FileHeader, MAX_HEADER_BYTES } from "./header.js";
import type { Kind, Row, TapeRecord } from "./records.js";
import { blockRecords, blockRows } from "./rows.js";
import { CHECKPOINT_KIND_ID } from "./schema.js";
import { FileSource, type RangeSource } from "./source.js";

export interface TapeFilter {
  symbols?: readonly string[];
  kinds?: readonly Kind[];
  /** Inclusive lower bound on the exchange timestamp, ns. */
  from?: bigint;
  /** Exclusive upper bound on the exchange timestamp, ns. */
  to?: bigint;
}

/** Told of a block passed over because it failed its checks (its error names the file and offset). */
export type OnDamagedBlock = (err: TapeError, block: BlockHeader) => void;

export interface Recovery {
  /** Why the footer could not be used. */
  reason: TapeError;
  /** Why the scan stopped (null when it reached the end of the file exactly). */
  stop: TapeError | null;
  /** End of the last valid block: everything before it is readable. */
  validEnd: number;
  /** Bytes after `validEnd` that hold no valid block. */
  droppedBytes: number;
}

/**
 * What a file read by the recovery scan lost, as the error a reader stops with (null: nothing). A `.tape.open`
 * being written is read by the scan as a matter of course and loses nothing unless its tail is torn; a sealed name
 * without a usable footer has lost its footer at least.
 */
export function recoveryLoss(recovery: Recovery | null, file: string, open: boolean): TapeError | null {
  if (recovery === null || (open && recovery.stop === null)) return null;
  const cause = recovery.stop ?? recovery.reason;
  const message = `${open ? "torn tail" : "unsealed file"}: ${recovery.droppedBytes} bytes after offset ${recovery.validEnd} hold no valid block (${cause.reason})`;
  return new TapeError(open ? "E_TAPE_TRUNCATED" : cause.code, message, { file, offset: recovery.validEnd });
}

export interface VerifyIssue {
  offset: number;
  code: string;
  message: string;
}
export interface VerifyReport {
  file: string;
  ok: boolean;
  sealed: boolean;
  blocks: number;
  rows: number;
  digest: "ok" | "mismatch" | "absent";
  issues: VerifyIssue[];
  /** Offset of the first problem, or null. */
  firstBadOffset: number | null;
}

export interface OpenOptions {
  /** Use a forward scan when the trailer or footer is missing or bad (default true). */
  recover?: boolean;
}

const SCAN_HEADER_BYTES = BLOCK_FIXED_HEADER + MAX_SYMBOL_BYTES;

export class TapeReader {
  private constructor(
    readonly source: RangeSource,
    readonly header: FileHeader,
    readonly footer: Footer | null,
    /** Every block, in file order. */
    readonly blocks: readonly BlockHeader[],
    readonly recovery: Recovery | null,
    readonly footerOffset: number,
  ) {}

  get name(): string {
    return this.source.name;
  }
  get size(): number {
    return this.source.size;
  }
  /** True when the file was opened through a valid trailer and footer. */
  get sealed(): boolean {
    return this.footer !== null;
  }
  /** Symbols in first-use order. */
  get symbols(): string[] {
    if (this.footer !== null) return this.footer.symbols;
    const seen: string[] = [];
    for (const b of this.blocks) if (!seen.includes(b.symbol)) seen.push(b.symbol);
    return seen;
  }

  static async open(target: string | RangeSource, options: OpenOptions = {}): Promise<TapeReader> {
    const source = typeof target === "string" ? await FileSource.open(target) : target;
    try {
      return await TapeReader.openSource(source, options.recover ?? true);
    } catch (err) {
      await source.close();
      throw locate(err, source.name);
    }
  }

  private static async openSource(source: RangeSource, recover: boolean): Promise<TapeReader> {
    const first = await source.read(0, Math.min(source.size, 16));
    const pre = checkPreamble(first);
    if (source.size < pre.length) {
      throw new TapeError("E_TAPE_TRUNCATED", `header needs ${pre.length} bytes`, {
        offset: 0,
        field: "header",
      });
    }
    const header = decodeHeader(await source.read(0, Math.min(pre.length, MAX_HEADER_BYTES)));
    let reason: TapeError;
    try {
      const { footer, footerOffset } = await readFooter(source, header.length);
      return new TapeReader(source, header, footer, footer.blocks, null, footerOffset);
    } catch (err) {
      if (!isFileDamage(err)) throw err;
      reason = err;
    }
    if (!recover) throw reason;
    const scan = await scanBlocks(source, header.length);
    const recovery: Recovery = {
      reason,
      stop: scan.stop,
      validEnd: scan.end,
      droppedBytes: source.size - scan.end,
    };
    return new TapeReader(source, header, null, scan.blocks, recovery, scan.end);
  }

  /** The blocks a filter needs, in file order, chosen from the index alone. */
  selectBlocks(filter: TapeFilter = {}): BlockHeader[] {
    const { symbols, kinds, from, to } = filter;
    return this.blocks.filter(
      (b) =>
        b.kind !== null &&
        (symbols === undefined || symbols.includes(b.symbol)) &&
        (kinds === undefined || kinds.includes(b.kind)) &&
        (from === undefined || b.maxTs >= from) &&
        (to === undefined || b.minTs < to),
    );
  }

  /** The book checkpoint blocks (format 1.1) of a symbol, or of every symbol, in file order. */
  checkpointBlocks(symbol?: string): BlockHeader[] {
    return this.blocks.filter(
      (b) => b.kindId === CHECKPOINT_KIND_ID && (symbol === undefined || b.symbol === symbol),
    );
  }

  /** Reads, checks and decodes a checkpoint block. */
  async readCheckpoint(block: BlockHeader): Promise<Checkpoint> {
    try {
      return decodeCheckpoint(await this.readBlock(block));
    } catch (err) {
      throw locate(err, this.name);
    }
  }

  /** Reads, checks (CRC) and decodes one block. */
  async readBlock(block: BlockHeader): Promise<DecodedBlock> {
    return this.decodeFetched(block, await this.fetchBlock(block));
  }

  /** The stored bytes of a block, unchecked (to read ahead; `decodeFetched` checks and decodes them). */
  async fetchBlock(block: BlockHeader): Promise<Uint8Array> {
    try {
      return await this.source.read(block.offset, block.length);
    } catch (err) {
      throw locate(err, this.name);
    }
  }

  /** Bytes of the file into `target`, unchecked (several neighbouring blocks in one read). */
  async fetchRange(offset: number, length: number, target: Uint8Array): Promise<void> {
    try {
      if (this.source.readInto !== undefined) await this.source.readInto(offset, length, target);
      else target.set(await this.source.read(offset, length));
    } catch (err) {
      throw locate(err, this.name);
    }
  }

  /** Checks (header against the index, CRC) and decodes the bytes `fetchBlock` returned. */
  decodeFetched(block: BlockHeader, bytes: Uint8Array): DecodedBlock {
    try {
      return decodeBlock(bytes, this.headerInFile(block, bytes));
    } catch (err) {
      throw locate(err, this.name);
    }
  }

  /** The header of a block's bytes, checked against the index entry it was reached by. */
  private headerInFile(block: BlockHeader, bytes: Uint8Array): BlockHeader {
    const inFile = decodeBlockHeader(bytes, 0, block.offset, this.source.size);
    if (!sameBlock(inFile, block)) {
      throw new TapeError("E_TAPE_CORRUPT", "block header disagrees with the footer index", {
        offset: block.offset,
        field: "block",
      });
    }
    return inFile;
  }

  /**
   * Checks a block as `verify` does and returns the rows it holds (0 for a checkpoint): a block of a record kind
   * is decoded, a checkpoint is decoded with its own checks (§6.5), and a block of a kind this reader does not
   * know (a later minor version) is checked by its header and CRC.
   */
  async checkBlock(block: BlockHeader): Promise<number> {
    if (block.kindId === CHECKPOINT_KIND_ID) {
      await this.readCheckpoint(block);
      return 0;
    }
    if (block.kind !== null) {
      await this.readBlock(block);
      return block.rowCount;
    }
    const bytes = await this.fetchBlock(block);
    try {
      checkBlockCrc(bytes, this.headerInFile(block, bytes));
    } catch (err) {
      throw locate(err, this.name);
    }
    return 0;
  }

  /**
   * Decoded blocks matching the filter, in file order. With `onDamaged`, a block that fails its checks (a bad CRC,
   * codec or column: `isFileDamage`) is handed to it and passed over instead of thrown; a failure to read (I/O,
   * S3) still throws.
   */
  async *decodedBlocks(filter: TapeFilter = {}, onDamaged?: OnDamagedBlock): AsyncGenerator<DecodedBlock> {
    for (const b of this.selectBlocks(filter)) {
      let block: DecodedBlock;
      try {
        block = await this.readBlock(b);
      } catch (err) {
        if (onDamaged === undefined || !isFileDamage(err)) throw err;
        onDamaged(err, b);
        continue;
      }
      yield block;
    }
  }

  /** Row objects (number fields), block by block in file order, rows within the time range. */
  async *rows(filter: TapeFilter = {}, onDamaged?: OnDamagedBlock): AsyncGenerator<Row> {
    for await (const block of this.decodedBlocks(filter, onDamaged)) {
      const rows = blockRows(block, this.header.exchange);
      const keep = timeMask(block, filter);
      for (let i = 0; i < rows.length; i++) if (keep === null || keep(i)) yield rows[i]!;
    }
  }

  /** Exact records (bigint timestamps, canonical decimal strings), in the same order as `rows`. */
  async *records(filter: TapeFilter = {}, onDamaged?: OnDamagedBlock): AsyncGenerator<TapeRecord> {
    for await (const block of this.decodedBlocks(filter, onDamaged)) {
      const records = blockRecords(block);
      const keep = timeMask(block, filter);
      for (let i = 0; i < records.length; i++) if (keep === null || keep(i)) yield records[i]!;
    }
  }

  /**
   * Checks every block (CRC, codec, columns), the block tiling, and the file digest. `onProgress` is called
   * with bytes checked so far and the total (the blocks, then the digest pass over the same bytes).
   */
  async verify(options: { onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
    const total = this.footerOffset * (this.footer === null ? 1 : 2);
    const report = options.onProgress ?? (() => {});
    const issues: VerifyIssue[] = [];
    // Each issue is placed where the damaged unit starts (a block, the footer): everything before it is
    // intact. The message keeps the exact offset and field.
    const note = (err: unknown, offset: number) => {
      const e = err instanceof TapeError ? err : new TapeError("E_TAPE_CORRUPT", String(err), { offset });
      issues.push({ offset, code: e.code, message: e.message });
    };
    if (this.recovery !== null)
      note(this.recovery.reason, this.recovery.reason.offset ?? this.recovery.validEnd);
    let expected = this.header.length;
    let rows = 0;
    for (const b of this.blocks) {
      if (b.offset !== expected) {
        note(
          new TapeError("E_TAPE_CORRUPT", `block at ${b.offset}, expected one at ${expected}`, {
            offset: expected,
          }),
          expected,
        );
      }
      expected = b.offset + b.length;
      try {
        rows += await this.checkBlock(b);
      } catch (err) {
        note(err, b.offset);
      }
      report(expected, total);
    }
    let digest: VerifyReport["digest"] = "absent";
    if (this.footer !== null) {
      if (expected !== this.footerOffset) {
        note(
          new TapeError("E_TAPE_CORRUPT", "bytes between the last block and the footer", {
            offset: expected,
          }),
          expected,
        );
      }
      const actual = await sha256(this.source, this.footerOffset, (done) =>
        report(this.footerOffset + done, total),
      );
      digest = Buffer.compare(actual, this.footer.digest) === 0 ? "ok" : "mismatch";
      if (digest === "mismatch") {
        // The digest says only that some byte differs: it points at the first damage found otherwise, or,
        // when nothing else caught it, at the start of the file.
        const first = issues.reduce((m, i) => Math.min(m, i.offset), Number.POSITIVE_INFINITY);
        const at = Number.isFinite(first) ? first : 0;
        note(
          new TapeError("E_TAPE_DIGEST", "file digest (SHA-256) mismatch", {
            offset: at,
            field: "footer.digest",
          }),
          at,
        );
      }
    } else if (this.recovery?.stop) note(this.recovery.stop, this.recovery.validEnd);
    issues.sort((a, b) => a.offset - b.offset);
    return {
      file: this.name,
      ok: issues.length === 0 && this.footer !== null,
      sealed: this.footer !== null,
      blocks: this.blocks.length,
      rows,
      digest,
      issues,
      firstBadOffset: issues[0]?.offset ?? null,
    };
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

function sameBlock(a: BlockHeader, b: BlockHeader): boolean {
  return (
    a.length === b.length &&
    a.kindId === b.kindId &&
    a.codecId === b.codecId &&
    a.symbolId === b.symbolId &&
    a.symbol === b.symbol &&
    a.rowCount === b.rowCount &&
    a.rawLength === b.rawLength &&
    a.minTs === b.minTs &&
    a.maxTs === b.maxTs
  );
}

function locate(err: unknown, file: string): unknown {
  return err instanceof TapeError ? err.inFile(file) : err;
}

/** A row predicate for the filter's time range, or null when every row of the block is inside it. */
function timeMask(block: DecodedBlock, filter: TapeFilter): ((i: number) => boolean) | null {
  const { from, to } = filter;
  const h = block.header;
  if ((from === undefined || h.minTs >= from) && (to === undefined || h.maxTs < to)) return null;
  const ts = block.columns["ts"];
  if (ts === undefined || ts.type !== "int") return null;
  // Compare exact offsets from the block's base; bounds beyond the block's span clamp to +-Infinity.
  const rel = (t: bigint | undefined, dflt: number) => {
    if (t === undefined) return dflt;
    const d = t - ts.base;
    return d > 9007199254740991n
      ? Number.POSITIVE_INFINITY
      : d < -9007199254740991n
        ? Number.NEGATIVE_INFINITY
        : Number(d);
  };
  const lo = rel(from, Number.NEGATIVE_INFINITY);
  const hi = rel(to, Number.POSITIVE_INFINITY);
  const off = ts.offsets;
  return (i) => off[i]! >= lo && off[i]! < hi;
}

async function readFooter(
  source: RangeSource,
  headerLength: number,
): Promise<{ footer: Footer; footerOffset: number }> {
  if (source.size < headerLength + TRAILER_BYTES) {
    throw new TapeError("E_TAPE_NO_TRAILER", "file too short for a trailer", {
      offset: source.size,
      field: "trailer",
    });
  }
  const trailer = decodeTrailer(
    await source.read(source.size - TRAILER_BYTES, TRAILER_BYTES),
    source.size,
    headerLength,
  );
  const footer = decodeFooter(await source.read(trailer.footerOffset, trailer.footerLength), trailer);
  let expected = headerLength;
  for (const b of footer.blocks) {
    if (b.offset < expected || b.offset + b.length > trailer.footerOffset) {
      throw new TapeError(
        "E_TAPE_CORRUPT",
        `footer lists a block at ${b.offset}+${b.length} outside the body`,
        {
          offset: trailer.footerOffset,
          field: "footer.blocks",
        },
      );
    }
    expected = b.offset + b.length;
  }
  return { footer, footerOffset: trailer.footerOffset };
}

/** Bytes the forward scan reads at a time: over S3, one ranged GET for many blocks instead of one each. */
const SCAN_WINDOW_BYTES = 8 * 1024 * 1024;

/** Forward scan from the first block: stops at the first thing that is not a whole block with a valid CRC. */
async function scanBlocks(
  source: RangeSource,
  start: number,
): Promise<{ blocks: BlockHeader[]; end: number; stop: TapeError | null }> {
  const blocks: BlockHeader[] = [];
  const symbolOf = new Map<number, string>();
  let window: Uint8Array = new Uint8Array(0);
  let windowStart = start;
  /** `length` bytes at `offset`, from the window, which moves to `offset` when they are not all in it. */
  const bytesAt = async (offset: number, length: number): Promise<Uint8Array> => {
    if (offset < windowStart || offset + length > windowStart + window.length) {
      windowStart = offset;
      window = await source.read(offset, Math.min(Math.max(SCAN_WINDOW_BYTES, length), source.size - offset));
    }
    return window.subarray(offset - windowStart, offset - windowStart + length);
  };
  let pos = start;
  while (pos < source.size) {
    try {
      const head = await bytesAt(pos, Math.min(SCAN_HEADER_BYTES, source.size - pos));
      if (
        head.length >= 4 &&
        new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === FOOTER_MAGIC
      ) {
        throw new TapeError("E_TAPE_NO_TRAILER", "reached a footer that could not be used", { offset: pos });
      }
      const h = decodeBlockHeader(head, 0, pos, source.size);
      // The CRC first: a damaged symbol is reported as the damage it is, not as a second symbol for the id.
      checkBlockCrc(await bytesAt(pos, h.length), h);
      const known = symbolOf.get(h.symbolId);
      if (known !== undefined && known !== h.symbol) {
        throw new TapeError("E_TAPE_CORRUPT", `symbol id ${h.symbolId} names two symbols`, {
          offset: pos,
          field: "block.symbolId",
        });
      }
      symbolOf.set(h.symbolId, h.symbol);
      blocks.push(h);
      pos += h.length;
    } catch (err) {
      if (!isFileDamage(err)) throw err;
      return { blocks, end: pos, stop: err };
    }
  }
  return { blocks, end: pos, stop: null };
}

async function sha256(source: RangeSource, end: number, onProgress: (done: number) => void): Promise<Buffer> {
  const hash = createHash("sha256");
  const chunk = 8 * 1024 * 1024;
  for (let at = 0; at < end; at += chunk) {
    hash.update(await source.read(at, Math.min(chunk, end - at)));
    onProgress(Math.min(end, at + chunk));
  }
  return hash.digest();
}
