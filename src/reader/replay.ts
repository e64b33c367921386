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
  isFileDamage,
  type Kind,
  type Row,
  recordReader,
  recoveryLoss,
  rowReader,
  TapeError,
  type TapeFilter,
  type TapeReader,
  type TapeRecord,
} from "../format/index.js";
import { BlockCursor, splitTime } from "./cursor.js";
import {
  type Dataset,
  type DatasetFile,
  FILE_LEAD_NS,
  missingHourError,
  type TimeInput,
  toNs,
} from "./dataset.js";
import { Heap } from "./heap.js";
import { type AheadBlock, ReadAhead } from "./read-ahead.js";

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

const FILE = 0;
const BLOCK = 1;
const EVENT = 2;
const ROWS = 3;

/**
 * Everything the heap holds, in one shape (so that comparing keys stays monomorphic): a file to open, a block
 * to read, an event to emit, or a cursor over a decoded block. Rank 0 (something to open, an event) sorts
 * before rows of the same exchange time, so that a block is open before any row it could precede is emitted.
 */
class Item {
  tsMs = 0;
  tsRem = 0;
  rank = 0;
  recvMs = 0;
  recvRem = 0;
  /** False while a cursor's receive time has not been read for its current row. */
  recvLoaded = true;
  file = 0;
  offset = 0;
  row = 0;
  dsFile: DatasetFile | null = null;
  open: OpenFile | null = null;
  header: BlockHeader | null = null;
  /** A block's place in the read-ahead. */
  ahead: AheadBlock | null = null;
  out: Out | null = null;
  cursor: BlockCursor | null = null;
  read: ((i: number) => Out) | null = null;

  constructor(
    readonly type: number,
    ts: bigint | null,
  ) {
    if (ts === null) this.tsMs = Number.NEGATIVE_INFINITY;
    else {
      const { ms, rem } = splitTime(ts);
      this.tsMs = ms;
      this.tsRem = rem;
    }
  }

  /** Copies the cursor's current key; its receive time is copied on the first tie (`recv`). */
  sync(): void {
    const c = this.cursor!;
    this.tsMs = c.tsMs;
    this.tsRem = c.tsRem;
    this.row = c.row;
    this.recvLoaded = false;
  }

  /** Makes the receive time part of the key current. */
  recv(): void {
    const c = this.cursor!;
    c.loadRecv();
    this.recvMs = c.recvMs;
    this.recvRem = c.recvRem;
    this.recvLoaded = true;
  }
}

function less(a: Item, b: Item): boolean {
  if (a.tsMs !== b.tsMs) return a.tsMs < b.tsMs;
  if (a.tsRem !== b.tsRem) return a.tsRem < b.tsRem;
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (!a.recvLoaded) a.recv();
  if (!b.recvLoaded) b.recv();
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
  private readonly ahead = new ReadAhead();
  private readonly filter: TapeFilter;
  private readonly exact: boolean;
  private readonly skip: boolean;
  private readonly speed: number | null;
  private readonly openFiles = new Set<OpenFile>();
  /** The exchange time of the record returned last (a row or an event), as (ms, remainder). */
  private lastMs = Number.NEGATIVE_INFINITY;
  private lastRem = 0;
  /** The exchange time of the last row returned (events aside): nothing opened later may start at or before it. */
  private rowMs = Number.NEGATIVE_INFINITY;
  private rowRem = 0;
  private started = false;
  private closed = false;
  private paceStart: { wall: number; ms: number } | null = null;
  /** A file or block being opened that the merge must wait for before its next step. */
  private opening: Promise<void> | null = null;
  /** Files being closed (their last block was read). */
  private readonly closing = new Set<Promise<void>>();

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
    // The common case first: a row of a block being replayed, no pacing.
    const top = this.heap.peek();
    if (top !== undefined && top.type === ROWS && this.speed === null) {
      try {
        return Promise.resolve({ done: false, value: this.emitRow(top) });
      } catch (err) {
        return this.fail(err);
      }
    }
    try {
      const step = this.step();
      if (step === null) return this.close().then(() => DONE);
      if (step instanceof Promise)
        return step.then(
          () => this.next(),
          (err) => this.fail(err),
        );
      return this.pace(step);
    } catch (err) {
      return this.fail(err);
    }
  }

  /** Up to `max` records in replay order; an empty array at the end. */
  nextChunk(max: number): Promise<Out[]> {
    const out: Out[] = [];
    const fill = (): Promise<Out[]> => {
      try {
        while (out.length < max) {
          const step = this.step();
          if (step === null) return this.close().then(() => out);
          if (step instanceof Promise) {
            // Hand over what is ready; the next call waits for the read before it steps again.
            if (out.length > 0) {
              this.opening = step;
              // Its failure is raised by the next call; until then it must not count as unhandled.
              step.catch(() => {});
              return Promise.resolve(out);
            }
            return step.then(fill, (err) => this.fail(err));
          }
          out.push(step);
        }
        return Promise.resolve(out);
      } catch (err) {
        return this.fail(err);
      }
    };
    const opening = this.opening;
    if (opening === null) return fill();
    this.opening = null;
    return opening.then(fill, (err) => this.fail(err));
  }

  /**
   * One step of the merge: the next record, or a promise to wait for (a file or block being opened; step
   * again after it), or null at the end.
   */
  private step(): Out | Promise<void> | null {
    if (!this.started) this.start();
    const top = this.heap.peek();
    if (top === undefined) return null;
    if (top.type === ROWS) return this.emitRow(top);
    this.heap.pop();
    if (top.type === EVENT) {
      this.lastMs = top.tsMs;
      this.lastRem = top.tsRem;
      return top.out!;
    }
    return top.type === FILE ? this.openFile(top.dsFile!) : this.openBlock(top);
  }

  /** The current row of the top cursor, which then moves on. */
  private emitRow(top: Item): Out {
    const out = top.read!(top.row);
    this.lastMs = top.tsMs;
    this.lastRem = top.tsRem;
    this.rowMs = top.tsMs;
    this.rowRem = top.tsRem;
    if (top.cursor!.next()) {
      top.sync();
      this.heap.siftDown();
    } else {
      this.heap.pop();
      this.finished(top.open!);
    }
    return out;
  }

  /** Exchange time of the record returned last, exact as (whole ms, ns remainder). */
  lastTime(): { ms: number; rem: number } {
    return { ms: this.lastMs, rem: this.lastRem };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A file being opened joins openFiles (or closes itself, seeing `closed`) before the files are closed.
    await this.opening?.catch(() => {});
    const files = [...this.openFiles];
    this.openFiles.clear();
    // Reads still in flight finish before their files close.
    await this.ahead.settle();
    await Promise.allSettled([...files.map((f) => f.reader.close()), ...this.closing]);
  }

  private fail(err: unknown): Promise<never> {
    return this.close().then(() => Promise.reject(err));
  }

  private start(): void {
    this.started = true;
    const { from } = this.filter;
    for (const m of this.dataset.missingWithin(this.filter)) {
      const err = missingHourError(m);
      if (!this.skip) throw err;
      const message = `${err.reason}: ${m.path}`;
      // Reported where the range starts when the hour starts before it.
      const at = from !== undefined && m.hour < from ? from : m.hour;
      const e = new Item(EVENT, at);
      e.out = this.lossEvent(m.exchange, "", at, message);
      e.file = -1;
      this.heap.push(e);
    }
    for (const f of this.dataset.files) {
      const item = new Item(FILE, f.hour === null ? null : f.hour - FILE_LEAD_NS);
      item.dsFile = f;
      item.file = f.index;
      this.heap.push(item);
    }
  }

  private async openFile(listed: DatasetFile): Promise<void> {
    let reader: TapeReader;
    // A .open file sealed meanwhile is read under its final name.
    let f = listed;
    try {
      ({ reader, file: f } = await this.dataset.sources.openFile(listed));
    } catch (err) {
      // Not a tape at all (an empty .open file left by a crash, a damaged header): nothing of it is readable.
      if (!this.skip || !isFileDamage(err)) throw err;
      const at =
        f.hour === null
          ? null
          : this.filter.from !== undefined && f.hour < this.filter.from
            ? this.filter.from
            : f.hour;
      const e = new Item(EVENT, at);
      e.out = this.lossEvent(
        f.exchange ?? "",
        "",
        at ?? 0n,
        `${f.path}: unreadable, every record of it is lost (${err.code}: ${err.reason})`,
      );
      e.file = f.index;
      this.heap.push(e);
      return;
    }
    if (this.closed) {
      await reader.close();
      return;
    }
    const open: OpenFile = { file: f, reader, exchange: reader.header.exchange, outstanding: 0 };
    this.openFiles.add(open);
    const blocks = reader.selectBlocks(this.filter);
    const r = reader.recovery;
    // A sealed name without a usable footer, or an open file with a torn tail, lost data.
    const loss = recoveryLoss(r, f.path, f.open);
    if (r !== null && loss !== null) {
      if (!this.skip) throw loss;
      const message = loss.reason;
      // The loss is after the last valid block: report it at that block's last time (or the file's hour).
      const at = reader.blocks.reduce<bigint>((m, b) => max(m, b.maxTs)!, f.hour ?? 0n);
      const clamped = this.filter.from !== undefined && at < this.filter.from ? this.filter.from : at;
      if (this.filter.to === undefined || clamped < this.filter.to) {
        const e = new Item(EVENT, clamped);
        e.out = this.lossEvent(open.exchange, "", clamped, `${f.path}: ${message}`);
        e.file = f.index;
        e.offset = r.validEnd;
        this.push(e);
      }
    }
    for (const b of blocks) {
      const item = new Item(BLOCK, b.minTs);
      item.open = open;
      item.header = b;
      item.file = f.index;
      item.offset = b.offset;
      item.ahead = this.ahead.add(reader, b, f.index);
      this.push(item);
    }
    open.outstanding = blocks.length;
    if (open.outstanding === 0) await this.closeFile(open);
    this.ahead.refill();
  }

  private async openBlock(p: Item): Promise<void> {
    const open = p.open!;
    const h = p.header!;
    let block: Awaited<ReturnType<TapeReader["readBlock"]>>;
    try {
      block = open.reader.decodeFetched(h, await this.ahead.take(p.ahead!));
    } catch (err) {
      if (!this.skip || !isFileDamage(err)) throw err;
      const at = this.filter.from !== undefined && h.minTs < this.filter.from ? this.filter.from : h.minTs;
      const message = `${open.file.path}: lost block at offset ${h.offset}: ${h.rowCount} ${h.kind} rows of ${h.symbol}, exchange time ${h.minTs} to ${h.maxTs} ns (${err.code}: ${err.reason})`;
      const e = new Item(EVENT, at);
      e.out = this.lossEvent(open.exchange, h.symbol, at, message);
      e.file = p.file;
      e.offset = h.offset;
      this.heap.push(e);
      this.finished(open);
      return;
    }
    const cursor = new BlockCursor(block, this.filter.from, this.filter.to);
    if (cursor.done) {
      this.finished(open);
      return;
    }
    const item = new Item(ROWS, null);
    item.rank = 1;
    item.open = open;
    item.file = p.file;
    item.offset = h.offset;
    item.cursor = cursor;
    item.read = this.exact ? exactReader(block, open.exchange) : rowReader(block, open.exchange);
    item.sync();
    this.push(item);
  }

  /**
   * Pushes an item, refusing one that does not start after what was already emitted (see FILE_LEAD_NS): at an
   * equal time its rows could belong before rows already returned (by receive time).
   */
  private push(item: Item): void {
    if (item.tsMs < this.rowMs || (item.tsMs === this.rowMs && item.tsRem <= this.rowRem)) {
      throw new TapeError(
        "E_TAPE_ORDER",
        "a block starts more than an hour before its file's hour, after later records were replayed; name files by the hour of their records",
        { file: item.open?.file.path, offset: item.offset },
      );
    }
    this.heap.push(item);
  }

  private finished(open: OpenFile): void {
    if (--open.outstanding > 0) return;
    const closing = this.closeFile(open).catch(() => {});
    this.closing.add(closing);
    void closing.then(() => this.closing.delete(closing));
  }

  private async closeFile(open: OpenFile): Promise<void> {
    if (!this.openFiles.delete(open)) return;
    this.ahead.drop(open.reader);
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
    const at = this.paceStart.wall + (ms - this.paceStart.ms) / this.speed;
    if (at - now < 1) return Promise.resolve(result);
    return sleepUntil(at).then(() => result);
  }
}

/** The longest wait one Node timer takes (a longer one fires at once, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolves at `performance.now()` time `at`, in waits a timer can take. */
async function sleepUntil(at: number): Promise<void> {
  for (let left = at - performance.now(); left >= 1; left = at - performance.now())
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, MAX_TIMER_MS)));
}

function exactReader(
  block: Parameters<typeof recordReader>[0],
  exchange: string,
): (i: number) => ReplayRecord {
  const read = recordReader(block);
  return (i) => ({ exchange, ...read(i) });
}

/** `Dataset.replayChunks`: the same merge, handed over as arrays of records (fewer awaits, faster). */
export function replayChunks(
  dataset: Dataset,
  options: Omit<ReplayOptions, "speed">,
  chunkRows = 4096,
): AsyncIterable<Out[]> {
  if (!(Number.isInteger(chunkRows) && chunkRows > 0))
    throw new TapeError("E_TAPE_VALUE", `chunkRows must be a positive integer, got ${chunkRows}`, {
      field: "chunkRows",
    });
  return {
    [Symbol.asyncIterator]() {
      const merge = new Merge(dataset, options);
      return {
        next: () =>
          merge
            .nextChunk(chunkRows)
            .then((rows) => (rows.length === 0 ? DONE : { done: false, value: rows })),
        return: () => merge.close().then(() => DONE),
      };
    },
  };
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
