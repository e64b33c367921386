/** A dataset's blocks of one kind as Arrow record batches, and as an Arrow IPC stream. */
import { type RecordBatch, RecordBatchStreamWriter, type Schema } from "apache-arrow";
import type { DecodedBlock, Kind } from "../format/index.js";
import type { BatchOptions } from "../reader/batches.js";
import type { Dataset } from "../reader/dataset.js";
import { type ArrowPart, ArrowTable, type ArrowTableOptions } from "./arrow-table.js";

export interface ToArrowOptions extends ArrowTableOptions, Omit<BatchOptions, "kinds"> {
  /** The kind to export (one schema per kind). */
  kind: Kind;
  /** Rows per record batch, at least (whole blocks are gathered; default 65536). */
  batchRows?: number;
}

/** Rows of the record batches made from blocks: large enough that per-batch costs do not count. */
export const ARROW_BATCH_ROWS = 65_536;

/**
 * Decoded bytes of the blocks one record batch gathers, at most (about): Arrow's strings and binaries index their
 * bytes with int32 offsets, so a batch of large raw frames must close before 2 GiB of them.
 */
export const ARROW_BATCH_MAX_BYTES = 256 * 1024 * 1024;

/** Gathers blocks until they hold enough rows (or bytes) for one record batch. */
export class BatchGatherer {
  private parts: ArrowPart[] = [];
  private rows = 0;
  private bytes = 0;

  constructor(
    readonly table: ArrowTable,
    private readonly batchRows = ARROW_BATCH_ROWS,
    private readonly maxBytes = ARROW_BATCH_MAX_BYTES,
  ) {}

  /** Adds a block; returns a record batch when enough rows, or bytes, are gathered. */
  add(block: DecodedBlock, exchange: string): RecordBatch | null {
    this.parts.push({ block, exchange });
    this.rows += block.header.rowCount;
    this.bytes += block.header.rawLength;
    return this.rows >= this.batchRows || this.bytes >= this.maxBytes ? this.flush() : null;
  }

  /** The record batch of what is gathered, or null when nothing is. */
  flush(): RecordBatch | null {
    if (this.parts.length === 0) return null;
    const batch = this.table.batch(this.parts);
    this.parts = [];
    this.rows = 0;
    this.bytes = 0;
    return batch;
  }
}

/**
 * The selected records of one kind as Arrow record batches (whole blocks in the order of `dataset.batches()`):
 * `timestamp[ns, UTC]` timestamps, exact Decimal128(38, 18) and float64 prices and sizes (docs/EXPORT.md).
 */
export async function* toArrow(dataset: Dataset, options: ToArrowOptions): AsyncIterable<RecordBatch> {
  const { kind, decimals, timezone, batchRows, ...select } = options;
  const table = new ArrowTable(kind, {
    ...(decimals === undefined ? {} : { decimals }),
    ...(timezone === undefined ? {} : { timezone }),
  });
  const gather = new BatchGatherer(table, batchRows);
  for await (const b of dataset.batches({ ...select, kinds: [kind] })) {
    const batch = b.block === null ? null : gather.add(b.block, b.exchange);
    if (batch !== null) yield batch;
  }
  const last = gather.flush();
  if (last !== null) yield last;
}

/**
 * Record batches of `schema` as the bytes of an Arrow IPC stream (uncompressed), batch by batch; with no batch, a
 * stream of the schema alone.
 */
export async function* arrowIpcStream(
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
): AsyncIterable<Uint8Array> {
  const encoder = new ArrowIpcEncoder(schema);
  let finished = false;
  try {
    for await (const batch of batches) yield await encoder.encode(batch);
    finished = true;
    yield await encoder.finish();
  } finally {
    if (!finished) await encoder.finish();
  }
}

/** Encodes record batches of one schema as the successive bytes of an Arrow IPC stream. */
export class ArrowIpcEncoder {
  private readonly writer = new RecordBatchStreamWriter();
  private readonly chunks: Uint8Array[] = [];
  private readonly collected: Promise<void>;

  constructor(schema: Schema) {
    // The schema message now: a stream with no batch still names its columns.
    this.writer.reset(undefined, schema);
    const chunks = this.chunks;
    const writer = this.writer;
    // The writer hands its bytes to a reader in microtasks: one turn of the event loop after a write has them all.
    this.collected = (async () => {
      for await (const chunk of writer) chunks.push(chunk);
    })();
  }

  /** The bytes of one batch (the first call also returns the schema's). */
  async encode(batch: RecordBatch): Promise<Uint8Array> {
    this.writer.write(batch);
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.take();
  }

  /** The end-of-stream bytes (and anything not yet returned). */
  async finish(): Promise<Uint8Array> {
    this.writer.finish();
    this.writer.close();
    await this.collected;
    return this.take();
  }

  private take(): Uint8Array {
    const parts = this.chunks.splice(0);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
