/**
 * Offline ingest: recorded messages through exactly the connector code that runs live (parse, sequence, checksum,
 * book), written as `.tape` files. Inputs are capture files (docs/CAPTURE.md) or tapes holding `raw` records, so a
 * day can be normalised again after a parser fix.
 */
import type { TapeError } from "../format/errors.js";
import type { RawRecord, RecordInput } from "../format/records.js";
import type { SealSummary } from "../format/writer.js";
import { datasetOfFiles } from "../reader/dataset.js";
import { type CapturedMessage, messageOfRaw, readCapture } from "./capture.js";
import { createConnector, type VenueId } from "./connectors/index.js";
import { Feed, type FeedStats } from "./feed.js";
import { HourlyWriter, type HourlyWriterOptions } from "./hourly-writer.js";

export interface IngestOptions {
  venue: VenueId;
  /** Capture files (`.jsonl`, any other name) and tapes (`.tape`, `.tape.open`), read in the order given. */
  inputs: readonly string[];
  /** Dataset root the files are written under. */
  out: string;
  /** Capture id in the output file names (default `ingest`). */
  captureId?: string;
  /** Keep each message as a `raw` record in the output too (default true). */
  raw?: boolean;
  writer?: HourlyWriterOptions["writer"];
  /** Called every `progressEvery` messages and at the end. */
  onProgress?(stats: FeedStats, input: string): void;
  progressEvery?: number;
  onBadFrame?(error: TapeError, text: string): void;
}

export interface IngestSummary extends FeedStats {
  venue: VenueId;
  inputs: number;
  files: SealSummary[];
}

/** The messages of one input, in receive order. */
export async function* messagesOf(input: string): AsyncGenerator<CapturedMessage> {
  if (!/\.tape(\.open)?$/.test(input)) {
    yield* readCapture(input);
    return;
  }
  const ds = datasetOfFiles([input]);
  for await (const r of ds.replay({ kinds: ["raw"], exact: true })) {
    const raw = r as RawRecord;
    yield messageOfRaw(Buffer.from(raw.data).toString("utf8"), raw.recvTs ?? null);
  }
}

/** Messages handled between two writes: records are written in batches, one await per batch. */
const BATCH_MESSAGES = 1024;

async function writeAll(writer: HourlyWriter, records: RecordInput[]): Promise<void> {
  const { error } = await writer.write(records);
  records.length = 0;
  if (error !== null) throw error;
}

export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const pending: RecordInput[] = [];
  const writer = new HourlyWriter({
    root: options.out,
    exchange: options.venue,
    captureId: options.captureId ?? "ingest",
    ...(options.writer === undefined ? {} : { writer: options.writer }),
  });
  // Ingest takes every symbol it meets: the empty selection means "all".
  const connector = createConnector(options.venue, { symbols: [], trades: true, book: true, bbo: true });
  const feed = new Feed(connector, {
    raw: options.raw ?? true,
    sink: (rec) => pending.push(rec),
    ...(options.onBadFrame === undefined ? {} : { onBadFrame: options.onBadFrame }),
  });
  const every = options.progressEvery ?? 100_000;
  try {
    for (const input of options.inputs) {
      let n = 0;
      for await (const m of messagesOf(input)) {
        feed.receive(m);
        if (++n % BATCH_MESSAGES === 0) await writeAll(writer, pending);
        if (n % every === 0) options.onProgress?.(feed.stats, input);
      }
      await writeAll(writer, pending);
      options.onProgress?.(feed.stats, input);
    }
  } finally {
    // Whatever was read is sealed, also when an input fails half way: nothing written is lost.
    await writeAll(writer, pending);
    await writer.close();
  }
  return { venue: options.venue, inputs: options.inputs.length, ...feed.stats, files: writer.sealed };
}
