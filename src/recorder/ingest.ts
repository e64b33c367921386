/**
 * Offline ingest: recorded messages through exactly the connector code that runs live (parse, sequence, checksum,
 * book), written as `.tape` files. Inputs are capture files (docs/CAPTURE.md) or tapes holding `raw` records, so a
 * day can be normalised again after a parser fix.
 */
import { isUtf8 } from "node:buffer";
import type { BlockHeader } from "../format/block.js";
import { TapeError, type TapeValueError } from "../format/errors.js";
import type { RawRecord, RecordInput } from "../format/records.js";
import { blockRecords } from "../format/rows.js";
import type { SealSummary } from "../format/writer.js";
import { Heap } from "../reader/heap.js";
import { openTape } from "../reader/sources.js";
import { RefusalEvents } from "./book-feed.js";
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
  /** Told about each frame the connector cannot read; `where` is the input and its line (or raw record). */
  onBadFrame?(error: TapeError, text: string, where: string): void;
  /** Told about each record the format refuses (a value beyond its limits): a `gap` event in the files names it. */
  onRejected?(record: RecordInput, error: TapeValueError): void;
}

export interface IngestSummary extends FeedStats {
  venue: VenueId;
  inputs: number;
  /** Records the format refused (each stated by a `gap` event), not written. */
  rejected: number;
  files: SealSummary[];
}

/** Messages read from a capture file between two awaits. */
const CAPTURE_CHUNK = 1024;

/**
 * The messages of one input in receive order, a chunk at a time: one await per chunk (not per message), and a raw
 * frame's text decoded straight from the block's bytes.
 */
async function* messageChunksOf(input: string, venue: VenueId | null): AsyncGenerator<LocatedMessage[]> {
  if (!/\.tape(\.open)?$/.test(input)) {
    let chunk: LocatedMessage[] = [];
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
  let n = 0;
  for await (const records of rawRecordsOfTape(input, venue)) {
    yield records.map(({ data, recvTs }) => {
      n++;
      const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
      // Bytes that are not UTF-8 decode to U+FFFD: checked only then (a frame may hold the character itself).
      if (text.includes("\uFFFD") && !isUtf8(data))
        throw new TapeError("E_TAPE_CAPTURE", `raw record ${n}: not valid UTF-8`, { file: input });
      const m = messageOfRaw(text, recvTs ?? null) as LocatedMessage;
      m.line = n;
      return m;
    });
  }
}

/** A symbol's raw blocks, read one after the other, and the row the merge is at. */
interface RawStream {
  blocks: BlockHeader[];
  /** Index in `blocks` of the block being read. */
  block: number;
  rows: RawRecord[];
  row: number;
}

/**
 * The raw records of a tape in receive order, a block at a time. Each symbol's raw blocks hold its messages in the
 * order they were received; the symbols' streams are merged by time. A message whose receive time steps back (the
 * host clock) keeps its place in its symbol's stream, where a replay (sorted by time) would move it ahead of the
 * messages received before it, out of their sequence.
 */
async function* rawRecordsOfTape(input: string, venue: VenueId | null): AsyncGenerator<RawRecord[]> {
  const reader = await openTape(input);
  try {
    if (venue !== null && reader.header.exchange !== venue) {
      throw new TapeError(
        "E_TAPE_VALUE",
        `holds messages of ${JSON.stringify(reader.header.exchange)}, not of ${venue}`,
        { file: input, field: "venue" },
      );
    }
    const bySymbol = new Map<string, BlockHeader[]>();
    for (const b of [...reader.selectBlocks({ kinds: ["raw"] })].sort((x, y) => x.offset - y.offset)) {
      const list = bySymbol.get(b.symbol);
      if (list === undefined) bySymbol.set(b.symbol, [b]);
      else list.push(b);
    }
    const load = async (s: RawStream) => {
      s.rows = blockRecords(await reader.readBlock(s.blocks[s.block]!)) as RawRecord[];
      s.row = 0;
    };
    // Earliest time first; at equal times, the block written first.
    const heap = new Heap<RawStream>((a, b) => {
      const ta = a.rows[a.row]!.ts;
      const tb = b.rows[b.row]!.ts;
      return ta < tb || (ta === tb && a.blocks[a.block]!.offset < b.blocks[b.block]!.offset);
    });
    for (const blocks of bySymbol.values()) {
      const s: RawStream = { blocks, block: 0, rows: [], row: 0 };
      await load(s);
      if (s.rows.length > 0) heap.push(s);
    }
    let out: RawRecord[] = [];
    for (let s = heap.peek(); s !== undefined; s = heap.peek()) {
      out.push(s.rows[s.row++]!);
      if (s.row < s.rows.length) heap.siftDown();
      else if (++s.block < s.blocks.length) {
        // Records are handed over before the next block is read: the caller may be slow.
        yield out;
        out = [];
        await load(s);
        heap.siftDown();
      } else heap.pop();
    }
    if (out.length > 0) yield out;
  } finally {
    await reader.close();
  }
}

/** A message and where it is in its input: the line of a capture file, the raw record of a tape (from 1). */
type LocatedMessage = CapturedMessage & { line: number };

/** The messages of one input, in receive order; a tape must hold `venue`'s messages, when given. */
export async function* messagesOf(
  input: string,
  venue: VenueId | null = null,
): AsyncGenerator<CapturedMessage> {
  for await (const chunk of messageChunksOf(input, venue)) yield* chunk;
}

/**
 * A silence longer than this ends a session: no book is carried over the next hour (the recorder's default
 * `stallSeconds`, after which it replaces a silent connection).
 */
const INGEST_MAX_SILENCE_NS = 30_000_000_000n;

/** Messages handled between two writes: records are written in batches, one await per batch. */
const BATCH_MESSAGES = 1024;

async function writeAll(writer: HourlyWriter, records: RecordInput[]): Promise<void> {
  try {
    const { error, failure } = await writer.write(records);
    if (failure !== null) throw failure;
    if (error !== null) throw error;
  } finally {
    // Taken or not, never offered twice.
    records.length = 0;
  }
}

export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const pending: RecordInput[] = [];
  /** `gap` events for refused records, written after the batch they were refused from. */
  const refusals: RecordInput[] = [];
  const refusalEvents = new RefusalEvents();
  let rejected = 0;
  const writer = new HourlyWriter({
    root: options.out,
    exchange: options.venue,
    captureId: options.captureId ?? "ingest",
    ...(options.writer === undefined ? {} : { writer: options.writer }),
    onRejected: (rec, err) => {
      rejected++;
      options.onRejected?.(rec, err);
      // At the latest receive time read (bare frames: the latest exchange time); an event refused in turn is only
      // counted.
      const recv = feed.latestReceiveTime;
      const at =
        recv !== null && recv > 0n ? { ts: recv, recvNs: recv } : { ts: feed.latestTime, recvNs: null };
      const event = refusalEvents.of(rec, err, at);
      if (event !== null) refusals.push(event);
    },
  });
  const flush = async () => {
    await writeAll(writer, pending);
    if (refusals.length > 0) await writeAll(writer, refusals);
  };
  // Ingest takes every symbol it meets: the empty selection means "all".
  const connector = createConnector(options.venue, { symbols: [], trades: true, book: true, bbo: true });
  // Where the message being read is (made into text only for a bad frame).
  let input = "";
  let line = 0;
  const onBadFrame = options.onBadFrame;
  const feed = new Feed(connector, {
    raw: options.raw ?? true,
    sink: (rec) => pending.push(rec),
    maxSilenceNs: INGEST_MAX_SILENCE_NS,
    ...(onBadFrame === undefined
      ? {}
      : { onBadFrame: (err, text) => onBadFrame(err, text, `${input}:${line}`) }),
  });
  const every = options.progressEvery ?? 100_000;
  try {
    for (const file of options.inputs) {
      input = file;
      let n = 0;
      for await (const chunk of messageChunksOf(file, options.venue)) {
        for (const m of chunk) {
          line = m.line;
          feed.receive(m);
          if (++n % BATCH_MESSAGES === 0) await flush();
          if (n % every === 0) options.onProgress?.(feed.stats, file);
        }
      }
      await flush();
      options.onProgress?.(feed.stats, file);
    }
  } finally {
    // Whatever was read is sealed, also when an input fails half way: nothing written is lost.
    try {
      feed.releaseTimeless();
      await flush();
    } finally {
      await writer.close();
    }
  }
  return {
    venue: options.venue,
    inputs: options.inputs.length,
    ...feed.stats,
    rejected,
    files: writer.sealed,
  };
}
