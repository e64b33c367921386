/**
 * Parquet through parquet-wasm (arrow-rs compiled to WebAssembly), going from and to apache-arrow via
 * Arrow IPC. Written as one file per table, streamed batch by batch so WebAssembly memory holds one
 * row group at a time, and read back one row group at a time for the same reason.
 * parquet-wasm exposes no zstd level: ZSTD means arrow-rs's default level (1).
 */
import { tableFromIPC, tableToIPC } from "apache-arrow";
import {
  Compression,
  EnabledStatistics,
  Encoding,
  ParquetFile,
  readParquet,
  transformParquetStream,
  type RecordBatch as WasmRecordBatch,
  Table as WasmTable,
  type WriterProperties,
  WriterPropertiesBuilder,
  WriterVersion,
} from "parquet-wasm";
import { concatBytes } from "../../src/common/concat-bytes.js";
import type { Workload } from "../workload.js";
import {
  arrowTables,
  type BatchColumns,
  batchColumns,
  buildObjects,
  columnsDigest,
  type TableKind,
} from "./arrow-ipc.js";
import {
  CHUNK_ROWS,
  checkDigest,
  ObjectDigest,
  type Peer,
  type PeerResult,
  seconds,
  tableDigest,
} from "./peer.js";

/** Column choices for one table. */
export interface ParquetColumns {
  /** Per-column encoding, with the dictionary switched off for that column. */
  encodings: Record<string, Encoding>;
  /** Columns whose dictionary is switched off without naming an encoding (PLAIN then). */
  noDictionary: string[];
}

export interface ParquetSettings {
  label: string;
  writerVersion: WriterVersion;
  compression: Compression;
  rowGroupRows: number;
  dataPageBytes: number;
  dictionaryPageBytes: number;
  statistics: EnabledStatistics;
  trades: ParquetColumns;
  book: ParquetColumns;
}

/**
 * The settings that gave the smallest files, chosen on the real tables (checked on the synthetic
 * workload too): data page v2, zstd, 1M-row groups; delta encoding for the time-ordered int64 columns
 * (exchange timestamps, trade ids, seq, trade prices); a dictionary for book prices (levels repeat;
 * a large dictionary page so it does not fall back mid-row-group) and for sizes, side, snapshot and
 * symbol; book receive times PLAIN (their ns jitter defeats delta bit-packing, zstd does better).
 * Page statistics stay on, as any Parquet writer would keep them.
 */
export const BEST_PARQUET_SETTINGS: ParquetSettings = {
  label: "Parquet v2 + zstd (parquet-wasm)",
  writerVersion: WriterVersion.V2,
  compression: Compression.ZSTD,
  rowGroupRows: CHUNK_ROWS,
  dataPageBytes: 1 << 20,
  dictionaryPageBytes: 8 << 20,
  statistics: EnabledStatistics.Page,
  trades: {
    encodings: {
      ts: Encoding.DELTA_BINARY_PACKED,
      recvTs: Encoding.DELTA_BINARY_PACKED,
      tradeId: Encoding.DELTA_BINARY_PACKED,
      price: Encoding.DELTA_BINARY_PACKED,
    },
    noDictionary: [],
  },
  book: {
    encodings: {
      ts: Encoding.DELTA_BINARY_PACKED,
      recvTs: Encoding.PLAIN,
      seq: Encoding.DELTA_BINARY_PACKED,
    },
    noDictionary: [],
  },
};

function writerProperties(s: ParquetSettings, kind: TableKind): WriterProperties {
  const cols = kind === "trades" ? s.trades : s.book;
  let b = new WriterPropertiesBuilder()
    .setWriterVersion(s.writerVersion)
    .setCompression(s.compression)
    .setMaxRowGroupSize(s.rowGroupRows)
    .setDataPageSizeLimit(s.dataPageBytes)
    .setDictionaryPageSizeLimit(s.dictionaryPageBytes)
    .setStatisticsEnabled(s.statistics);
  for (const [col, enc] of Object.entries(cols.encodings)) {
    b = b.setColumnDictionaryEnabled(col, false).setColumnEncoding(col, enc);
  }
  for (const col of cols.noDictionary) b = b.setColumnDictionaryEnabled(col, false);
  return b.build();
}

async function encode(w: Workload, kind: TableKind, s: ParquetSettings): Promise<Uint8Array> {
  const tables = arrowTables(w, kind, s.rowGroupRows);
  let next = 0;
  // Batches cross into WebAssembly one at a time, as the writer pulls them.
  const batches = new ReadableStream<WasmRecordBatch>({
    pull(controller) {
      const t = tables[next];
      if (t === undefined) {
        controller.close();
        return;
      }
      tables[next++] = undefined as never;
      const wasmTable = WasmTable.fromIPCStream(tableToIPC(t, "stream"));
      for (const batch of wasmTable.recordBatches()) controller.enqueue(batch);
      wasmTable.free();
    },
  });
  const out = (await transformParquetStream(
    batches,
    writerProperties(s, kind),
  )) as ReadableStream<Uint8Array>;
  const parts: Uint8Array[] = [];
  const reader = out.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return concatBytes(parts);
}

async function rowGroupRows(file: Uint8Array): Promise<number[]> {
  const pf = await ParquetFile.fromFile(new Blob([file]));
  const md = pf.metadata();
  const rows: number[] = [];
  for (let g = 0; g < md.numRowGroups(); g++) rows.push(md.rowGroup(g).numRows());
  md.free();
  pf.free();
  return rows;
}

/**
 * Reads row group by row group into Arrow JS columns (a copy out of WebAssembly memory, via IPC) and
 * hands each batch to `each`. Returns the seconds spent decoding, without the time spent in `each`.
 */
async function decodeColumns(file: Uint8Array, each: (b: BatchColumns) => void): Promise<number> {
  let elapsed = 0;
  let start = performance.now();
  const groups = await rowGroupRows(file);
  for (let g = 0; g < groups.length; g++) {
    const wasmTable = readParquet(file, { rowGroups: [g], batchSize: Math.max(1, groups[g]!) });
    const batches = tableFromIPC(wasmTable.intoIPCStream()).batches.map(batchColumns);
    elapsed += performance.now() - start;
    for (const b of batches) each(b);
    start = performance.now();
  }
  return elapsed / 1000 + seconds(start);
}

export function parquetPeer(settings: ParquetSettings = BEST_PARQUET_SETTINGS): Peer {
  const name = settings.label;
  return {
    name,
    async run(w: Workload): Promise<PeerResult> {
      const wantTrades = tableDigest(w.trades);
      const wantBook = tableDigest(w.book);

      const start = performance.now();
      const trades = await encode(w, "trades", settings);
      const book = await encode(w, "book", settings);
      const encodeSeconds = seconds(start);

      const tradeCols: BatchColumns[] = [];
      const bookCols: BatchColumns[] = [];
      const decodeColumnsSeconds =
        (await decodeColumns(trades, (b) => tradeCols.push(b))) +
        (await decodeColumns(book, (b) => bookCols.push(b)));
      checkDigest(name, "trade columns", columnsDigest(tradeCols), wantTrades);
      checkDigest(name, "book columns", columnsDigest(bookCols), wantBook);
      tradeCols.length = 0;
      bookCols.length = 0;

      // Objects: decode again and build rows one row group at a time (the checks are not timed).
      const tradeObjs = new ObjectDigest(w.symbols);
      const bookObjs = new ObjectDigest(w.symbols);
      let building = 0;
      const tradeDecode = await decodeColumns(trades, (b) => {
        building += buildObjects(b, w.symbols, (rows) => tradeObjs.add(rows));
      });
      const bookDecode = await decodeColumns(book, (b) => {
        building += buildObjects(b, w.symbols, (rows) => bookObjs.add(rows));
      });
      const decodeObjectsSeconds = tradeDecode + bookDecode + building;
      checkDigest(name, "trade objects", tradeObjs.digest, wantTrades);
      checkDigest(name, "book objects", bookObjs.digest, wantBook);

      return {
        name,
        tradeBytes: trades.length,
        bookBytes: book.length,
        encodeSeconds,
        decodeColumnsSeconds,
        decodeObjectsSeconds,
        rowsDecoded: tradeObjs.digest.rows + bookObjs.digest.rows,
      };
    },
  };
}

export const parquetWasmPeer = parquetPeer();
