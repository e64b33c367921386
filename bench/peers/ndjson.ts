/**
 * NDJSON, the way most recorders keep market data: one JSON object per row, prices and sizes as
 * decimal strings (as exchanges send them), timestamps as integer strings (ns exceed 2^53, so JSON
 * numbers would round). Rows are grouped by symbol and written in chunks of TEXT_CHUNK_ROWS rows, each
 * compressed on its own (a concatenation of gzip members or zstd frames is itself a valid stream).
 */
import type { BookTable, TradeTable, Workload } from "../workload.js";
import {
  type BookObject,
  checkDigest,
  type Digest,
  OBJECT_BATCH_ROWS,
  ObjectDigest,
  type Peer,
  type PeerResult,
  seconds,
  symbolOrder,
  type TradeObject,
  tableDigest,
} from "./peer.js";

export interface Codec {
  compress(data: Uint8Array): Uint8Array;
  decompress(data: Uint8Array): Uint8Array;
}

interface Encoded {
  chunks: Uint8Array[];
  rows: number[];
  bytes: number;
}

/**
 * About 6 MB of text per chunk: well above the gzip (32 KB) and zstd-3 (2 MB) windows, so chunking costs
 * no compression, and small enough that a chunk's strings die young instead of taxing the old-space GC.
 */
const TEXT_CHUNK_ROWS = 65_536;

const ZEROS = Array.from({ length: 19 }, (_, i) => "0".repeat(i));
const TRADE_SIDE_TEXT = ["u", "b", "s"];
const BOOK_SIDE_TEXT = ["b", "a"];

/** Canonical decimal text of a mantissa (same output as `mantissaToString`, without a regex per value). */
function decimalText(m: number, scale: number, pow: number): string {
  if (scale === 0) return String(m);
  const sign = m < 0 ? "-" : "";
  const a = m < 0 ? -m : m;
  const int = Math.floor(a / pow);
  let frac = a - int * pow;
  if (frac === 0) return sign + int;
  let digits = scale;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  const f = String(frac);
  return `${sign}${int}.${ZEROS[digits - f.length]}${f}`;
}

function encodeTrades(w: Workload, codec: Codec): Encoded {
  const t = w.trades;
  const order = symbolOrder(t.symbol, w.symbols.length);
  const names = w.symbols.map((s) => JSON.stringify(s.name));
  const out: Encoded = { chunks: [], rows: [], bytes: 0 };
  for (let from = 0; from < t.count; from += TEXT_CHUNK_ROWS) {
    const to = Math.min(t.count, from + TEXT_CHUNK_ROWS);
    const lines = new Array<string>(to - from);
    for (let i = from; i < to; i++) {
      const j = order[i]!;
      const s = t.symbol[j]!;
      const info = w.symbols[s]!;
      const rt = t.recvTs === null ? "" : `,"rt":"${t.recvTs[j]}"`;
      const p = decimalText(t.priceMantissa[j]!, info.priceScale, 10 ** info.priceScale);
      const q = decimalText(t.sizeMantissa[j]!, info.sizeScale, 10 ** info.sizeScale);
      lines[i - from] =
        `{"s":${names[s]},"ts":"${t.ts[j]}"${rt},"p":"${p}","q":"${q}","side":"${TRADE_SIDE_TEXT[t.side[j]!]}","id":${t.tradeId[j]}}\n`;
    }
    const chunk = codec.compress(Buffer.from(lines.join("")));
    out.chunks.push(chunk);
    out.rows.push(to - from);
    out.bytes += chunk.length;
  }
  return out;
}

function encodeBook(w: Workload, codec: Codec): Encoded {
  const b = w.book;
  const order = symbolOrder(b.symbol, w.symbols.length);
  const names = w.symbols.map((s) => JSON.stringify(s.name));
  const out: Encoded = { chunks: [], rows: [], bytes: 0 };
  for (let from = 0; from < b.count; from += TEXT_CHUNK_ROWS) {
    const to = Math.min(b.count, from + TEXT_CHUNK_ROWS);
    const lines = new Array<string>(to - from);
    for (let i = from; i < to; i++) {
      const j = order[i]!;
      const s = b.symbol[j]!;
      const info = w.symbols[s]!;
      const rt = b.recvTs === null ? "" : `,"rt":"${b.recvTs[j]}"`;
      const p = decimalText(b.priceMantissa[j]!, info.priceScale, 10 ** info.priceScale);
      const q = decimalText(b.sizeMantissa[j]!, info.sizeScale, 10 ** info.sizeScale);
      lines[i - from] =
        `{"s":${names[s]},"ts":"${b.ts[j]}"${rt},"side":"${BOOK_SIDE_TEXT[b.side[j]!]}","p":"${p}","q":"${q}","snap":${b.snapshot[j]},"seq":${b.seq[j]}}\n`;
    }
    const chunk = codec.compress(Buffer.from(lines.join("")));
    out.chunks.push(chunk);
    out.rows.push(to - from);
    out.bytes += chunk.length;
  }
  return out;
}

interface TradeJson {
  s: string;
  ts: string;
  rt?: string;
  p: string;
  q: string;
  side: string;
  id: number;
}
interface BookJson {
  s: string;
  ts: string;
  rt?: string;
  side: string;
  p: string;
  q: string;
  snap: number;
  seq: number;
}

function chunkLines(codec: Codec, chunk: Uint8Array, rows: number): string[] {
  const text = Buffer.from(codec.decompress(chunk)).toString("utf8");
  const lines = text.split("\n");
  // The text ends with a newline, so the last element is empty.
  if (lines.length !== rows + 1) throw new Error(`chunk has ${lines.length - 1} lines, expected ${rows}`);
  return lines;
}

function symbolIndex(w: Workload): Map<string, number> {
  return new Map(w.symbols.map((s, i) => [s.name, i]));
}

function decodeTradeColumns(w: Workload, enc: Encoded, codec: Codec): TradeTable {
  const n = enc.rows.reduce((a, b) => a + b, 0);
  const bySymbol = symbolIndex(w);
  const pows = w.symbols.map((s) => [10 ** s.priceScale, 10 ** s.sizeScale] as const);
  const hasRecv = w.trades.recvTs !== null;
  const cols: TradeTable = {
    count: n,
    symbol: new Uint16Array(n),
    ts: new BigInt64Array(n),
    recvTs: hasRecv ? new BigInt64Array(n) : null,
    priceMantissa: new Float64Array(n),
    sizeMantissa: new Float64Array(n),
    side: new Uint8Array(n),
    tradeId: new Float64Array(n),
  };
  let row = 0;
  for (let c = 0; c < enc.chunks.length; c++) {
    const lines = chunkLines(codec, enc.chunks[c]!, enc.rows[c]!);
    for (let k = 0; k < lines.length - 1; k++) {
      const o = JSON.parse(lines[k]!) as TradeJson;
      const s = bySymbol.get(o.s);
      if (s === undefined) throw new Error(`unknown symbol ${o.s}`);
      const pow = pows[s]!;
      cols.symbol[row] = s;
      cols.ts[row] = BigInt(o.ts);
      if (cols.recvTs !== null) cols.recvTs[row] = BigInt(o.rt ?? "0");
      cols.priceMantissa[row] = Math.round(Number(o.p) * pow[0]);
      cols.sizeMantissa[row] = Math.round(Number(o.q) * pow[1]);
      cols.side[row] = o.side === "b" ? 1 : o.side === "s" ? 2 : 0;
      cols.tradeId[row] = o.id;
      row++;
    }
  }
  return cols;
}

function decodeBookColumns(w: Workload, enc: Encoded, codec: Codec): BookTable {
  const n = enc.rows.reduce((a, b) => a + b, 0);
  const bySymbol = symbolIndex(w);
  const pows = w.symbols.map((s) => [10 ** s.priceScale, 10 ** s.sizeScale] as const);
  const hasRecv = w.book.recvTs !== null;
  const cols: BookTable = {
    count: n,
    symbol: new Uint16Array(n),
    ts: new BigInt64Array(n),
    recvTs: hasRecv ? new BigInt64Array(n) : null,
    side: new Uint8Array(n),
    priceMantissa: new Float64Array(n),
    sizeMantissa: new Float64Array(n),
    snapshot: new Uint8Array(n),
    seq: new Float64Array(n),
  };
  let row = 0;
  for (let c = 0; c < enc.chunks.length; c++) {
    const lines = chunkLines(codec, enc.chunks[c]!, enc.rows[c]!);
    for (let k = 0; k < lines.length - 1; k++) {
      const o = JSON.parse(lines[k]!) as BookJson;
      const s = bySymbol.get(o.s);
      if (s === undefined) throw new Error(`unknown symbol ${o.s}`);
      const pow = pows[s]!;
      cols.symbol[row] = s;
      cols.ts[row] = BigInt(o.ts);
      if (cols.recvTs !== null) cols.recvTs[row] = BigInt(o.rt ?? "0");
      cols.side[row] = o.side === "a" ? 1 : 0;
      cols.priceMantissa[row] = Math.round(Number(o.p) * pow[0]);
      cols.sizeMantissa[row] = Math.round(Number(o.q) * pow[1]);
      cols.snapshot[row] = o.snap;
      cols.seq[row] = o.seq;
      row++;
    }
  }
  return cols;
}

/**
 * Decodes into row objects in batches of OBJECT_BATCH_ROWS; only the decoding is timed, not the check
 * each batch then goes through.
 */
function decodeObjects(w: Workload, trades: Encoded, book: Encoded, codec: Codec): [number, Digest, Digest] {
  let elapsed = 0;
  const td = new ObjectDigest(w.symbols);
  for (let c = 0; c < trades.chunks.length; c++) {
    let start = performance.now();
    const lines = chunkLines(codec, trades.chunks[c]!, trades.rows[c]!);
    const n = lines.length - 1;
    for (let from = 0; from < n; from += OBJECT_BATCH_ROWS) {
      const to = Math.min(n, from + OBJECT_BATCH_ROWS);
      const rows = new Array<TradeObject>(to - from);
      for (let k = from; k < to; k++) {
        const o = JSON.parse(lines[k]!) as TradeJson;
        rows[k - from] = {
          kind: "trade",
          symbol: o.s,
          ts: Number(o.ts),
          recvTs: o.rt === undefined ? null : Number(o.rt),
          price: Number(o.p),
          size: Number(o.q),
          side: o.side === "b" ? "buy" : o.side === "s" ? "sell" : "unknown",
          tradeId: o.id,
        };
      }
      elapsed += performance.now() - start;
      td.add(rows);
      start = performance.now();
    }
  }
  const bd = new ObjectDigest(w.symbols);
  for (let c = 0; c < book.chunks.length; c++) {
    let start = performance.now();
    const lines = chunkLines(codec, book.chunks[c]!, book.rows[c]!);
    const n = lines.length - 1;
    for (let from = 0; from < n; from += OBJECT_BATCH_ROWS) {
      const to = Math.min(n, from + OBJECT_BATCH_ROWS);
      const rows = new Array<BookObject>(to - from);
      for (let k = from; k < to; k++) {
        const o = JSON.parse(lines[k]!) as BookJson;
        rows[k - from] = {
          kind: "book",
          symbol: o.s,
          ts: Number(o.ts),
          recvTs: o.rt === undefined ? null : Number(o.rt),
          side: o.side === "a" ? "ask" : "bid",
          price: Number(o.p),
          size: Number(o.q),
          snapshot: o.snap === 1,
          seq: o.seq,
        };
      }
      elapsed += performance.now() - start;
      bd.add(rows);
      start = performance.now();
    }
  }
  return [elapsed / 1000, td.digest, bd.digest];
}

export function ndjsonPeer(name: string, codec: Codec): Peer {
  return {
    name,
    async run(w: Workload): Promise<PeerResult> {
      const wantTrades = tableDigest(w.trades);
      const wantBook = tableDigest(w.book);

      let start = performance.now();
      const trades = encodeTrades(w, codec);
      const book = encodeBook(w, codec);
      const encodeSeconds = seconds(start);

      start = performance.now();
      const tradeCols = decodeTradeColumns(w, trades, codec);
      const bookCols = decodeBookColumns(w, book, codec);
      const decodeColumnsSeconds = seconds(start);
      checkDigest(name, "trade columns", tableDigest(tradeCols), wantTrades);
      checkDigest(name, "book columns", tableDigest(bookCols), wantBook);

      const [decodeObjectsSeconds, tradeObjs, bookObjs] = decodeObjects(w, trades, book, codec);
      checkDigest(name, "trade objects", tradeObjs, wantTrades);
      checkDigest(name, "book objects", bookObjs, wantBook);

      return {
        name,
        tradeBytes: trades.bytes,
        bookBytes: book.bytes,
        encodeSeconds,
        decodeColumnsSeconds,
        decodeObjectsSeconds,
        rowsDecoded: tradeObjs.rows + bookObjs.rows,
      };
    },
  };
}
