/**
 * Parquet files written by parquet-wasm (the Rust arrow-rs writer compiled to WebAssembly) from Arrow record
 * batches: data pages v2, zstd, page and row-group statistics, delta encoding for ordered integers. Batches cross
 * into WebAssembly one at a time as the writer asks for them, so memory holds about one row group.
 */
import {
  DataType,
  makeData,
  RecordBatch,
  type Schema,
  Struct,
  Table,
  tableToIPC,
  vectorFromArray,
} from "apache-arrow";
import {
  Compression,
  EnabledStatistics,
  Encoding,
  transformParquetStream,
  type RecordBatch as WasmRecordBatch,
  Table as WasmTable,
  WriterPropertiesBuilder,
  WriterVersion,
} from "parquet-wasm";

/** Rows per row group: large groups compress best; page statistics still let engines skip within a group. */
export const PARQUET_ROW_GROUP_ROWS = 1 << 20;

/** Columns whose values mostly grow: delta-encoded instead of dictionary-encoded. */
const DELTA_INT_COLUMNS = ["ts", "recvTs", "seq", "seqBefore", "seqAfter"];
const DELTA_TEXT_COLUMNS = ["tradeId"];

/** Where the file's bytes go, in order; closed by the writer. */
export interface ByteOutput {
  write(data: Uint8Array): Promise<unknown>;
  close(): Promise<void>;
}

export interface ParquetWriterOptions {
  rowGroupRows?: number;
}

/** Hands batches to the WebAssembly writer when it asks for them (a queue of one). */
class BatchFeed {
  private waiting: WasmRecordBatch[] = [];
  private taken: (() => void) | null = null;
  private wake: (() => void) | null = null;
  private ended = false;

  readonly stream = new ReadableStream<WasmRecordBatch>(
    {
      pull: async (controller) => {
        while (this.waiting.length === 0 && !this.ended) await new Promise<void>((r) => (this.wake = r));
        const next = this.waiting.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
        if (this.waiting.length === 0) this.taken?.();
      },
    },
    { highWaterMark: 0 },
  );

  /** Resolves when the writer has taken the batches, or when `failed` settles first. */
  async push(batches: WasmRecordBatch[], failed: Promise<unknown>): Promise<void> {
    this.waiting.push(...batches);
    const taken = new Promise<void>((r) => (this.taken = r));
    this.wake?.();
    await Promise.race([taken, failed]);
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }
}

export class ParquetWriter {
  private readonly done: Promise<number>;
  private rows = 0;

  private constructor(
    private readonly feed: BatchFeed,
    /** Resolves once the writer has the first batch (it takes the schema from it). */
    output: Promise<ReadableStream<Uint8Array>>,
    file: ByteOutput,
    private readonly schema: Schema,
  ) {
    this.done = (async () => {
      let bytes = 0;
      try {
        const reader = (await output).getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          await file.write(r.value);
          bytes += r.value.length;
        }
      } finally {
        await file.close();
      }
      return bytes;
    })();
    // Seen by close(); a failure before that also ends any push waiting on it.
    this.done.catch(() => {});
  }

  /** A writer of Parquet with the columns of `schema` to `file` (closed by the writer). */
  static create(file: ByteOutput, schema: Schema, options: ParquetWriterOptions = {}): ParquetWriter {
    let props = new WriterPropertiesBuilder()
      .setWriterVersion(WriterVersion.V2)
      .setCompression(Compression.ZSTD)
      .setStatisticsEnabled(EnabledStatistics.Page)
      .setMaxRowGroupSize(options.rowGroupRows ?? PARQUET_ROW_GROUP_ROWS)
      .setCreatedBy("ticktape");
    for (const col of DELTA_INT_COLUMNS)
      props = props
        .setColumnDictionaryEnabled(col, false)
        .setColumnEncoding(col, Encoding.DELTA_BINARY_PACKED);
    for (const col of DELTA_TEXT_COLUMNS)
      props = props.setColumnDictionaryEnabled(col, false).setColumnEncoding(col, Encoding.DELTA_BYTE_ARRAY);
    const feed = new BatchFeed();
    const output = transformParquetStream(feed.stream, props.build()) as Promise<ReadableStream<Uint8Array>>;
    return new ParquetWriter(feed, output, file, schema);
  }

  async write(batch: RecordBatch): Promise<void> {
    if (batch.numRows === 0 && this.rows > 0) return;
    const table = WasmTable.fromIPCStream(tableToIPC(new Table([batch]), "stream"));
    const batches = table.recordBatches();
    table.free();
    this.rows += batch.numRows;
    await this.feed.push(batches, this.done);
  }

  /** Ends the file (footer written) and returns its bytes. */
  async close(): Promise<{ rows: number; bytes: number }> {
    // The writer takes the columns from the first batch: a file without rows gets an empty one.
    if (this.rows === 0) await this.write(emptyBatch(this.schema));
    this.feed.end();
    return { rows: this.rows, bytes: await this.done };
  }
}

/** A record batch of no rows (dictionary columns with empty dictionaries). */
function emptyBatch(schema: Schema): RecordBatch {
  const children = schema.fields.map((f) =>
    DataType.isDictionary(f.type)
      ? makeData({
          type: f.type,
          length: 0,
          nullCount: 0,
          dictionary: vectorFromArray([], f.type.dictionary),
        })
      : makeData({ type: f.type, length: 0, nullCount: 0 } as never),
  );
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children }),
  );
}
