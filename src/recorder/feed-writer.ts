/**
 * Between the sockets and the disk: records go into the hour's file (its in-memory buffers) as they are pushed, or,
 * while that cannot be (a file to open, records waiting, the disk behind), into a bounded queue drained by one
 * loop; the files are flushed (and fsynced) every `flushIntervalMs`. The sockets never wait for the disk: when the
 * disk is slow or failing the queue grows up to `maxQueuedRecords`, and records beyond it are dropped — counted,
 * logged, and stated in a `gap` event once the queue takes records again (docs/DURABILITY.md). Failed writes are
 * retried by the file writer (bytes kept in memory until written and fsynced, bounded by `maxUnwrittenBytes`,
 * beyond which the loop stops feeding it).
 */

import type { TapeValueError } from "../format/errors.js";
import { toTimestamp } from "../format/kind-buffer.js";
import type { Kind, RecordInput, TimestampInput } from "../format/records.js";
import { eventRecord, RefusalEvents, type Stamp } from "./book-feed.js";
import type { Clock } from "./clock.js";
import type { HourSealReport } from "./hour-sealer.js";
import { HourlyWriter, type HourlyWriterOptions } from "./hourly-writer.js";

export interface FlushAck {
  /** Records appended to files and flushed (and fsynced with `sync`), since this writer started. */
  records: number;
  /** Receive time of the last of them (ns), or null. */
  throughRecvNs: bigint | null;
  /**
   * Receive time of the first record this flush acknowledged (appended after the last flush that succeeded started,
   * and before this one did): the oldest, the one the receive → disk latency is measured from. Null when it
   * acknowledged none.
   */
  fromRecvNs: bigint | null;
}

export interface FeedWriterLog {
  /** Problems that lose nothing yet (a failed write being retried, a record the format refused). */
  warn(message: string, details?: Record<string, unknown>): void;
  /** Records lost or a seal failed: someone must look. */
  alert(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
}

export interface FeedWriterOptions {
  hourly: Omit<HourlyWriterOptions, "onSealed" | "onRejected" | "seal">;
  clock: Clock;
  log: FeedWriterLog;
  /** Flush (and fsync) at least this often (ms). Default 1000. */
  flushIntervalMs?: number;
  /** fsync at each flush (default true): a flushed record survives the host, not only the process. */
  sync?: boolean;
  /** Queue bound (records). Default 1,000,000. */
  maxQueuedRecords?: number;
  /**
   * Encoded bytes held for the disk (not yet written, or written and not yet fsynced) beyond which the queue is not
   * drained. Default 256 MiB.
   */
  maxUnwrittenBytes?: number;
  onFlushed?(ack: FlushAck): void;
  /** A write, fsync or file creation failed (it is retried). */
  onWriteError?(): void;
  /** A record was dropped because the queue was full. */
  onDropped?(record: RecordInput): void;
  /**
   * The queue takes records again after dropping some, and the `gap` event that says so is queued: the books in
   * the files have a hole, and the caller resynchronises them now (a resync asked for while the queue was full
   * would have been dropped too).
   */
  onResumed?(): void;
  onSealed?(report: HourSealReport): void;
  /**
   * The clock passed `hourEnd`, the end of the current file's hour, and the flush about to start seals that file:
   * records pushed now (synchronously) are written into it first: while the disk holds the queue back, the seal
   * waits for a later flush. Told before each flush until the file is sealed (again after a flush that failed).
   */
  onHourOver?(hourEnd: bigint): void;
  /**
   * The writer is behind for want of CPU, not disk (`behind` true: more than `BACKLOG_HIGH` records wait while
   * the disk keeps up), or caught up again (below `BACKLOG_LOW`, or the disk became the problem). The caller stops
   * reading its sockets meanwhile: a backlog waits in socket buffers, not in this queue, whose bound is for a slow
   * disk.
   */
  onBacklog?(behind: boolean): void;
  /**
   * The writer stopped with an error: a listener threw, or appending failed for a reason other than a value the
   * format refuses. Records pushed from then on are counted as dropped; `stop()` still writes what it can and
   * seals, then rejects with the same error.
   */
  onFailure?(error: unknown): void;
}

export interface FeedWriterStats {
  queued: number;
  written: number;
  dropped: number;
  droppedByKind: Record<Kind, number>;
  rejected: number;
  writeErrors: number;
  flushes: number;
  sealedFiles: number;
  sealErrors: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** Records waiting beyond which reading pauses (while the disk keeps up), and below which it resumes. */
export const BACKLOG_HIGH = 50_000;
export const BACKLOG_LOW = 10_000;
/** The longest pause between tries to open a file that could not be opened (from 500 ms, doubling). */
const OPEN_RETRY_MAX_MS = 5000;

/** Records appended between two turns of the event loop: a batch's blocks are not all encoded in one go. */
const RECORDS_PER_TURN = 1024;

/**
 * The block policy of files as they are written: a block is compressed in one go on the event loop, and 256 KiB of
 * frames takes about 1 ms where the default 4 MiB takes over 10, all that time lost to receiving (measured on
 * simulated Binance frames, for about 2.5% more bytes of raw frames). Blocks are flushed every second anyway, so
 * the format's time-based flush adds nothing. An hour written again at its seal gets the full policy.
 */
export const LIVE_BLOCK_POLICY = { maxBytes: 256 * 1024, flushIntervalNs: Number.POSITIVE_INFINITY };

/**
 * The pause after each block a flush writes: a flush makes a small block of every buffer (60 at 20 symbols), and
 * encoded one per event-loop turn they took about 30 ms of the core within about 70, when frames waited longest.
 * With 1 ms between blocks, the flush spreads over about 100 ms and its fsync starts that much later.
 */
const LIVE_FLUSH_PAUSE_MS = 1;

export class FeedWriter {
  readonly hourly: HourlyWriter;
  readonly stats: FeedWriterStats = {
    queued: 0,
    written: 0,
    dropped: 0,
    droppedByKind: { trade: 0, book: 0, bbo: 0, event: 0, raw: 0 },
    rejected: 0,
    writeErrors: 0,
    flushes: 0,
    sealedFiles: 0,
    sealErrors: 0,
  };
  private queue: RecordInput[] = [];
  /** Records of the batch being written not yet taken by the files (they count against the queue bound). */
  private inBatch = 0;
  /** Reading was asked to pause (`onBacklog(true)`). */
  private behind = false;
  /** The last try to open a file failed (it is tried again): records wait for the disk. */
  private openFailing = false;
  /** Tries to open a file that failed in a row. */
  private openFailures = 0;
  /** The events that state refused records. */
  private readonly refusals = new RefusalEvents();
  private wake: (() => void) | null = null;
  private wakeScheduled = false;
  private running: Promise<void> | null = null;
  /** The flush in progress. */
  private flushing: Promise<void> | null = null;
  /** What stops the loop: a listener of a finished flush threw, or appending a record failed (not a refusal). */
  private failure: unknown = null;
  private stopping = false;
  /** Stopped: the files are sealed, and a record pushed now is dropped (counted, logged). */
  private closed = false;
  private lastFlushMs = 0;
  /** Records lost since the last gap event: count and the receive-time span. */
  private lost: {
    count: number;
    from: bigint;
    to: bigint;
    kinds: Record<Kind, number>;
    /** The earliest exchange time among the trades, book rows and quotes dropped, and its receive time. */
    first: Stamp | null;
    /** Each symbol's book rows dropped: how many, and the first (its exchange and receive times). */
    books: Map<string, { count: number; first: Stamp }>;
  } | null = null;
  private appended = 0;
  /** Receive time of the last record appended, as given (made a bigint at a flush, not per record). */
  private lastRecv: TimestampInput | null = null;
  /** Receive time of the first record appended since the last flush started (the next flush's oldest). */
  private firstRecv: TimestampInput | null = null;
  private readonly flushIntervalMs: number;
  private readonly maxQueued: number;
  private readonly maxUnwritten: number;

  constructor(private readonly options: FeedWriterOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxQueued = options.maxQueuedRecords ?? 1_000_000;
    this.maxUnwritten = options.maxUnwrittenBytes ?? 256 * 1024 * 1024;
    const log = options.log;
    this.hourly = new HourlyWriter({
      livePolicy: LIVE_BLOCK_POLICY,
      ...options.hourly,
      seal: "reblock",
      writer: {
        flushPauseMs: LIVE_FLUSH_PAUSE_MS,
        ...options.hourly.writer,
        retryWrites: {
          onWriteError: (err, attempt) => {
            this.stats.writeErrors++;
            options.onWriteError?.();
            // A disk failing is no reason to stop reading (the queue takes the records, up to its bound).
            if (this.behind) this.checkBacklog();
            // Every failure is counted; the log says it at the first and then every 20th, not 20 times a second.
            if (attempt === 1 || attempt % 20 === 0) {
              log.alert("write failed, retrying", { error: (err as Error).message, attempt });
            }
          },
        },
      },
      onSealed: (report, error, path) => {
        if (report !== null) {
          this.stats.sealedFiles++;
          log.info("sealed", {
            path,
            rows: report.rows,
            bytes: report.bytes,
            fromBytes: report.sourceBytes,
            droppedBytes: report.droppedBytes,
            reblocked: report.reblocked,
          });
          if (report.unreadable.length > 0)
            log.alert("unreadable parts kept aside", { files: report.unreadable });
          options.onSealed?.(report);
        } else {
          this.stats.sealErrors++;
          log.alert("seal failed; the hour's files stay and are sealed at the next start", {
            path,
            error: (error as Error).message,
          });
        }
      },
      onRejected: (rec: RecordInput, err: TapeValueError) => {
        this.stats.rejected++;
        log.warn("record refused by the format", { kind: rec.kind, symbol: rec.symbol, error: err.message });
        // Stated in the files, as a dropped record is; an event refused in turn is only counted and logged. Dated
        // where the record would have been (readers order rows by exchange time, and the recorder's clock may run
        // ahead of the venue's), or now when its own time is what the format refused.
        const now = this.options.clock.nowNs();
        const event = this.refusals.of(rec, err, stampOf(rec) ?? { ts: now, recvNs: now });
        if (event === null) return;
        this.queue.push(event);
        this.stats.queued = this.queue.length;
      },
    });
  }

  /** The writer stopped with an error (`onFailure`): nothing more is written until `stop()` seals the files. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Takes one record into the file now, or queues it; never waits. */
  push(rec: RecordInput): void {
    if (this.closed || this.failure !== null) {
      this.dropAfterStop(rec);
      return;
    }
    if (this.queue.length + this.inBatch >= this.maxQueued) {
      this.drop(rec);
      return;
    }
    if (this.lost !== null) this.reportLoss();
    if (!this.appendNow(rec)) {
      this.queue.push(rec);
      this.stats.queued = this.queue.length;
      if (!this.behind && this.queue.length + this.inBatch >= BACKLOG_HIGH) this.checkBacklog();
    }
    if (this.queue.length > 0 && this.wake !== null && !this.wakeScheduled) {
      // Woken after the I/O callbacks of this turn: every message that arrived in it is written as one batch.
      this.wakeScheduled = true;
      setImmediate(() => {
        this.wakeScheduled = false;
        this.wakeLoop();
      });
    }
  }

  /**
   * Appends a record to the file's buffers at once when nothing waits before it and its hour's file is open: a
   * record queued until the next turn of the event loop lives through young collections, with its message's
   * strings, and so does every record of a turn that read thousands of messages (measured at 64k messages/s: 32 MB
   * a second survived one, and a full collection ran every 1.3 s). False when the record must be queued: records
   * wait already, a file must be opened, the disk is behind, or the writer is stopping or not started.
   */
  private appendNow(rec: RecordInput): boolean {
    if (this.queue.length > 0 || this.inBatch > 0 || this.running === null || this.stopping) return false;
    if (this.hourly.heldBytes > this.maxUnwritten) return false;
    let taken: "appended" | "rejected" | "rotate";
    try {
      taken = this.hourly.appendNow(rec);
    } catch (err) {
      // Not a value the format refuses (those are `rejected`): the loop stops with it, as when it appends, and the
      // record is counted as dropped.
      this.failure = err;
      this.countDropped(rec);
      this.wakeLoop();
      return true;
    }
    if (taken === "rotate") return false;
    if (taken === "appended") {
      this.appended++;
      this.stats.written++;
      if (rec.recvTs !== undefined) {
        this.lastRecv = rec.recvTs;
        this.firstRecv ??= rec.recvTs;
      }
    }
    return true;
  }

  /** Tells the caller when the writer falls behind for want of CPU, and when it has caught up. */
  private checkBacklog(): void {
    const waiting = this.queue.length + this.inBatch;
    // Records waiting for a file to open, or for a file that could not be opened, wait for the disk, not the CPU.
    const diskKeepsUp =
      this.hourly.heldBytes <= this.maxUnwritten && !this.hourly.openingFile && !this.openFailing;
    const behind = this.behind
      ? waiting > BACKLOG_LOW && diskKeepsUp
      : waiting >= BACKLOG_HIGH && diskKeepsUp;
    if (behind === this.behind) return;
    this.behind = behind;
    this.options.onBacklog?.(behind);
  }

  private drop(rec: RecordInput): void {
    const t = BigInt(rec.recvTs ?? rec.ts);
    this.countDropped(rec);
    if (this.lost === null) {
      this.lost = {
        count: 0,
        from: t,
        to: t,
        kinds: { trade: 0, book: 0, bbo: 0, event: 0, raw: 0 },
        first: null,
        books: new Map(),
      };
      this.options.log.alert("writer queue full: dropping records until the disk catches up", {
        queued: this.queue.length,
      });
    }
    this.lost.count++;
    this.lost.to = t;
    this.lost.kinds[rec.kind]++;
    if (rec.kind !== "event" && rec.kind !== "raw") {
      const ts = BigInt(rec.ts);
      if (this.lost.first === null || ts < this.lost.first.ts) this.lost.first = { ts, recvNs: t };
      if (rec.kind === "book") {
        const book = this.lost.books.get(rec.symbol);
        if (book === undefined) this.lost.books.set(rec.symbol, { count: 1, first: { ts, recvNs: t } });
        else book.count++;
      }
    }
  }

  private countDropped(rec: RecordInput): void {
    this.stats.dropped++;
    this.stats.droppedByKind[rec.kind]++;
    this.options.onDropped?.(rec);
  }

  /** The gap event for records dropped, queued ahead of the first record taken again. */
  private reportLoss(): void {
    const l = this.lost!;
    this.lost = null;
    const kinds = Object.entries(l.kinds)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    const message = `${l.count} records not written (${kinds}), received from ${l.from} to ${l.to} ns: the writer queue was full (disk slow or failing)`;
    this.options.log.alert("records dropped", {
      count: l.count,
      from: l.from.toString(),
      to: l.to.toString(),
    });
    // Where the first record dropped would have been (exchange time, then receive time): readers order rows so, and
    // the recorder's clock may run ahead of the venue's, so that an event at its own time would sort after rows
    // written after the loss, and break the books the resync that follows restores.
    const now = this.options.clock.nowNs();
    this.queue.push(eventRecord("", "gap", message, l.first ?? { ts: now, recvNs: now }));
    // And for each book, where its own first row dropped would have been: a snapshot written before the loss (an
    // hour's carry-over, a resync) may sort after the event above and make the book valid again for readers.
    for (const [symbol, book] of l.books) {
      const what = `${book.count} book rows not written: the writer queue was full (disk slow or failing)`;
      this.queue.push(eventRecord(symbol, "gap", what, book.first));
    }
    this.options.onResumed?.();
  }

  start(): void {
    if (this.running !== null) return;
    this.lastFlushMs = Date.now();
    this.running = this.loop();
    // Told at once, not first at stop(); and handled, so that it is no unhandled rejection.
    this.running.catch((err: unknown) => {
      this.failure ??= err;
      this.options.log.alert("the writer stopped: records pushed from now on are dropped", {
        error: err instanceof Error ? err.message : String(err),
      });
      try {
        this.options.onFailure?.(err);
      } catch (listenerErr) {
        this.options.log.alert("onFailure threw", { error: (listenerErr as Error).message });
      }
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping || this.queue.length > 0) {
      if (!this.stopping && this.queue.length === 0) await this.idle();
      if (this.failure !== null) throw this.failure;
      if (this.hourly.heldBytes > this.maxUnwritten) {
        // The disk is not taking what it has: leave the records queued (the queue bound decides), and reading
        // goes on.
        if (this.behind) this.checkBacklog();
        await sleep(20);
        if (!this.flushDue()) continue;
      } else if (this.queue.length > 0) {
        await this.writeQueued();
      }
      if (this.flushDue()) {
        // One time for the hook and the seal: a seal on a clock that passed the hour after the hook would miss it.
        const now = this.options.clock.nowNs();
        const sealable = await this.endHourIfOver(now);
        this.startFlush(sealable ? now : null);
      }
    }
    // Stopping, with nothing queued: the last flush, after the one in progress (also when the loop left through
    // the slow-disk branch).
    await this.flushing;
    if (this.failure !== null) throw this.failure;
    await this.flush();
  }

  /**
   * Before a flush that seals the current file (its hour is over): the caller records what that file must still
   * say (`onHourOver`), and it is written with whatever waits, before the seal. Records pushed meanwhile were
   * received after the hour and belong to the next file. False when records wait that the disk does not take yet
   * (more than `maxUnwrittenBytes` held): the seal waits for a later flush, after they are written.
   */
  private async endHourIfOver(nowNs: bigint): Promise<boolean> {
    const end = this.hourly.currentHourEnd;
    if (end === null || this.options.onHourOver === undefined || nowNs < end) return true;
    this.options.onHourOver(end);
    if (this.queue.length === 0) return true;
    if (this.hourly.heldBytes > this.maxUnwritten) return false;
    await this.writeQueued();
    return true;
  }

  /** No flush in progress, and the last one started `flushIntervalMs` ago or more. */
  private flushDue(): boolean {
    return this.flushing === null && Date.now() - this.lastFlushMs >= this.flushIntervalMs;
  }

  /**
   * A flush runs beside the loop, which goes on taking queued records into the file's buffers meanwhile. Awaited
   * in the loop, each flush left the records of its writes and fsync in the queue (up to 42,000 at 64k messages/s),
   * near BACKLOG_HIGH, which pauses reading though the disk keeps up.
   */
  private startFlush(nowNs: bigint | null): void {
    const job = this.flush(nowNs);
    this.flushing = job;
    job.then(
      () => {
        this.flushing = null;
        this.wakeLoop();
      },
      (err: unknown) => {
        // Only a listener (`onFlushed`) can throw here: the loop stops with it, as when it awaited the flush.
        this.flushing = null;
        this.failure = err;
        this.wakeLoop();
      },
    );
  }

  /** Waits for records, for the next flush to be due, or for the flush in progress to end. */
  private async idle(): Promise<void> {
    const dueMs = this.lastFlushMs + this.flushIntervalMs - Date.now();
    if (this.flushing === null && dueMs <= 0) return;
    // One timer for the wait, cleared when records wake the loop first: left to run, the timers of a second's
    // thousands of waits would all fire together at the flush, holding up the sockets for milliseconds.
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      // With a flush in progress, its end wakes the loop (startFlush).
      if (this.flushing === null) {
        timer = setTimeout(() => {
          if (this.wake === resolve) this.wake = null;
          resolve();
        }, dueMs).unref();
      }
    });
    clearTimeout(timer);
  }

  private wakeLoop(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async writeQueued(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.stats.queued = 0;
    let written = 0;
    let rejected = 0;
    let error: unknown = null;
    let failure: unknown = null;
    this.inBatch = batch.length;
    try {
      while (written < batch.length && error === null && failure === null) {
        if (written > 0) await yieldToEventLoop();
        const part =
          batch.length <= RECORDS_PER_TURN ? batch : batch.slice(written, written + RECORDS_PER_TURN);
        const result = await this.hourly.write(part);
        written += result.written;
        rejected += result.rejected;
        // Of a record appended, so a time the format took: one refused may not convert.
        if (result.last?.recvTs !== undefined) this.lastRecv = result.last.recvTs;
        if (result.first?.recvTs !== undefined) this.firstRecv ??= result.first.recvTs;
        error = result.error;
        failure = result.failure;
        this.inBatch = batch.length - written;
        if (this.behind) this.checkBacklog();
      }
    } finally {
      this.inBatch = 0;
    }
    this.appended += written - rejected;
    this.stats.written += written - rejected;
    if (failure !== null) {
      // Appending failed (not a refusal): that record is counted as dropped, and the ones after it go back to the
      // front, for stop() to write or count as dropped.
      this.countDropped(batch[written]!);
      this.queue = batch.slice(written + 1).concat(this.queue);
      this.stats.queued = this.queue.length;
      throw failure;
    }
    this.openFailing = error !== null;
    if (error !== null) {
      // A file could not be opened (disk full, permissions): what was not taken goes back to the front.
      if (this.behind) this.checkBacklog();
      this.stats.writeErrors++;
      this.options.onWriteError?.();
      const attempt = ++this.openFailures;
      // Counted every time; logged at the first failure and every 20th, tried again less and less often.
      if (attempt === 1 || attempt % 20 === 0)
        this.options.log.alert("cannot write to the dataset; retrying", {
          error: (error as Error).message,
          attempt,
        });
      this.queue = batch.slice(written).concat(this.queue);
      this.stats.queued = this.queue.length;
      await sleep(Math.min(OPEN_RETRY_MAX_MS, 500 * 2 ** Math.min(attempt - 1, 4)));
      return;
    }
    this.openFailures = 0;
    // The queue has room again: the loss is stated right after the records queued before it.
    if (this.lost !== null) this.reportLoss();
  }

  /** Flushes the current file, and seals it if `nowNs` is past its hour (null: no seal this time). */
  private async flush(nowNs: bigint | null = this.options.clock.nowNs()): Promise<void> {
    this.lastFlushMs = Date.now();
    const records = this.appended;
    const through = this.lastRecv === null ? null : BigInt(this.lastRecv);
    // Records appended from now on are the next flush's.
    const first = this.firstRecv;
    this.firstRecv = null;
    try {
      // Without `sync`, written bytes are kept until an fsync: one is made when they hold the queue back.
      await this.hourly.flush((this.options.sync ?? true) || this.hourly.heldBytes > this.maxUnwritten);
      if (nowNs !== null) await this.hourly.sealIfOver(nowNs);
    } catch (err) {
      // Not acknowledged: the next flush that succeeds acknowledges these records too, the oldest among them.
      if (first !== null) this.firstRecv = first;
      this.stats.writeErrors++;
      this.options.onWriteError?.();
      this.options.log.alert("flush failed; retrying", { error: (err as Error).message });
      return;
    }
    this.stats.flushes++;
    this.options.onFlushed?.({
      records,
      throughRecvNs: through,
      fromRecvNs: first === null ? null : BigInt(first),
    });
  }

  /** Writes everything queued, flushes, and seals the current file (waiting for every seal). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeLoop();
    this.start();
    // After a failure too, what can be written is written and the files are sealed, before stop() rejects with it.
    let failure: unknown = null;
    try {
      await this.running;
    } catch (err) {
      failure = err;
    }
    // Records pushed while the last flush ran, or queued when the writer failed: into the file, which the seal
    // writes.
    if (this.queue.length > 0) await this.writeQueued().catch((err: unknown) => (failure ??= err));
    await this.hourly.close().catch((err: unknown) => (failure ??= err));
    this.closed = true;
    for (const rec of this.queue.splice(0)) this.dropAfterStop(rec);
    this.stats.queued = 0;
    if (failure !== null) throw failure;
  }

  /** A record that came too late for the files (pushed once the writer had stopped): counted and logged. */
  private dropAfterStop(rec: RecordInput): void {
    this.countDropped(rec);
    if (this.stats.dropped === 1 || this.stats.dropped % 1000 === 0) {
      this.options.log.alert("records pushed after the writer stopped are not written", {
        dropped: this.stats.dropped,
      });
    }
  }
}

/** A record's exchange and receive times, when the format can store them (null otherwise). */
function stampOf(rec: RecordInput): Stamp | null {
  try {
    return {
      ts: toTimestamp(rec.ts, "ts"),
      recvNs: rec.recvTs === undefined ? null : toTimestamp(rec.recvTs, "recvTs"),
    };
  } catch {
    return null;
  }
}
