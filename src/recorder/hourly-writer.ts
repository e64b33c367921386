/**
 * Writes one exchange's records into the dataset layout, one file per UTC hour of receive time (exchange time when
 * the receive time is unknown): `<root>/<date>/<exchange>/<exchange>-<date>T<HH>.<capture>.tape`. A file is
 * `.tape.open` while written and sealed (fsync, rename) when a record of a later hour arrives or on `close()`.
 * A record of an hour already sealed (a clock stepping back) goes into the current file: a file may hold records
 * outside its hour, and readers allow for it.
 */
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { RecordInput } from "../format/records.js";
import { type SealSummary, TapeWriter, type TapeWriterOptions } from "../format/writer.js";
import { HOUR_NS, tapeRelativePath } from "../reader/layout.js";

export interface HourlyWriterOptions {
  root: string;
  exchange: string;
  captureId: string;
  /** Passed to each file's writer (codec, block policy, meta). */
  writer?: Omit<TapeWriterOptions, "exchange" | "captureId" | "periodStart" | "periodEnd">;
}

function timeOf(rec: RecordInput): bigint {
  const t = rec.recvTs ?? rec.ts;
  return typeof t === "bigint" ? t : BigInt(t);
}

export class HourlyWriter {
  private current: TapeWriter | null = null;
  private hour = -1n;
  readonly sealed: SealSummary[] = [];

  constructor(readonly options: HourlyWriterOptions) {}

  /** The file being written, if any. */
  get writer(): TapeWriter | null {
    return this.current;
  }

  /** Appends records in receive order, rotating to a new file at each later hour. */
  async write(records: readonly RecordInput[]): Promise<void> {
    for (const rec of records) {
      const t = timeOf(rec);
      const hour = t - (((t % HOUR_NS) + HOUR_NS) % HOUR_NS);
      if (this.current === null || hour > this.hour) await this.rotate(hour);
      this.current!.append(rec);
    }
  }

  private async rotate(hour: bigint): Promise<void> {
    await this.seal();
    const o = this.options;
    const path = join(o.root, tapeRelativePath(o.exchange, hour, o.captureId));
    await mkdir(dirname(path), { recursive: true });
    this.current = await TapeWriter.create(path, {
      ...o.writer,
      exchange: o.exchange,
      captureId: o.captureId,
      periodStart: hour,
      periodEnd: hour + HOUR_NS,
    });
    this.hour = hour;
  }

  /** Seals the current file, if any. */
  async seal(): Promise<void> {
    const w = this.current;
    if (w === null) return;
    this.current = null;
    this.sealed.push(await w.seal());
  }

  async close(): Promise<SealSummary[]> {
    await this.seal();
    return this.sealed;
  }
}
