/** A dataset's blocks of one kind as Arrow record batches, and as an Arrow IPC stream. */
import { type RecordBatch, RecordBatchStreamWriter, type Schema } from "apache-arrow";
import type { Kind } from "../format/index.js";
import type { BatchOptions } from "../reader/batches.js";
import type { Dataset } from "../reader/dataset.js";
import { ArrowTable, type ArrowTableOptions } from "./arrow-table.js";

export interface ToArrowOptions extends ArrowTableOptions, Omit<BatchOptions, "kinds"> {
  /** The kind to export (one schema per kind). */
  kind: Kind;
}

/**
 * The selected records of one kind as Arrow record batches (one per block, in the order of `dataset.batches()`):
 * `timestamp[ns, UTC]` timestamps, exact Decimal128(38, 18) and float64 prices and sizes (docs/EXPORT.md).
 */
export async function* toArrow(dataset: Dataset, options: ToArrowOptions): AsyncIterable<RecordBatch> {
  const { kind, decimals, timezone, ...select } = options;
  const table = new ArrowTable(kind, {
    ...(decimals === undefined ? {} : { decimals }),
    ...(timezone === undefined ? {} : { timezone }),
  });
  for await (const b of dataset.batches({ ...select, kinds: [kind] })) {
    if (b.block !== null) yield table.batch(b.block, b.exchange);
  }
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
