/**
 * Reads blocks ahead of a consumer that takes them in (first timestamp, file, offset) order, so that file reads
 * overlap with decoding. Neighbouring blocks of a file that are waiting too are fetched in the same read (up to
 * `SPAN_BYTES`): a forward scan makes few large reads instead of many small ones. Bounded in blocks and bytes.
 *
 * Read buffers are recycled (a fresh buffer costs a page fault per 4 KiB on first touch): the bytes `take`
 * returns are valid until the next `take`, which is how the merge and the scan use them (they decode a block,
 * which copies what it keeps, before taking the next).
 */
import type { BlockHeader, TapeReader } from "../format/index.js";
import { splitTime } from "./cursor.js";
import { Heap } from "./heap.js";

/** Largest single read that joins neighbouring blocks. */
const SPAN_BYTES = 4 * 1024 * 1024;
/**
 * Largest gap (bytes of blocks not asked for: other symbols, checkpoints) a read may span: reading it costs
 * less than another read call. A source may say otherwise (`RangeSource.joinGapBytes`).
 */
const GAP_BYTES = 128 * 1024;

export interface AheadBlock {
  readonly reader: TapeReader;
  readonly header: BlockHeader;
  readonly file: number;
  readonly ms: number;
  readonly rem: number;
  /** The file's blocks, in offset order, and this block's place in them. */
  readonly siblings: AheadBlock[];
  readonly index: number;
  bytes: Promise<Uint8Array> | null;
  span: Span | null;
  taken: boolean;
}

/** One read: a buffer shared by neighbouring blocks; recycled once they are all taken. */
interface Span {
  buffer: Uint8Array;
  left: number;
}

function less(a: AheadBlock, b: AheadBlock): boolean {
  if (a.ms !== b.ms) return a.ms < b.ms;
  if (a.rem !== b.rem) return a.rem < b.rem;
  if (a.file !== b.file) return a.file < b.file;
  return a.header.offset < b.header.offset;
}

export class ReadAhead {
  private readonly queue = new Heap<AheadBlock>(less);
  private readonly files = new Map<TapeReader, AheadBlock[]>();
  private blocks = 0;
  private bytes = 0;
  /** Reads started and not yet done. */
  private readonly reading = new Set<Promise<unknown>>();
  /** Buffers free for the next reads, and spans whose blocks were all taken (free at the next take). */
  private readonly free: Uint8Array[] = [];
  private done: Span[] = [];

  constructor(
    private readonly maxBlocks = 1024,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  /** Registers a block that will be taken later; a file's blocks are added in offset order. */
  add(reader: TapeReader, header: BlockHeader, file: number): AheadBlock {
    let siblings = this.files.get(reader);
    if (siblings === undefined) {
      siblings = [];
      this.files.set(reader, siblings);
    }
    const { ms, rem } = splitTime(header.minTs);
    const block: AheadBlock = {
      reader,
      header,
      file,
      ms,
      rem,
      siblings,
      index: siblings.length,
      bytes: null,
      span: null,
      taken: false,
    };
    siblings.push(block);
    this.queue.push(block);
    return block;
  }

  /** The block's bytes: read ahead already, or read now. */
  async take(block: AheadBlock): Promise<Uint8Array> {
    // The blocks taken before were decoded by now: their buffers can be read into again.
    for (const span of this.done) this.free.push(span.buffer);
    this.done = [];
    block.taken = true;
    if (block.bytes === null) this.fetch(block);
    this.blocks--;
    this.bytes -= block.header.length;
    const bytes = block.bytes!;
    const span = block.span!;
    // Taken: the block no longer holds its bytes (nor the read they share).
    block.bytes = null;
    block.span = null;
    try {
      return await bytes;
    } finally {
      if (--span.left === 0) this.done.push(span);
      this.refill();
    }
  }

  /** Forgets a file's blocks (when it is closed). */
  drop(reader: TapeReader): void {
    this.files.delete(reader);
  }

  /** Starts reads while there is room. */
  refill(): void {
    while (this.blocks < this.maxBlocks && this.bytes < this.maxBytes) {
      const next = this.queue.pop();
      if (next === undefined) return;
      if (next.taken || next.bytes !== null) continue;
      this.fetch(next);
    }
  }

  /**
   * One read for the block and its waiting neighbours in the file, after it and before it (across small gaps):
   * the blocks of one time range were written a flush at a time, so the earliest by time is not always the first
   * in the file.
   */
  private fetch(block: AheadBlock): void {
    const waiting = (b: AheadBlock) => !b.taken && b.bytes === null;
    const gap = block.reader.source.joinGapBytes ?? GAP_BYTES;
    const run = [block];
    let start = block.header.offset;
    let end = block.header.offset + block.header.length;
    for (let i = block.index + 1; i < block.siblings.length; i++) {
      const b = block.siblings[i]!;
      if (!waiting(b) || b.header.offset < end || b.header.offset - end > gap) break;
      if (b.header.offset + b.header.length - start > SPAN_BYTES) break;
      run.push(b);
      end = b.header.offset + b.header.length;
    }
    for (let i = block.index - 1; i >= 0; i--) {
      const b = block.siblings[i]!;
      const bEnd = b.header.offset + b.header.length;
      if (!waiting(b) || bEnd > start || start - bEnd > gap) break;
      if (end - b.header.offset > SPAN_BYTES) break;
      run.unshift(b);
      start = b.header.offset;
    }
    const first = run[0]!;
    const length = end - start;
    const span: Span = { buffer: this.buffer(length), left: run.length };
    const read = first.reader.fetchRange(start, length, span.buffer);
    this.reading.add(read);
    // A failure surfaces when a block is taken.
    read.then(
      () => this.reading.delete(read),
      () => this.reading.delete(read),
    );
    for (const b of run) {
      const at = b.header.offset - start;
      b.bytes = read.then(() => span.buffer.subarray(at, at + b.header.length));
      b.bytes.catch(() => {});
      b.span = span;
      this.blocks++;
      this.bytes += b.header.length;
    }
  }

  /** A free buffer of at least `length` bytes (big buffers are kept for spans, small ones for single blocks). */
  private buffer(length: number): Uint8Array {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!;
      if (b.length >= length) {
        this.free.splice(i, 1);
        return b;
      }
    }
    // Too many small buffers kept: let the oldest go.
    if (this.free.length > 8) this.free.shift();
    return Buffer.allocUnsafe(Math.max(length, 256 * 1024));
  }

  /** Waits for the reads in flight (before their files are closed). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.reading]);
  }
}
