/**
 * Replay: a k-way merge of every selected block of every file of a dataset, in exact time order.
 *
 * One heap holds the decoded blocks being replayed (cursors) and what is still to open: files (keyed by the
 * earliest time their name allows) and blocks (keyed by their first timestamp, from the footer index). A block
 * is decoded only when the merge reaches its first timestamp, so memory holds the blocks that overlap in time,
 * not the day. Keys are exact: see cursor.ts.
 */
import {
  type BlockHeader,
  type Kind,
  type Row,
  recordReader,
  rowReader,
  TapeError,
  type TapeFilter,
  TapeReader,
  type TapeRecord,
} from "../format/index.js";
import { BlockCursor, splitTime } from "./cursor.js";
import { type Dataset, type DatasetFile, FILE_LEAD_NS, type TimeInput, toNs } from "./dataset.js";
import { Heap } from "./heap.js";

export interface ReplayOptions {
  /** Inclusive start (exchange time); narrows the dataset's range. */
  from?: TimeInput;
  /** Exclusive end (exchange time); narrows the dataset's range. */
  to?: TimeInput;
  symbols?: readonly string[];
  kinds?: readonly Kind[];
  /** Exact records (bigint timestamps, decimal strings) instead of rows with number fields. */
  exact?: boolean;
  /** Pace the output at `speed` times the recorded exchange time (2 = twice as fast). */
  speed?: number;
  /**
   * What a damaged block, a torn or unsealed file, or a missing hour does: `"error"` (default) throws a
   * TapeError naming the file and offset; `"skip"` replays everything else and puts an `event` record of type
   * `gap` in the stream, at the time the loss starts, saying what was lost.
   */
  onCorrupt?: "error" | "skip";
}

/** A row of a replay: `exchange` names the file's exchange. */
export type ReplayRow = Row;
export type ReplayRecord = TapeRecord & { exchange: string };
type Out = ReplayRow | ReplayRecord;

/** The selection of a replay: the dataset's, narrowed by the replay's options. */
export function narrow(dataset: Dataset, o: Omit<ReplayOptions, "exact" | "speed">): TapeFilter {
  const s = dataset.selection;
  const from = max(s.from, toNs(o.from, "from"));
  const to = min(s.to, toNs(o.to, "to"));
  const filter: TapeFilter = {};
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const symbols = both(s.symbols, o.symbols);
  if (symbols !== undefined) filter.symbols = symbols;
  const kinds = both(s.kinds, o.kinds);
  if (kinds !== undefined) filter.kinds = kinds;
  return filter;
}

function max(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  return a === undefined ? b : b === undefined ? a : a > b ? a : b;
}
function min(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  return a === undefined ? b : b === undefined ? a : a < b ? a : b;
}
function both<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): readonly T[] | undefined {
  return a === undefined ? b : b === undefined ? a : a.filter((x) => b.includes(x));
}

/** An open file of the merge: closed when its last selected block has been read. */
interface OpenFile {
  file: DatasetFile;
  reader: TapeReader;
  exchange: string;
  /** Selected blocks not yet finished. */
  outstanding: number;
}

// Heap items. Every item has the key fields; rank 0 (something to open or an event) sorts before the rows
// of the same exchange time, so that a block is open before any row it could precede is emitted.
class PendingFile {
  readonly rank = 0;
  readonly recvMs = 0;
  readonly recvRem = 0;
  readonly offset = 0;
  readonly row = 0;
  readonly tsMs: number;
  readonly tsRem: number;
  readonly file: number;
  constructor(readonly dsFile: DatasetFile) {
    const { ms, rem } =
      dsFile.hour === null ? { ms: Number.NEGATIVE_INFINITY, rem: 0 } : splitTime(dsFile.hour - FILE_LEAD_NS);
    this.tsMs = ms;
    this.tsRem = rem;
    this.file = dsFile.index;
  }
}
class PendingBlock {
  readonly rank = 0;
  readonly recvMs = 0;
  readonly recvRem = 0;
  readonly row = 0;
  readonly tsMs: number;
  readonly tsRem: number;
  readonly file: number;
  readonly offset: number;
  constructor(
    readonly open: OpenFile,
    readonly header: BlockHeader,
  ) {
    const { ms, rem } = splitTime(header.minTs);
    this.tsMs = ms;
    this.tsRem = rem;
    this.file = open.file.index;
    this.offset = header.offset;
  }
}
class PendingEvent {
  readonly rank = 0;
  readonly recvMs = 0;
  readonly recvRem = 0;
  readonly row = 0;
  readonly tsMs: number;
  readonly tsRem: number;
  constructor(
    readonly out: Out,
    ts: bigint,
    readonly file: number,
    readonly offset: number,
  ) {
    const { ms, rem } = splitTime(ts);
    this.tsMs = ms;
    this.tsRem = rem;
  }
}
class ReplayCursor extends BlockCursor {
  readonly rank = 1;
  constructor(
    readonly open: OpenFile,
    cursor: ConstructorParameters<typeof BlockCursor>,
    readonly read: (i: number) => Out,
  ) {
    super(...cursor);
  }
}
type Item = PendingFile | PendingBlock | PendingEvent | ReplayCursor;

function less(a: Item, b: Item): boolean {
  if (a.tsMs !== b.tsMs) return a.tsMs < b.tsMs;
  if (a.tsRem !== b.tsRem) return a.tsRem < b.tsRem;
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.recvMs !== b.recvMs) return a.recvMs < b.recvMs;
  if (a.recvRem !== b.recvRem) return a.recvRem < b.recvRem;
  if (a.file !== b.file) return a.file < b.file;
  if (a.offset !== b.offset) return a.offset < b.offset;
  return a.row < b.row;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** The merge behind `Dataset.replay`; iterated by hand (not an async generator) so that most rows cost no await. */
export class Merge {
  private readonly heap = new Heap<Item>(less);
  private readonly filter: TapeFilter;
  private readonly exact: boolean;
  private readonly skip: boolean;
  private readonly speed: number | null;
  private readonly openFiles = new Set<OpenFile>();
  /** The exchange time last emitted (ms, remainder): nothing later opened may start before it. */
  private lastMs = Number.NEGATIVE_INFINITY;
  private lastRem = 0;
  private started = false;
  private closed = false;
  private paceStart: { wall: number; ms: number } | null = null;

  constructor(
    private readonly dataset: Dataset,
    options: ReplayOptions,
  ) {
    this.filter = narrow(dataset, options);
    this.exact = options.exact === true;
    this.skip = options.onCorrupt === "skip";
    if (options.onCorrupt !== undefined && options.onCorrupt !== "skip" && options.onCorrupt !== "error")
      throw new TapeError("E_TAPE_VALUE", `onCorrupt must be "error" or "skip"`, { field: "onCorrupt" });
    if (options.speed !== undefined && !(options.speed > 0 && Number.isFinite(options.speed)))
      throw new TapeError("E_TAPE_VALUE", `speed must be a positive number, got ${options.speed}`, {
        field: "speed",
      });
    this.speed = options.speed ?? null;
  }

  next(): Promise<IteratorResult<Out>> {
    try {
      if (!this.started) this.start();
      for (;;) {
        const top = this.heap.peek();
        if (top === undefined) {
          return this.close().then(() => DONE);
        }
        if (top instanceof ReplayCursor) {
          const out = top.read(top.row);
          this.lastMs = top.tsMs;
          this.lastRem = top.tsRem;
          if (top.next()) this.heap.siftDown();
          else {
            this.heap.pop();
            this.finished(top.open);
          }
          return this.pace(out);
        }
        this.heap.pop();
        if (top instanceof PendingEvent) {
          this.lastMs = top.tsMs;
          this.lastRem = top.tsRem;
          return this.pace(top.out);
        }
        const opening = top instanceof PendingFile ? this.openFile(top.dsFile) : this.openBlock(top);
        return opening.then(
          () => this.next(),
          (err) => this.fail(err),
        );
      }
    } catch (err) {
      return this.fail(err);
    }
  }

  /** Exchange time of the record returned last, exact as (whole ms, ns remainder). */
  lastTime(): { ms: number; rem: number } {
    return { ms: this.lastMs, rem: this.lastRem };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const files = [...this.openFiles];
    this.openFiles.clear();
    await Promise.all(files.map((f) => f.reader.close()));
  }

  private fail(err: unknown): Promise<never> {
    return this.close().then(() => Promise.reject(err));
  }

  private start(): void {
    this.started = true;
    const { from, to } = this.filter;
    for (const m of this.dataset.missing) {
      if ((to !== undefined && m.hour >= to) || (from !== undefined && m.hour + 3_600_000_000_000n <= from))
        continue;
      const message = `no file for ${m.exchange} capture ${m.captureId} hour ${new Date(Number(m.hour / 1_000_000n)).toISOString().slice(0, 13)}h: ${m.path}`;
      if (!this.skip) throw new TapeError("E_TAPE_MISSING", message, { file: m.path });
      this.heap.push(new PendingEvent(this.lossEvent(m.exchange, "", m.hour, message), m.hour, -1, 0));
    }
    for (const f of this.dataset.files) this.heap.push(new PendingFile(f));
  }

  private async openFile(f: DatasetFile): Promise<void> {
    const reader = await TapeReader.open(f.path);
    const open: OpenFile = { file: f, reader, exchange: reader.header.exchange, outstanding: 0 };
    this.openFiles.add(open);
    const blocks = reader.selectBlocks(this.filter);
    const r = reader.recovery;
    // A sealed name without a usable footer, or an open file with a torn tail, lost data.
    if (r !== null && (!f.open || r.stop !== null)) {
      const cause = r.stop ?? r.reason;
      const message = `${f.open ? "torn tail" : "unsealed file"}: ${r.droppedBytes} bytes after offset ${r.validEnd} hold no valid block (${cause.reason})`;
      if (!this.skip) {
        throw new TapeError(f.open ? "E_TAPE_TRUNCATED" : cause.code, message, {
          file: f.path,
          offset: r.validEnd,
        });
      }
      // The loss is after the last valid block: report it at that block's last time (or the file's hour).
      const at = reader.blocks.reduce<bigint>((m, b) => max(m, b.maxTs)!, f.hour ?? 0n);
      const clamped = this.filter.from !== undefined && at < this.filter.from ? this.filter.from : at;
      if (this.filter.to === undefined || clamped < this.filter.to)
        this.push(
          new PendingEvent(
            this.lossEvent(open.exchange, "", clamped, `${f.path}: ${message}`),
            clamped,
            f.index,
            r.validEnd,
          ),
        );
    }
    for (const b of blocks) this.push(new PendingBlock(open, b));
    open.outstanding = blocks.length;
    if (open.outstanding === 0) await this.closeFile(open);
  }

  private async openBlock(p: PendingBlock): Promise<void> {
    const open = p.open;
    let block: Awaited<ReturnType<TapeReader["readBlock"]>>;
    try {
      block = await open.reader.readBlock(p.header);
    } catch (err) {
      if (!this.skip || !(err instanceof TapeError) || err.code === "E_TAPE_IO") throw err;
      const h = p.header;
      const at = this.filter.from !== undefined && h.minTs < this.filter.from ? this.filter.from : h.minTs;
      const message = `${open.file.path}: lost block at offset ${h.offset}: ${h.rowCount} ${h.kind} rows of ${h.symbol}, exchange time ${h.minTs} to ${h.maxTs} ns (${err.code}: ${err.reason})`;
      this.heap.push(
        new PendingEvent(this.lossEvent(open.exchange, h.symbol, at, message), at, p.file, h.offset),
      );
      this.finished(open);
      return;
    }
    const read = this.exact ? exactReader(block, open.exchange) : rowReader(block, open.exchange);
    const cursor = new ReplayCursor(open, [block, open.file.index, this.filter.from, this.filter.to], read);
    if (cursor.done) this.finished(open);
    else this.push(cursor);
  }

  /** Pushes an item, refusing one that starts before what was already emitted (see FILE_LEAD_NS). */
  private push(item: Item): void {
    if (item.tsMs < this.lastMs || (item.tsMs === this.lastMs && item.tsRem < this.lastRem)) {
      const where = item instanceof PendingBlock ? item.header.offset : 0;
      const path = item instanceof PendingBlock ? item.open.file.path : undefined;
      throw new TapeError(
        "E_TAPE_ORDER",
        "a block starts more than an hour before its file's hour, after later records were replayed; name files by the hour of their records",
        { file: path, offset: where },
      );
    }
    this.heap.push(item);
  }

  private finished(open: OpenFile): void {
    if (--open.outstanding <= 0) void this.closeFile(open);
  }

  private async closeFile(open: OpenFile): Promise<void> {
    if (!this.openFiles.delete(open)) return;
    await open.reader.close();
  }

  private lossEvent(exchange: string, symbol: string, ts: bigint, message: string): Out {
    if (this.exact) return { exchange, kind: "event", symbol, ts, type: "gap", message };
    return {
      exchange,
      kind: "event",
      symbol,
      ts: Number(ts),
      recvTs: null,
      type: "gap",
      seqBefore: null,
      seqAfter: null,
      message,
    };
  }

  /** Resolves at the wall time that `speed` gives the row (immediately without `speed`). */
  private pace(out: Out): Promise<IteratorResult<Out>> {
    const result = { done: false as const, value: out };
    if (this.speed === null) return Promise.resolve(result);
    const ms = this.lastMs + this.lastRem / 1e6;
    const now = performance.now();
    if (this.paceStart === null) this.paceStart = { wall: now, ms };
    const wait = this.paceStart.wall + (ms - this.paceStart.ms) / this.speed - now;
    if (wait < 1) return Promise.resolve(result);
    return new Promise((resolve) => setTimeout(() => resolve(result), wait));
  }
}

function exactReader(
  block: Parameters<typeof recordReader>[0],
  exchange: string,
): (i: number) => ReplayRecord {
  const read = recordReader(block);
  return (i) => ({ exchange, ...read(i) });
}

/** `Dataset.replay`: an AsyncIterable whose iterators each run their own merge. */
export function replay(dataset: Dataset, options: ReplayOptions): AsyncIterable<Out> {
  return {
    [Symbol.asyncIterator]() {
      const merge = new Merge(dataset, options);
      return {
        next: () => merge.next(),
        return: () => merge.close().then(() => DONE),
      };
    },
  };
}
