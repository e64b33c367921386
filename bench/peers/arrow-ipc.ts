/**
 * Apache Arrow IPC stream, uncompressed (compressed Arrow JS IPC does not interoperate, see BRIEF §6).
 * Columns: symbol as a dictionary, int64 ns timestamps, int64 price/size mantissas, u8 enums, int64
 * ids. The Arrow builders and readers here are shared with the Parquet peer, which goes through Arrow.
 */
import {
  Dictionary,
  Int16,
  makeData,
  makeVector,
  type RecordBatch,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import type { SymbolInfo, Workload } from "../workload.js";
import {
  BOOK_SIDE_NAMES,
  type BookObject,
  checkDigest,
  type Digest,
  digestI64,
  gather,
  gatherInt64,
  gatherToInt64,
  OBJECT_BATCH_ROWS,
  ObjectDigest,
  type Peer,
  type PeerResult,
  seconds,
  symbolOrder,
  TRADE_SIDE_NAMES,
  type TradeObject,
  TWO32,
  tableDigest,
} from "./peer.js";

export type TableKind = "trades" | "book";

/**
 * The Workload table as Arrow tables of at most `chunkRows` rows each, rows grouped by symbol. The
 * columns are gathered once; chunks are zero-copy views of them.
 */
export function arrowTables(w: Workload, kind: TableKind, chunkRows = Number.POSITIVE_INFINITY): Table[] {
  const src = kind === "trades" ? w.trades : w.book;
  const order = symbolOrder(src.symbol, w.symbols.length);
  const n = src.count;
  const symbol = gather(src.symbol, order, new Int16Array(n));
  const cols: Record<string, BigInt64Array | Uint8Array> = {
    ts: gatherInt64(src.ts, order),
  };
  if (src.recvTs !== null) cols["recvTs"] = gatherInt64(src.recvTs, order);
  if (kind === "trades") {
    const t = w.trades;
    cols["price"] = gatherToInt64(t.priceMantissa, order);
    cols["size"] = gatherToInt64(t.sizeMantissa, order);
    cols["side"] = gather(t.side, order, new Uint8Array(n));
    cols["tradeId"] = gatherToInt64(t.tradeId, order);
  } else {
    const b = w.book;
    cols["side"] = gather(b.side, order, new Uint8Array(n));
    cols["price"] = gatherToInt64(b.priceMantissa, order);
    cols["size"] = gatherToInt64(b.sizeMantissa, order);
    cols["snapshot"] = gather(b.snapshot, order, new Uint8Array(n));
    cols["seq"] = gatherToInt64(b.seq, order);
  }
  const dictionary = vectorFromArray(
    w.symbols.map((s) => s.name),
    new Utf8(),
  );
  const dictType = new Dictionary(new Utf8(), new Int16());
  const tables: Table[] = [];
  const step = Math.max(1, Math.min(chunkRows, n));
  for (let from = 0; ; from += step) {
    const to = Math.min(n, from + step);
    const vectors: Record<string, Vector> = {
      symbol: makeVector(
        makeData({
          type: dictType,
          length: to - from,
          nullCount: 0,
          data: symbol.subarray(from, to),
          dictionary,
        }),
      ),
    };
    for (const [name, values] of Object.entries(cols)) vectors[name] = makeVector(values.subarray(from, to));
    tables.push(new Table(vectors));
    if (to >= n) break;
  }
  return tables;
}

/** One record batch's columns as typed arrays (zero-copy views of the Arrow buffers). */
export interface BatchColumns {
  rows: number;
  symbolNames: string[];
  symbol: Int16Array;
  ts: BigInt64Array;
  recvTs: BigInt64Array | null;
  price: BigInt64Array;
  size: BigInt64Array;
  side: Uint8Array;
  /** Trades: trade ids. */
  tradeId: BigInt64Array | null;
  /** Book: snapshot flags and sequence ids. */
  snapshot: Uint8Array | null;
  seq: BigInt64Array | null;
}

function child<T>(batch: RecordBatch, name: string): T {
  const v = batch.getChild(name);
  if (v === null) throw new Error(`column ${name} missing`);
  return v.toArray() as T;
}

function optionalChild<T>(batch: RecordBatch, name: string): T | null {
  return batch.schema.fields.some((f) => f.name === name) ? child<T>(batch, name) : null;
}

export function batchColumns(batch: RecordBatch): BatchColumns {
  const sym = batch.getChild("symbol");
  const data = sym?.data[0];
  if (data === undefined || data.dictionary === undefined) throw new Error("symbol column missing");
  const symbol = data.values as Int16Array;
  return {
    rows: batch.numRows,
    symbolNames: data.dictionary.toArray() as string[],
    symbol: symbol.subarray(0, batch.numRows),
    ts: child(batch, "ts"),
    recvTs: optionalChild(batch, "recvTs"),
    price: child(batch, "price"),
    size: child(batch, "size"),
    side: child(batch, "side"),
    tradeId: optionalChild(batch, "tradeId"),
    snapshot: optionalChild(batch, "snapshot"),
    seq: optionalChild(batch, "seq"),
  };
}

export function columnsDigest(batches: readonly BatchColumns[]): Digest {
  const d: Digest = { rows: 0, price: 0, size: 0, ts: 0 };
  for (const b of batches) {
    d.rows += b.rows;
    d.price = (d.price + digestI64(b.price)) >>> 0;
    d.size = (d.size + digestI64(b.size)) >>> 0;
    d.ts = (d.ts! + digestI64(b.ts)) >>> 0;
  }
  return d;
}

function words(a: BigInt64Array): [Uint32Array, Int32Array] {
  return [
    new Uint32Array(a.buffer, a.byteOffset, a.length * 2),
    new Int32Array(a.buffer, a.byteOffset, a.length * 2),
  ];
}

/**
 * Builds row objects from decoded columns in batches of OBJECT_BATCH_ROWS and hands each batch to `sink`
 * (outside the timed part). Returns the seconds spent building. int64 values are read as doubles
 * through their 32-bit halves, the fastest way JS has (a BigInt per value costs several times more).
 */
export function buildObjects(
  b: BatchColumns,
  symbols: readonly SymbolInfo[],
  sink: (rows: (TradeObject | BookObject)[]) => void,
): number {
  let elapsed = 0;
  const start = performance.now();
  // Scales are the reader's knowledge of the symbols (ticktape keeps them in its footer).
  const byName = new Map(symbols.map((s) => [s.name, s]));
  const pricePow = b.symbolNames.map((n) => 10 ** (byName.get(n)?.priceScale ?? 0));
  const sizePow = b.symbolNames.map((n) => 10 ** (byName.get(n)?.sizeScale ?? 0));
  const [tsLo, tsHi] = words(b.ts);
  const [rtLo, rtHi] = b.recvTs === null ? [null, null] : words(b.recvTs);
  const [pLo, pHi] = words(b.price);
  const [sLo, sHi] = words(b.size);
  const names = b.symbolNames;
  elapsed += performance.now() - start;
  for (let from = 0; from < b.rows; from += OBJECT_BATCH_ROWS) {
    const t0 = performance.now();
    const to = Math.min(b.rows, from + OBJECT_BATCH_ROWS);
    const rows = new Array<TradeObject | BookObject>(to - from);
    if (b.tradeId !== null) {
      const [idLo, idHi] = words(b.tradeId);
      for (let i = from; i < to; i++) {
        const s = b.symbol[i]!;
        const w = 2 * i;
        rows[i - from] = {
          kind: "trade",
          symbol: names[s]!,
          ts: tsHi[w + 1]! * TWO32 + tsLo[w]!,
          recvTs: rtLo === null ? null : rtHi![w + 1]! * TWO32 + rtLo[w]!,
          price: (pHi[w + 1]! * TWO32 + pLo[w]!) / pricePow[s]!,
          size: (sHi[w + 1]! * TWO32 + sLo[w]!) / sizePow[s]!,
          side: TRADE_SIDE_NAMES[b.side[i]!] ?? "unknown",
          tradeId: idHi[w + 1]! * TWO32 + idLo[w]!,
        };
      }
    } else {
      const [qLo, qHi] = words(b.seq!);
      const snapshot = b.snapshot!;
      for (let i = from; i < to; i++) {
        const s = b.symbol[i]!;
        const w = 2 * i;
        rows[i - from] = {
          kind: "book",
          symbol: names[s]!,
          ts: tsHi[w + 1]! * TWO32 + tsLo[w]!,
          recvTs: rtLo === null ? null : rtHi![w + 1]! * TWO32 + rtLo[w]!,
          side: BOOK_SIDE_NAMES[b.side[i]!] ?? "bid",
          price: (pHi[w + 1]! * TWO32 + pLo[w]!) / pricePow[s]!,
          size: (sHi[w + 1]! * TWO32 + sLo[w]!) / sizePow[s]!,
          snapshot: snapshot[i] === 1,
          seq: qHi[w + 1]! * TWO32 + qLo[w]!,
        };
      }
    }
    elapsed += performance.now() - t0;
    sink(rows);
  }
  return elapsed / 1000;
}

const NAME = "Arrow IPC (uncompressed)";

export const arrowIpcPeer: Peer = {
  name: NAME,
  async run(w: Workload): Promise<PeerResult> {
    const name = NAME;
    const wantTrades = tableDigest(w.trades);
    const wantBook = tableDigest(w.book);

    let start = performance.now();
    const tradeBytes = tableToIPC(arrowTables(w, "trades")[0]!, "stream");
    const bookBytes = tableToIPC(arrowTables(w, "book")[0]!, "stream");
    const encodeSeconds = seconds(start);

    start = performance.now();
    const tradeCols = tableFromIPC(tradeBytes).batches.map(batchColumns);
    const bookCols = tableFromIPC(bookBytes).batches.map(batchColumns);
    const decodeColumnsSeconds = seconds(start);
    checkDigest(name, "trade columns", columnsDigest(tradeCols), wantTrades);
    checkDigest(name, "book columns", columnsDigest(bookCols), wantBook);

    // Objects: parse again, then build rows from the columns.
    const tradeObjs = new ObjectDigest(w.symbols);
    const bookObjs = new ObjectDigest(w.symbols);
    start = performance.now();
    const tradeBatches = tableFromIPC(tradeBytes).batches.map(batchColumns);
    const bookBatches = tableFromIPC(bookBytes).batches.map(batchColumns);
    let decodeObjectsSeconds = seconds(start);
    for (const b of tradeBatches)
      decodeObjectsSeconds += buildObjects(b, w.symbols, (rows) => tradeObjs.add(rows));
    for (const b of bookBatches)
      decodeObjectsSeconds += buildObjects(b, w.symbols, (rows) => bookObjs.add(rows));
    checkDigest(name, "trade objects", tradeObjs.digest, wantTrades);
    checkDigest(name, "book objects", bookObjs.digest, wantBook);

    return {
      name,
      tradeBytes: tradeBytes.length,
      bookBytes: bookBytes.length,
      encodeSeconds,
      decodeColumnsSeconds,
      decodeObjectsSeconds,
      rowsDecoded: tradeObjs.digest.rows + bookObjs.digest.rows,
    };
  },
};
