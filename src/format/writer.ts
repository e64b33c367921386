/**
 * TapeWriter: appends records, buffers them per (symbol, kind), emits blocks by the block policy, and seals the
 * file (footer, trailer, fsync, atomic rename of `NAME.tape.open` to `NAME.tape`).
 */
import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFully } from "../common/write-fully.js";
import {
  BLOCK_FIXED_HEADER,
  type BlockHeader,
  type BlockInput,
  encodeBlock,
  MAX_SYMBOL_BYTES,
} from "./block.js";
import { BlockIndex } from "./block-index.js";
import { BookState, NO_RECV } from "./book-state.js";
import { ByteWriter, hasLoneSurrogate, utf8 } from "./bytes.js";
import { CODEC_ID, type Codec, DEFAULT_ZSTD_LEVEL } from "./codecs.js";
import { crc32c } from "./crc32c.js";
import type { Decimal } from "./decimal.js";
import { TapeError, TapeValueError } from "./errors.js";
import { encodeFooter, encodeTrailer, statsOf, TRAILER_BYTES } from "./footer.js";
import { encodeHeader, FORMAT_MINOR, type HeaderInput } from "./header.js";
import { type BookBatch, KindBuffer, type TradeBatch, toTimestamp } from "./kind-buffer.js";
import { BOOK_SIDES, KIND_ID, KINDS, type Kind, type RecordInput, TRADE_SIDES } from "./records.js";
import { BOOK_FLAG_SNAPSHOT, CHECKPOINT_KIND_ID } from "./schema.js";

/** When a buffered (symbol, kind) becomes a block. */
export interface BlockPolicy {
  /** A block closes at this many rows. */
  maxRows: number;
  /** ... or when its string/byte columns hold about this many bytes. */
  maxBytes: number;
  /**
   * Blocks hold whole intervals of record time (ns; intervals are counted from the Unix epoch, so whole UTC
   * minutes by default): a (symbol, kind) buffer becomes a block when one of its records reaches the next
   * interval, and a query for a minute meets one block per (symbol, kind) instead of two. A buffer still holding
   * an interval older than the last one is written out when record time moves on (a series that went quiet), so
   * no record waits in memory longer than two intervals: the most a crash of the writing process can lose.
   */
  flushIntervalNs: number;
  /**
   * A checkpoint of each symbol's order book (format 1.1) is written when record time has advanced this far
   * (ns) since the last one, so that a reader finds the book at any instant without replaying the hour. 0: none
   * (the file is then a 1.0 file).
   */
  checkpointIntervalNs: number;
  /**
   * ... and only once the symbol's book rows since its last checkpoint number at least this many times the book's
   * levels: a checkpoint then costs at most 1/this of a row per update (a quiet symbol with a deep book is not
   * stored whole every interval), and a reader replays at most an interval or this many times the levels.
   */
  checkpointRowsPerLevel: number;
}

export const DEFAULT_BLOCK_POLICY: Readonly<BlockPolicy> = Object.freeze({
  maxRows: 32_768,
  maxBytes: 4 * 1024 * 1024,
  flushIntervalNs: 60e9,
  checkpointIntervalNs: 60e9,
  checkpointRowsPerLevel: 16,
});
export const DEFAULT_CODEC: Codec = "zstd";
/** Largest `policy.maxBytes`: a block's string/byte columns stay well inside the 64 MiB body limit. */
const MAX_POLICY_BYTES = 16 * 1024 * 1024;

export interface TapeWriterOptions {
  exchange?: string;
  captureId?: string;
  periodStart?: bigint;
  periodEnd?: bigint;
  meta?: Record<string, string>;
  codec?: Codec;
  zstdLevel?: number;
  policy?: Partial<BlockPolicy>;
  /**
   * Retry a failed write (disk full, I/O error) at the same offset after a growing pause instead of failing the
   * writer: the bytes stay in memory (see `unwrittenBytes`) until the disk takes them. `onWriteError` hears about
   * each failure; the default is to fail the writer on the first.
   */
  retryWrites?: { onWriteError(error: unknown, attempt: number): void; maxDelayMs?: number };
  /**
   * A pause after each block a flush encodes, in ms (default 0: the event loop's next turn). A live writer sharing a
   * core with its sockets spreads a flush's compression this way, so that frames do not wait behind all of it.
   */
  flushPauseMs?: number;
  /** Opens the file (default `fs.promises.open`): lets tests inject I/O errors into a real file. */
  openFile?(path: string, flags: string): Promise<FileHandle>;
}

export interface SealSummary {
  path: string;
  bytes: number;
  blocks: number;
  rows: number;
}

/** A buffer that held records when a flush started, and the blocks it had made by then. */
interface PendingBuffer {
  buffer: KindBuffer;
  blocks: number;
}

/**
 * The I/O-free core of the writer: records in, file bytes out (through `sink`). TapeWriter wraps it with a file;
 * tests and fixtures use it directly to build files in memory.
 */
export class TapeEncoder {
  readonly policy: BlockPolicy;
  readonly codec: Codec;
  private readonly zstdLevel: number;
  /** Every (kind, symbol) buffer, in order of first use (the order blocks are flushed in). */
  private readonly buffers: KindBuffer[] = [];
  /** The same buffers by kind, then symbol. */
  private readonly buffersByKind = new Map<Kind, Map<string, KindBuffer>>(KINDS.map((k) => [k, new Map()]));
  private readonly symbolIds = new Map<string, number>();
  readonly symbols: string[] = [];
  /** The blocks written so far (the footer's index). */
  readonly index = new BlockIndex(this.symbols);
  /** The same as headers (made on each call: `index` is cheaper for counts). */
  get blocks(): readonly BlockHeader[] {
    return this.index.toArray();
  }
  private readonly hash: Hash = createHash("sha256");
  private readonly scratch = new ByteWriter(1 << 20);
  /** Bytes emitted so far (the next block's offset). */
  offset: number;
  rows = 0;
  /** End of the flush interval that record time is in (null before the first record). */
  private nextFlushTs: bigint | null = null;
  /** Null: never flush on time. */
  private readonly flushInterval: bigint | null;
  private sealed = false;
  /** Each symbol's book, for checkpoints; null when the policy writes none. */
  private readonly books: Map<string, BookState> | null;
  private readonly checkpointInterval: number;
  private readonly checkpointRowsPerLevel: number;

  constructor(
    header: HeaderInput,
    private readonly sink: (bytes: Uint8Array) => void,
    options: { codec?: Codec; zstdLevel?: number; policy?: Partial<BlockPolicy> } = {},
  ) {
    this.policy = { ...DEFAULT_BLOCK_POLICY, ...options.policy };
    const { maxRows, maxBytes, flushIntervalNs } = this.policy;
    checkCount("maxRows", maxRows);
    if (!(maxBytes >= 1 && maxBytes <= MAX_POLICY_BYTES)) {
      throw new TapeError("E_TAPE_VALUE", `policy.maxBytes must be in [1, ${MAX_POLICY_BYTES}]`, {
        field: "policy.maxBytes",
      });
    }
    if (
      !(
        flushIntervalNs === Number.POSITIVE_INFINITY ||
        (Number.isInteger(flushIntervalNs) && flushIntervalNs > 0)
      )
    ) {
      throw new TapeError(
        "E_TAPE_VALUE",
        "policy.flushIntervalNs must be a positive integer or Infinity (never)",
        {
          field: "policy.flushIntervalNs",
        },
      );
    }
    this.flushInterval = flushIntervalNs === Number.POSITIVE_INFINITY ? null : BigInt(flushIntervalNs);
    const { checkpointIntervalNs } = this.policy;
    if (!(Number.isSafeInteger(checkpointIntervalNs) && checkpointIntervalNs >= 0)) {
      throw new TapeError("E_TAPE_VALUE", "policy.checkpointIntervalNs must be an integer >= 0 (0: none)", {
        field: "policy.checkpointIntervalNs",
      });
    }
    this.checkpointInterval = checkpointIntervalNs;
    this.checkpointRowsPerLevel = checkCount("checkpointRowsPerLevel", this.policy.checkpointRowsPerLevel);
    this.books = checkpointIntervalNs > 0 ? new Map() : null;
    this.codec = options.codec ?? DEFAULT_CODEC;
    if (CODEC_ID[this.codec] === undefined) {
      throw new TapeError("E_TAPE_VALUE", `unknown codec ${this.codec}`, { field: "codec" });
    }
    this.zstdLevel = options.zstdLevel ?? DEFAULT_ZSTD_LEVEL;
    // A writer that writes no checkpoints writes a 1.0 file.
    const bytes = encodeHeader(header, this.books === null ? 0 : FORMAT_MINOR);
    this.offset = 0;
    this.emit(bytes);
  }

  private emit(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.offset += bytes.length;
    this.sink(bytes);
  }

  private buffer(kind: Kind, symbol: string): KindBuffer {
    const bySymbol = this.buffersByKind.get(kind)!;
    let b = bySymbol.get(symbol);
    if (b === undefined) {
      checkSymbol(symbol);
      b = new KindBuffer(kind, symbol);
      bySymbol.set(symbol, b);
      this.buffers.push(b);
    }
    return b;
  }

  /** Symbol ids are given when a symbol's first block is written, so a rejected record leaves no trace. */
  private symbolId(symbol: string): number {
    let id = this.symbolIds.get(symbol);
    if (id === undefined) {
      id = this.symbols.length;
      this.symbols.push(symbol);
      this.symbolIds.set(symbol, id);
    }
    return id;
  }

  private checkOpen(): void {
    if (this.sealed) throw new TapeError("E_TAPE_STATE", "the file is sealed");
  }

  /** Adds one record. Invalid values throw TapeValueError and leave everything buffered untouched. */
  append(rec: RecordInput): void {
    this.checkOpen();
    if (typeof rec !== "object" || rec === null)
      throw new TapeValueError("expected a record object", "record");
    if (!(KINDS as readonly unknown[]).includes(rec.kind)) {
      throw new TapeValueError(
        `unknown kind ${JSON.stringify(rec.kind)} (kinds: ${KINDS.join(", ")})`,
        "kind",
      );
    }
    const b = this.buffer(rec.kind, rec.symbol);
    const ts = toTimestamp(rec.ts, "ts");
    this.cutAtInterval(b, ts);
    if (!b.add(rec, ts)) {
      this.emitBlock(b);
      if (!b.add(rec, ts))
        throw new TapeError("E_TAPE_VALUE", "record does not fit in an empty block", { field: "kind" });
    }
    this.rows++;
    if (this.books !== null) {
      // The record is valid (the buffer took it): its values parse.
      if (rec.kind === "book") {
        const state = this.bookOf(rec.symbol);
        // The buffer parsed them already.
        const price = b.lastPrice!;
        const size = b.lastSize!;
        this.applyBook(
          rec.symbol,
          state,
          state.relative(b.lastTs),
          rec.recvTs === undefined ? NO_RECV : state.relative(BigInt(rec.recvTs)),
          rec.seq === undefined ? undefined : BigInt(rec.seq),
          rec.side === "bid" ? 0 : 1,
          price,
          size,
          rec.snapshot,
        );
      } else if (rec.kind === "event") {
        const state = this.bookOf(rec.symbol);
        const recv = rec.recvTs === undefined ? NO_RECV : state.relative(BigInt(rec.recvTs));
        state.applyEvent(state.relative(b.lastTs), recv, rec.type);
      }
    }
    this.afterAdd(b, b.lastTs);
  }

  private bookOf(symbol: string): BookState {
    let state = this.books!.get(symbol);
    if (state === undefined) {
      state = new BookState();
      this.books!.set(symbol, state);
    }
    return state;
  }

  /** Applies a book row to the symbol's book, writing a checkpoint first when one is due (times relative). */
  private applyBook(
    symbol: string,
    state: BookState,
    ts: number,
    recv: number,
    seq: bigint | undefined,
    side: number,
    price: Decimal,
    size: Decimal,
    snapshot: boolean,
  ): void {
    if (state.due(ts, this.checkpointInterval, this.checkpointRowsPerLevel)) {
      const input = state.checkpoint(symbol, this.symbolId(symbol));
      if (input !== null) this.writeBlock(input);
    }
    state.applyBook(ts, recv, seq, side, price.mantissa, price.scale, size.mantissa, size.scale, snapshot);
  }

  /** Adds a batch of trades or book rows given as columns (the fast path for bulk conversion). */
  appendBatch(kind: "trade" | "book", symbol: string, batch: TradeBatch | BookBatch, count: number): void {
    this.checkOpen();
    if (kind !== "trade" && kind !== "book")
      throw new TapeValueError(`batches hold trades or book rows, not ${kind}`, "kind");
    checkBatch(kind, batch, count);
    const b = this.buffer(kind, symbol);
    const ts = batch.ts.offsets;
    let from = 0;
    let chunkLimit = Number.POSITIVE_INFINITY;
    while (from < count) {
      let n = Math.min(count - from, this.policy.maxRows - b.rows, chunkLimit);
      // Stop at the row whose time reaches the buffer's next interval.
      this.cutAtInterval(b, batch.ts.base + BigInt(ts[from]!));
      const limit = b.intervalEnd === null ? Number.POSITIVE_INFINITY : Number(b.intervalEnd - batch.ts.base);
      for (let i = from; i < from + n; i++) {
        if (ts[i]! >= limit) {
          n = Math.max(1, i - from);
          break;
        }
      }
      if (!b.addBatch(batch, from, n)) {
        if (b.rows > 0) this.emitBlock(b);
        else if (n === 1)
          throw new TapeError("E_TAPE_VALUE", "row does not fit in an empty block", { field: kind });
        // Values too far apart for one block: retry with fewer rows.
        else chunkLimit = Math.ceil(n / 2);
        continue;
      }
      if (this.books !== null && kind === "book") this.applyBookBatch(symbol, batch as BookBatch, from, n);
      from += n;
      this.rows += n;
      this.afterAdd(b, batch.ts.base + BigInt(ts[from - 1]!));
    }
  }

  private applyBookBatch(symbol: string, batch: BookBatch, from: number, n: number): void {
    const { ts, recvTs, price, size, side, flags, seq } = batch;
    const state = this.bookOf(symbol);
    // Offsets are exact within the batch: one shift per batch puts them on the state's origin.
    const tsShift = state.relative(ts.base);
    const recvShift = recvTs === undefined ? 0 : state.relative(recvTs.base);
    const interval = this.checkpointInterval;
    for (let i = from; i < from + n; i++) {
      const t = state.checkExact(tsShift + ts.offsets[i]!);
      const r = recvTs === undefined ? NO_RECV : state.checkExact(recvShift + recvTs.offsets[i]!);
      if (state.due(t, interval, this.checkpointRowsPerLevel)) {
        const input = state.checkpoint(symbol, this.symbolId(symbol));
        if (input !== null) this.writeBlock(input);
      }
      const snapshot = (flags[i]! & BOOK_FLAG_SNAPSHOT) !== 0;
      // The sequence id is needed only for snapshot rows (their identity).
      const seqId = snapshot && seq !== undefined ? seq.base + BigInt(seq.offsets[i]!) : undefined;
      state.applyBook(
        t,
        r,
        seqId,
        side[i]!,
        price.mantissas[i]!,
        price.scale,
        size.mantissas[i]!,
        size.scale,
        snapshot,
      );
    }
  }

  private afterAdd(b: KindBuffer, ts: bigint): void {
    if (b.rows >= this.policy.maxRows || b.variableBytes >= this.policy.maxBytes) this.emitBlock(b);
    if (this.nextFlushTs === null) this.nextFlushTs = this.flushAfter(ts);
    else if (ts >= this.nextFlushTs) {
      this.nextFlushTs = this.flushAfter(ts)!;
      // The interval that just ended stays open for records that arrive late; older ones are written out.
      const stale = this.nextFlushTs - 2n * this.flushInterval!;
      for (const x of this.buffers) if (x.intervalEnd !== null && x.intervalEnd <= stale) this.emitBlock(x);
    }
  }

  /** Ends `b`'s block when `ts` is past the flush interval of its rows, and moves it to the interval of `ts`. */
  private cutAtInterval(b: KindBuffer, ts: bigint): void {
    if (this.flushInterval === null || (b.intervalEnd !== null && ts < b.intervalEnd)) return;
    this.emitBlock(b);
    b.intervalEnd = this.flushAfter(ts);
  }

  /** The first multiple of the flush interval after `ts` (null without a time-based flush). */
  private flushAfter(ts: bigint): bigint | null {
    const interval = this.flushInterval;
    if (interval === null) return null;
    let q = ts / interval;
    if (ts < 0n && q * interval !== ts) q -= 1n;
    return (q + 1n) * interval;
  }

  private emitBlock(b: KindBuffer): void {
    if (b.rows === 0) return;
    this.writeBlock(b.blockInput(this.symbolId(b.symbol)));
    b.reset();
    b.blocks++;
  }

  private writeBlock(input: BlockInput): void {
    const bytes = encodeBlock(input, this.codec, this.scratch, this.zstdLevel);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.index.push({
      offset: this.offset,
      length: bytes.length,
      kind: input.kind === "checkpoint" ? null : input.kind,
      kindId: input.kind === "checkpoint" ? CHECKPOINT_KIND_ID : KIND_ID[input.kind],
      codecId: CODEC_ID[this.codec],
      flags: 0,
      symbolId: input.symbolId,
      symbol: input.symbol,
      rowCount: input.rowCount,
      rawLength: dv.getUint32(20, true),
      minTs: input.minTs,
      maxTs: input.maxTs,
      headerLength: BLOCK_FIXED_HEADER + utf8(input.symbol).length,
    });
    this.emit(bytes);
  }

  /** Turns every non-empty buffer into a block, in a stable order: first use of each (kind, symbol). */
  flushBuffers(): void {
    for (const b of this.buffers) this.emitBlock(b);
  }

  /** The buffers holding records now, each with the blocks it had made: what a flush started now must write. */
  pendingBuffers(): PendingBuffer[] {
    const out: PendingBuffer[] = [];
    for (const b of this.buffers) if (b.rows > 0) out.push({ buffer: b, blocks: b.blocks });
    return out;
  }

  /**
   * Turns a pending buffer into a block, unless it made one since it was listed (its records of then are in that
   * block); true when it wrote one.
   */
  flushPending(p: PendingBuffer): boolean {
    if (p.buffer.rows === 0 || p.buffer.blocks !== p.blocks) return false;
    this.emitBlock(p.buffer);
    return true;
  }

  /** Flushes and emits footer and trailer; returns the total file length. */
  seal(): number {
    this.checkOpen();
    this.flushBuffers();
    this.sealed = true;
    const footerOffset = this.offset;
    const digest = new Uint8Array(this.hash.digest());
    const footer = encodeFooter({
      symbols: this.symbols,
      blocks: this.index,
      stats: statsOf(this.index),
      digest,
    });
    const fileLength = footerOffset + footer.length + TRAILER_BYTES;
    this.sink(footer);
    this.sink(
      encodeTrailer({ footerOffset, footerLength: footer.length, footerCrc: crc32c(footer), fileLength }),
    );
    this.offset = fileLength;
    return fileLength;
  }
}

/**
 * Every column of a batch must hold at least `count` rows, and enumerations must be in range (a file with
 * an out-of-range side would be unreadable).
 */
function checkBatch(kind: "trade" | "book", batch: TradeBatch | BookBatch, count: number): void {
  if (kind === "book" && !((batch as BookBatch).flags instanceof Uint8Array)) {
    throw new TapeValueError("a book batch needs flags", "flags");
  }
  if (!Number.isSafeInteger(count) || count < 0)
    throw new TapeValueError(`count ${count} is not a row count`, "count");
  const columns: [string, { length: number } | undefined][] = [
    ["ts", batch.ts.offsets],
    ["recvTs", batch.recvTs?.offsets],
    ["price", batch.price.mantissas],
    ["size", batch.size.mantissas],
    ["side", batch.side],
    ["tradeId", "tradeId" in batch ? batch.tradeId?.offsets : undefined],
    ["flags", "flags" in batch ? batch.flags : undefined],
    ["seq", "seq" in batch ? batch.seq?.offsets : undefined],
  ];
  for (const [name, col] of columns) {
    if (col !== undefined && col.length < count) {
      throw new TapeValueError(`holds ${col.length} rows, fewer than ${count}`, name);
    }
  }
  const maxSide = kind === "trade" ? TRADE_SIDES.length - 1 : BOOK_SIDES.length - 1;
  for (let i = 0; i < count; i++) {
    if (batch.side[i]! > maxSide)
      throw new TapeValueError(`side ${batch.side[i]} in row ${i} is out of range`, "side");
  }
}

/** True when `symbol` can name a (symbol, kind) buffer: the writer refuses a record of any other. */
export function isStorableSymbol(symbol: string): boolean {
  try {
    checkSymbol(symbol);
    return true;
  } catch {
    return false;
  }
}

function checkSymbol(symbol: unknown): void {
  if (typeof symbol !== "string") throw new TapeValueError("expected a string", "symbol");
  if (utf8(symbol).length > MAX_SYMBOL_BYTES)
    throw new TapeValueError(`longer than ${MAX_SYMBOL_BYTES} bytes`, "symbol");
  if (hasLoneSurrogate(symbol))
    throw new TapeValueError("not well-formed Unicode (lone surrogate)", "symbol");
}

/** A policy setting that counts rows: an integer in [1, 2^20], else E_TAPE_VALUE naming it. */
function checkCount(name: keyof BlockPolicy, value: number): number {
  if (!(Number.isInteger(value) && value >= 1 && value <= 1 << 20)) {
    throw new TapeError("E_TAPE_VALUE", `policy.${name} must be an integer in [1, 2^20]`, {
      field: `policy.${name}`,
    });
  }
  return value;
}

/** Encodes records into the bytes of a sealed file, in memory. */
export function encodeTape(
  records: Iterable<RecordInput>,
  header: Partial<HeaderInput> = {},
  options: { codec?: Codec; zstdLevel?: number; policy?: Partial<BlockPolicy> } = {},
): Uint8Array {
  const chunks: Uint8Array[] = [];
  const enc = new TapeEncoder(fullHeader(header), (b) => chunks.push(b.slice()), options);
  for (const r of records) enc.append(r);
  enc.seal();
  return Buffer.concat(chunks);
}

function fullHeader(h: Partial<HeaderInput>): HeaderInput {
  return {
    exchange: h.exchange ?? "",
    captureId: h.captureId ?? "",
    periodStart: h.periodStart ?? 0n,
    periodEnd: h.periodEnd ?? 0n,
    meta: h.meta ?? {},
  };
}

const WRITE_CHUNK = 4 * 1024 * 1024;
/**
 * Bytes written since the last fsync that a flush without `sync` still lets wait: beyond it, the flush fsyncs.
 * With write retries the writer keeps those bytes in memory (to write again should the fsync fail), so without a
 * bound they would grow with the file for as long as it is open.
 */
export const MAX_UNSYNCED_BYTES = 32 * 1024 * 1024;

/** A tape file being written: `path + ".open"` until `seal()` renames it to `path`. */
export class TapeWriter {
  private readonly encoder: TapeEncoder;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private position = 0;
  private closed = false;
  /** Bytes handed to a write that has not completed yet. */
  private inFlight = 0;
  /**
   * With write retries: the chunks written since the last successful fsync. After a failed fsync the kernel may
   * have dropped those pages and forgotten the error, so they are written again before the fsync is retried.
   */
  private unsynced: { at: number; data: Buffer; written: number }[] = [];
  private unsyncedTotal = 0;
  /** Writes completed so far: an fsync vouches for those completed before it started. */
  private writesDone = 0;
  /** Flushes in progress: `seal` and `close` wait for them, so a flush never finds its file closed. */
  private readonly flushing = new Set<Promise<void>>();
  /** The fsync in progress (or the last one), which the next one waits for. */
  private syncing: Promise<void> = Promise.resolve();
  private readonly retry: TapeWriterOptions["retryWrites"];
  private readonly flushPauseMs: number;

  private constructor(
    readonly path: string,
    readonly openPath: string,
    private readonly fh: FileHandle,
    options: TapeWriterOptions,
  ) {
    this.retry = options.retryWrites;
    this.flushPauseMs = options.flushPauseMs ?? 0;
    this.encoder = new TapeEncoder(
      fullHeader(options),
      (b) => {
        this.pending.push(b);
        this.pendingBytes += b.length;
      },
      options,
    );
  }

  /** Creates `path + ".open"` (failing if it exists) and writes the header. `path` should end in `.tape`. */
  static async create(path: string, options: TapeWriterOptions = {}): Promise<TapeWriter> {
    const openPath = `${path}.open`;
    const pause = options.flushPauseMs;
    if (pause !== undefined && !(pause >= 0 && pause <= 1000)) {
      throw new TapeError("E_TAPE_VALUE", "flushPauseMs must be a number of ms in [0, 1000]", {
        field: "flushPauseMs",
      });
    }
    if (await exists(path)) {
      throw new TapeError("E_TAPE_IO", "a sealed file of this name exists already", { file: path });
    }
    let fh: FileHandle;
    try {
      fh = await (options.openFile ?? open)(openPath, "wx");
    } catch (err) {
      throw new TapeError("E_TAPE_IO", `cannot create: ${(err as Error).message}`, {
        file: openPath,
        cause: err,
      });
    }
    const w = new TapeWriter(path, openPath, fh, options);
    try {
      await w.flush();
    } catch (err) {
      // Made by this call (wx) and holding at most part of a header: nothing to keep.
      await w.discard();
      await rm(openPath, { force: true });
      throw err;
    }
    return w;
  }

  get policy(): BlockPolicy {
    return this.encoder.policy;
  }
  get rows(): number {
    return this.encoder.rows;
  }
  /** The blocks written so far, as headers (made on each call: `index` is cheaper for counts). */
  get blocks(): readonly BlockHeader[] {
    return this.encoder.blocks;
  }
  /** The index of the blocks written so far. */
  get index(): BlockIndex {
    return this.encoder.index;
  }
  /** Bytes encoded but not yet written (waiting, being written, or being retried). */
  get unwrittenBytes(): number {
    return this.pendingBytes + this.inFlight;
  }
  /**
   * Bytes written since the last fsync that are kept in memory to be written again should it fail (with write
   * retries): at most about `MAX_UNSYNCED_BYTES` plus what one flush writes.
   */
  get unsyncedBytes(): number {
    return this.unsyncedTotal;
  }

  private check(): void {
    if (this.failure !== null) {
      throw new TapeError("E_TAPE_IO", `an earlier write failed: ${(this.failure as Error).message}`, {
        file: this.openPath,
        cause: this.failure,
      });
    }
    if (this.closed) throw new TapeError("E_TAPE_STATE", "the writer is closed", { file: this.openPath });
  }

  /** Buffers one record; blocks are written in the background as they fill. Bad values throw TapeValueError. */
  append(rec: RecordInput): void {
    this.check();
    this.encoder.append(rec);
    if (this.pendingBytes >= WRITE_CHUNK) this.startWrite();
  }

  appendBatch(kind: "trade" | "book", symbol: string, batch: TradeBatch | BookBatch, count: number): void {
    this.check();
    this.encoder.appendBatch(kind, symbol, batch, count);
    if (this.pendingBytes >= WRITE_CHUNK) this.startWrite();
  }

  private startWrite(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const at = this.position;
    this.position += data.length;
    this.inFlight += data.length;
    this.writing = this.writing.then(async () => {
      // A retry resumes where a partial write stopped.
      const progress = { done: 0 };
      for (let attempt = 1; this.failure === null; attempt++) {
        try {
          await writeFully(this.fh, data, at, progress);
          this.writesDone++;
          if (this.retry !== undefined) {
            this.unsynced.push({ at, data, written: this.writesDone });
            this.unsyncedTotal += data.length;
          }
          break;
        } catch (err) {
          if (this.retry === undefined) this.failure = err;
          else {
            this.retry.onWriteError(err, attempt);
            await this.retryPause(attempt);
          }
        }
      }
      this.inFlight -= data.length;
    });
  }

  /**
   * Writes every buffered record as blocks (small blocks if buffers are part full) and waits for the writes;
   * with `sync`, also fsyncs (and without it, once `MAX_UNSYNCED_BYTES` wait for one). After it resolves, a crash
   * loses nothing appended before the call. Blocks are encoded one at a time with the event loop let run between
   * them: a flush of many buffers does not hold up sockets and timers for the time it takes to compress all of
   * them. Records appended meanwhile are left for the next flush (or a full block), not cut into blocks of their own.
   */
  async flush(options: { sync?: boolean } = {}): Promise<void> {
    const job = this.flushOnce(options);
    this.flushing.add(job);
    try {
      await job;
    } finally {
      this.flushing.delete(job);
    }
  }

  /** Waits for the flushes in progress (their failures are their callers' to report). */
  private async flushesEnded(): Promise<void> {
    while (this.flushing.size > 0) await Promise.allSettled([...this.flushing]);
  }

  private async flushOnce(options: { sync?: boolean }): Promise<void> {
    this.check();
    // The buffers holding records now, each written once: records appended while the flush runs are the next
    // flush's, so that they do not make small blocks of their own.
    for (const pending of this.encoder.pendingBuffers()) {
      if (!this.encoder.flushPending(pending)) continue;
      this.startWrite();
      await (this.flushPauseMs > 0 ? sleep(this.flushPauseMs) : yieldToEventLoop());
      this.check();
    }
    this.startWrite();
    await this.writing;
    this.check();
    if (options.sync || this.unsyncedTotal > MAX_UNSYNCED_BYTES) await this.sync();
  }

  /** The pause before retry `attempt`: growing from 100 ms, capped. */
  private retryPause(attempt: number): Promise<void> {
    return sleep(Math.min(this.retry?.maxDelayMs ?? 5000, 50 * 2 ** Math.min(attempt, 10)));
  }

  /**
   * fsync; with write retries, a failure rewrites what was written since the last good fsync and tries again.
   * One fsync at a time: of two overlapping ones, the second could succeed after the first failed (an error is
   * reported once) and vouch for bytes the disk dropped.
   */
  private sync(): Promise<void> {
    const run = this.syncing.then(() => this.syncOnce());
    this.syncing = run.catch(() => {});
    return run;
  }

  private async syncOnce(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Writes that finish while the fsync runs (records appended during a flush) may not be covered by it.
      const covered = this.writesDone;
      try {
        await this.fh.sync();
        this.unsynced = this.unsynced.filter((c) => c.written > covered);
        this.unsyncedTotal = this.unsynced.reduce((n, c) => n + c.data.length, 0);
        return;
      } catch (err) {
        if (this.retry === undefined || this.closed) throw err;
        this.retry.onWriteError(err, attempt);
        await this.retryPause(attempt);
        // A write in flight across the failed fsync may have lost its pages too: rewritten once it is done.
        await this.writing;
        await this.rewriteUnsynced();
      }
    }
  }

  /**
   * Writes again everything written since the last good fsync (after a failed fsync the kernel may have dropped
   * those pages), until it all goes through: an fsync before that would vouch for bytes that are not there.
   */
  private async rewriteUnsynced(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        for (const c of this.unsynced) await writeFully(this.fh, c.data, c.at);
        return;
      } catch (err) {
        // Discarded meanwhile: the file is given up, not retried.
        if (this.closed) throw err;
        this.retry!.onWriteError(err, attempt);
        await this.retryPause(attempt);
      }
    }
  }

  /** Writes footer and trailer, fsyncs, renames `NAME.tape.open` to `NAME.tape` and fsyncs the directory. */
  async seal(): Promise<SealSummary> {
    await this.flushesEnded();
    this.check();
    const bytes = this.encoder.seal();
    this.startWrite();
    await this.writing;
    this.check();
    await this.sync();
    try {
      await this.fh.close();
    } finally {
      // Closed even when close reports an error (the descriptor is gone): nothing may fsync it again.
      this.closed = true;
    }
    await rename(this.openPath, this.path);
    await syncDirectory(dirname(this.path));
    return { path: this.path, bytes, blocks: this.encoder.index.length, rows: this.encoder.rows };
  }

  /**
   * Closes the file after a failure without writing what is buffered (a write being retried stops): the
   * `.open` file stays as it is, for the caller to remove or to read by recovery.
   */
  async discard(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failure ??= new TapeError("E_TAPE_STATE", "the writer was discarded", { file: this.openPath });
    await this.writing.catch(() => {});
    await this.fh.close().catch(() => {});
  }

  /** Writes what is buffered and closes without sealing: the `.open` file stays, readable by recovery. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushesEnded();
    if (this.closed) return;
    await this.flush({ sync: true });
    await this.fh.close();
    this.closed = true;
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | null = null;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (err) {
    // Some file systems (and platforms) do not support fsync on directories; the rename itself is still atomic.
    // Any other failure (EIO) means the rename may not be durable: the caller must not go on as if it were.
    const code = (err as NodeJS.ErrnoException).code;
    if (!(code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EISDIR"))
      throw new TapeError("E_TAPE_IO", `cannot fsync the folder: ${(err as Error).message}`, {
        file: dir,
        cause: err,
      });
  } finally {
    await fh?.close();
  }
}
