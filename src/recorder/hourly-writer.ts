/**
 * Writes one exchange's records into the dataset layout, one file per UTC hour of receive time (exchange time when
 * the receive time is unknown): `<root>/<date>/<exchange>/<exchange>-<date>T<HH>.<capture>.tape`. A file is
 * `.tape.open` while written and sealed when a record of a later hour arrives, when its hour is over
 * (`sealIfOver`), or on `close()`. An hour sealed (or being sealed) is never opened again: a record of such an hour
 * (one that arrived while its hour was being sealed, or a clock stepping back) goes into the current file or the
 * next hour's: a file may hold records outside its hour, and readers allow for it.
 *
 * Two ways to seal: `direct` (footer and rename: ingest, whose blocks are full) and `reblock` (the recorder, which
 * flushes small blocks every second: unless its blocks are big already, the hour is written again with full
 * blocks, in the background, see hour-sealer.ts; a seal that fails is tried again). In `reblock` mode an hour's
 * `.open` file left by an earlier process is set aside as a part and joined at the seal.
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { TapeError, TapeValueError } from "../format/errors.js";
import { toTimestamp } from "../format/kind-buffer.js";
import type { RecordInput } from "../format/records.js";
import {
  type BlockPolicy,
  type SealSummary,
  syncDirectory,
  TapeWriter,
  type TapeWriterOptions,
} from "../format/writer.js";
import { HOUR_NS, hourOf, tapeRelativePath } from "../reader/layout.js";
import { type HourSealReport, listParts, sealHour, setAside } from "./hour-sealer.js";

/**
 * Average rows per block from which a recorded hour is sealed as written: measured on simulated Binance
 * sessions, such a file is within about 1% of one written in one go; below it, flushes every second leave blocks
 * small enough to cost (1.3x at 33 rows a block), and the hour is written again with full blocks.
 */
export const COMPACT_ROWS_PER_BLOCK = 256;

export interface HourlyWriterOptions {
  root: string;
  exchange: string;
  captureId: string;
  /** Passed to each file's writer (codec, block policy, meta, write retries). */
  writer?: Omit<TapeWriterOptions, "exchange" | "captureId" | "periodStart" | "periodEnd">;
  /** Changes to `writer.policy` for files as they are written; a reblocking seal writes with `writer.policy`. */
  livePolicy?: Partial<BlockPolicy>;
  /** `direct` (default) or `reblock`. */
  seal?: "direct" | "reblock";
  /** Told about each sealed hour (reblock mode), or about a seal that failed (the sources stay for the next start). */
  onSealed?(report: HourSealReport | null, error: unknown, path: string): void;
  /**
   * Told about a record the format cannot store (a value beyond its limits); without it such a record throws.
   * The other records of the batch are written.
   */
  onRejected?(record: RecordInput, error: TapeValueError): void;
}

/** The time that places a record in an hour's file; a time the format cannot store is a TapeValueError. */
function timeOf(rec: RecordInput): bigint {
  return rec.recvTs === undefined ? toTimestamp(rec.ts, "ts") : toTimestamp(rec.recvTs, "recvTs");
}

export class HourlyWriter {
  private current: TapeWriter | null = null;
  private hour = -1n;
  /** `hour` + one hour. */
  private hourEnd = -1n;
  readonly sealed: SealSummary[] = [];
  /** Background seals in progress (reblock mode). */
  private readonly sealing = new Set<Promise<void>>();
  /** Hours whose retried seal is in progress. */
  private readonly sealingHours = new Set<bigint>();
  /** Hours left unsealed by an earlier process, to seal when they are over. */
  private readonly adopted = new Set<bigint>();
  /**
   * The hour whose file `rotate` is opening (-1: none). An adopted hour being opened is sealed with that file, not
   * before: a seal of its own would take the new file, still empty, as one of its sources and remove it.
   */
  private opening = -1n;
  /** The latest hour sealed or being sealed by this writer (-1: none). */
  private sealedThrough = -1n;
  /** Hours whose seal failed, with when to try again (ms since the epoch) and how often it failed. */
  private readonly failedSeals = new Map<bigint, { at: number; attempts: number }>();

  constructor(readonly options: HourlyWriterOptions) {
    // Checked now, not at the first record's file: a bad id is the caller's error, not a write failure.
    try {
      tapeRelativePath(options.exchange, 0n, options.captureId);
    } catch (err) {
      const message = (err as Error).message;
      const field = message.startsWith("exchange") ? "exchange" : "captureId";
      throw new TapeError("E_TAPE_VALUE", message, { field, cause: err });
    }
  }

  /** The file being written, if any. */
  get writer(): TapeWriter | null {
    return this.current;
  }

  /** The final path of an hour's file. */
  pathOf(hour: bigint): string {
    const o = this.options;
    return join(o.root, tapeRelativePath(o.exchange, hour, o.captureId));
  }

  /**
   * Appends records in receive order, rotating to a new file at each later hour. Returns how many were taken
   * (`written`): all of them, unless a file could not be opened (`error`); the caller offers the rest again later.
   * Of those taken, `rejected` were refused by the format (`onRejected`) and are in no file; `first` and `last` are
   * the first and the last one appended to a file. `failure`: taking record `written` failed for a reason other than a refusal (a fault, not
   * the disk): it is in no file, the ones before it are, and the rest were not tried.
   */
  async write(records: readonly RecordInput[]): Promise<{
    written: number;
    rejected: number;
    first: RecordInput | null;
    last: RecordInput | null;
    error: unknown;
    failure: unknown;
  }> {
    let rejected = 0;
    let first: RecordInput | null = null;
    let last: RecordInput | null = null;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      try {
        const t = this.timeOrReject(rec);
        if (t === null) {
          rejected++;
          continue;
        }
        // Almost every record falls in the current file's hour: two comparisons, no arithmetic.
        if (this.current === null || t < this.hour || t >= this.hourEnd) {
          const hour = this.hourFor(t);
          if (this.current === null || hour > this.hour) {
            try {
              await this.rotate(hour);
            } catch (err) {
              return { written: i, rejected, first, last, error: err, failure: null };
            }
          }
        }
        if (this.appendOrReject(this.current!, rec)) {
          first ??= rec;
          last = rec;
        } else rejected++;
      } catch (err) {
        return { written: i, rejected, first, last, error: null, failure: err };
      }
    }
    return { written: records.length, rejected, first, last, error: null, failure: null };
  }

  /**
   * Appends one record now if it goes into the file being written (`appended`, or `rejected` when the format
   * refused it, see `onRejected`); `rotate` when it needs a file opened first (`write` does that), and it was not
   * taken.
   */
  appendNow(rec: RecordInput): "appended" | "rejected" | "rotate" {
    const t = this.timeOrReject(rec);
    if (t === null) return "rejected";
    // As in `write`: almost every record falls in the current file's hour.
    if (this.current === null || t < this.hour || t >= this.hourEnd) {
      if (this.current === null || this.hourFor(t) > this.hour) return "rotate";
    }
    return this.appendOrReject(this.current, rec) ? "appended" : "rejected";
  }

  /**
   * The time that places `rec` in a file, or null when the format refused it (`onRejected`): refused before it can
   * choose a file, since a time far off would open (and then keep) an hour of its own.
   */
  private timeOrReject(rec: RecordInput): bigint | null {
    try {
      return timeOf(rec);
    } catch (err) {
      if (!this.reject(rec, err)) throw err;
      return null;
    }
  }

  /** Appends `rec` to `file`; false when the format refused it (`onRejected`). */
  private appendOrReject(file: TapeWriter, rec: RecordInput): boolean {
    try {
      file.append(rec);
      return true;
    } catch (err) {
      if (!this.reject(rec, err)) throw err;
      return false;
    }
  }

  /** The hour whose file takes a record of time `t`: never an hour sealed or being sealed. */
  private hourFor(t: bigint): bigint {
    const hour = hourOf(t);
    if (hour > this.sealedThrough) return hour;
    return this.current !== null ? this.hour : this.sealedThrough + HOUR_NS;
  }

  /** Tells `onRejected` about a record the format refused; false when `err` is something else, or no one listens. */
  private reject(rec: RecordInput, err: unknown): boolean {
    if (!(err instanceof TapeValueError) || this.options.onRejected === undefined) return false;
    this.options.onRejected(rec, err);
    return true;
  }

  private async rotate(hour: bigint): Promise<void> {
    this.opening = hour;
    try {
      await this.openHour(hour);
    } finally {
      this.opening = -1n;
    }
  }

  private async openHour(hour: bigint): Promise<void> {
    await this.seal();
    const path = this.pathOf(hour);
    let firstMade: string | undefined;
    try {
      firstMade = await mkdir(dirname(path), { recursive: true });
    } catch (err) {
      throw new TapeError("E_TAPE_IO", `cannot create the folder: ${(err as Error).message}`, {
        file: dirname(path),
        cause: err,
      });
    }
    if (this.options.seal === "reblock") await setAside(path);
    const { writer, livePolicy } = this.options;
    const file = await TapeWriter.create(path, {
      ...writer,
      ...(livePolicy === undefined ? {} : { policy: { ...writer?.policy, ...livePolicy } }),
      exchange: this.options.exchange,
      captureId: this.options.captureId,
      periodStart: hour,
      periodEnd: hour + HOUR_NS,
    });
    try {
      await syncNewEntries(dirname(path), firstMade);
    } catch (err) {
      // Tried again as any file that could not be opened: this one holds only its header, and goes.
      await file.discard();
      await rm(file.openPath, { force: true });
      throw err;
    }
    this.current = file;
    this.hour = hour;
    this.hourEnd = hour + HOUR_NS;
  }

  /**
   * Writes buffered records to the file (small blocks), and fsyncs with `sync`. Records may be written meanwhile;
   * a seal (a later hour's record) waits for the flush to end.
   */
  async flush(sync: boolean): Promise<void> {
    await this.current?.flush({ sync });
  }

  /** The end of the current file's hour (ns), or null without a file. */
  get currentHourEnd(): bigint | null {
    return this.current === null ? null : this.hourEnd;
  }

  /** A file is being opened (its folder made, the hour's parts set aside, its header written). */
  get openingFile(): boolean {
    return this.opening >= 0n;
  }

  /**
   * Bytes the current file holds in memory: encoded and not yet written, or written and kept until an fsync
   * succeeds (to be written again should it fail). Both grow while the disk fails.
   */
  get heldBytes(): number {
    const c = this.current;
    return c === null ? 0 : c.unwrittenBytes + c.unsyncedBytes;
  }

  /**
   * Takes over an hour that an earlier process left unsealed and that is not over yet: its `.open` file is set
   * aside as a part, and the hour is sealed with its parts when it is over, whether or not records arrive.
   */
  async adopt(hour: bigint): Promise<void> {
    await setAside(this.pathOf(hour));
    this.adopted.add(hour);
  }

  /** Seals, in the background, a past hour that an earlier process left unsealed (tried again if it fails). */
  sealLeftover(hour: bigint): void {
    if (hour > this.sealedThrough) this.sealedThrough = hour;
    this.track(this.reblock(hour, this.pathOf(hour)), hour);
  }

  /** Seals the current file when `nowNs` is past its hour (a feed that went quiet still gets its file sealed). */
  async sealIfOver(nowNs: bigint): Promise<void> {
    if (this.current !== null && nowNs >= this.hour + HOUR_NS) await this.seal();
    for (const hour of this.adopted) {
      if (nowNs < hour + HOUR_NS || hour === this.opening || (this.current !== null && hour === this.hour))
        continue;
      this.adopted.delete(hour);
      if (hour > this.sealedThrough) this.sealedThrough = hour;
      this.track(this.reblock(hour, this.pathOf(hour)), hour);
    }
    // Seals that failed (a full disk, an I/O error) are tried again, less and less often.
    const now = Date.now();
    for (const [hour, f] of this.failedSeals) {
      if (now < f.at || this.sealingHours.has(hour)) continue;
      this.track(this.reblock(hour, this.pathOf(hour)), hour);
    }
  }

  private track(job: Promise<void>, hour?: bigint): void {
    this.sealing.add(job);
    if (hour !== undefined) this.sealingHours.add(hour);
    void job.finally(() => {
      this.sealing.delete(job);
      if (hour !== undefined) this.sealingHours.delete(hour);
    });
  }

  /** Seals the current file, if any (in reblock mode: closes it and seals in the background). */
  async seal(): Promise<void> {
    const w = this.current;
    if (w === null) return;
    // The file's hour, taken with it: records of a later hour may open the next file (and set `this.hour`) while
    // this one is sealed. The file's writer lets a flush in progress end before it seals.
    const hour = this.hour;
    this.current = null;
    if (hour > this.sealedThrough) this.sealedThrough = hour;
    if (this.options.seal !== "reblock") {
      this.sealed.push(await w.seal());
      return;
    }
    this.adopted.delete(hour);
    const recordBlocks = w.index.recordBlocks;
    const compact = recordBlocks === 0 || w.rows / recordBlocks >= COMPACT_ROWS_PER_BLOCK;
    // Parts that cannot be listed may be there: the seal with a second pass finds them, or fails and is retried.
    const parts = await listParts(w.path).catch(() => null);
    if (compact && parts !== null && parts.length === 0) {
      // A busy hour's blocks are big already: sealed as written, without a second pass over the hour.
      let summary: SealSummary;
      try {
        summary = await w.seal();
      } catch (err) {
        // The `.open` file stays, with everything flushed: sealed again later (with a second pass).
        await w.close().catch(() => {});
        this.sealFailed(hour, w.path, err);
        return;
      }
      this.sealed.push(summary);
      this.options.onSealed?.(
        {
          path: summary.path,
          sources: [w.openPath],
          unreadable: [],
          rows: summary.rows,
          blocks: summary.blocks,
          bytes: summary.bytes,
          sourceBytes: summary.bytes,
          droppedBytes: 0,
          alreadySealed: false,
          reblocked: false,
        },
        null,
        summary.path,
      );
      return;
    }
    try {
      await w.close();
    } catch (err) {
      this.sealFailed(hour, w.path, err);
      return;
    }
    this.track(this.reblock(hour, w.path), hour);
  }

  private sealFailed(hour: bigint, path: string, err: unknown): void {
    const attempts = (this.failedSeals.get(hour)?.attempts ?? 0) + 1;
    this.failedSeals.set(hour, { at: Date.now() + Math.min(60_000, 1000 * 2 ** attempts), attempts });
    this.options.onSealed?.(null, err, path);
  }

  private async reblock(hour: bigint, path: string): Promise<void> {
    const { retryWrites: _retry, flushPauseMs: _pause, ...writer } = this.options.writer ?? {};
    try {
      const report = await sealHour(path, writer);
      this.failedSeals.delete(hour);
      this.sealed.push({ path, bytes: report.bytes, blocks: report.blocks, rows: report.rows });
      this.options.onSealed?.(report, null, path);
    } catch (err) {
      this.sealFailed(hour, path, err);
    }
  }

  /**
   * Seals the current file and waits for every seal in progress (adopted hours not over stay for the next start).
   * Rejects when an hour's seal failed and was not done since: its files stay `.open`, for the next start to seal,
   * and the caller must not report a clean stop.
   */
  async close(): Promise<SealSummary[]> {
    await this.seal();
    while (this.sealing.size > 0) await Promise.all([...this.sealing]);
    if (this.failedSeals.size > 0) {
      const paths = [...this.failedSeals.keys()].map((hour) => this.pathOf(hour));
      throw new TapeError(
        "E_TAPE_IO",
        `${paths.length} hour(s) not sealed, left as .open files for the next start: ${paths.join(", ")}`,
        { file: paths[0]! },
      );
    }
    return this.sealed;
  }
}

/**
 * Makes durable the entry of a file just created in `dir`, and those of the folders made for it (`firstMade`, the
 * first folder `mkdir` made, down to `dir`): without it, a crash of the host could lose the file whose flushes were
 * acknowledged (POSIX makes an entry durable only with its folder's fsync).
 */
async function syncNewEntries(dir: string, firstMade: string | undefined): Promise<void> {
  const top = firstMade === undefined ? dir : dirname(firstMade);
  for (let d = dir; ; d = dirname(d)) {
    await syncDirectory(d);
    if (d === top || dirname(d) === d) return;
  }
}
