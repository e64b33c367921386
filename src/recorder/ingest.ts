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

/** Messages read from a capture file between two awaits. */
const CAPTURE_CHUNK = 1024;

/**
 * The messages of one input in receive order, a chunk at a time: one await per chunk (not per message), and a raw
 * frame's text decoded straight from the block's bytes.
 */
async function* messageChunksOf(input: string): AsyncGenerator<CapturedMessage[]> {
  if (!/\.tape(\.open)?$/.test(input)) {
    let chunk: CapturedMessage[] = [];
    try {
      for await (const m of readCapture(input)) {
        chunk.push(m);
        if (chunk.length === CAPTURE_CHUNK) {
          yield chunk;
          chunk = [];
        }
      }
    } catch (err) {
      // A bad line ends the input: the messages before it are handed over first.
      if (chunk.length > 0) yield chunk;
      throw err;
    }
    if (chunk.length > 0) yield chunk;
    return;
  }
  const ds = datasetOfFiles([input]);
  for await (const rows of ds.replayChunks({ kinds: ["raw"], exact: true })) {
    yield rows.map((r) => {
      const { data, recvTs } = r as RawRecord;
      const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
      return messageOfRaw(text, recvTs ?? null);
    });
  }
}

/** The messages of one input, in receive order. */
export async function* messagesOf(input: string): AsyncGenerator<CapturedMessage> {
  for await (const chunk of messageChunksOf(input)) yield* chunk;
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
      for await (const chunk of messageChunksOf(input)) {
        for (const m of chunk) {
          feed.receive(m);
          if (++n % BATCH_MESSAGES === 0) await writeAll(writer, pending);
          if (n % every === 0) options.onProgress?.(feed.stats, input);
        }
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
