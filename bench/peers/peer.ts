/**
 * The contract every benchmark peer implements, plus what they share: the by-symbol row order that
 * ticktape's files have too, int64 column helpers, the row-object shapes, and the digests that prove
 * a decode really reproduced the input.
 */
import type { BookTable, SymbolInfo, TradeTable, Workload } from "../workload.js";

export interface PeerResult {
  /** e.g. "NDJSON + gzip" */
  name: string;
  /** Bytes of the encoded trades. */
  tradeBytes: number;
  /** Bytes of the encoded book updates. */
  bookBytes: number;
  /** Wall time to encode trades + book from the Workload tables. */
  encodeSeconds: number;
  /** Wall time to decode both back into typed-array columns (all columns). */
  decodeColumnsSeconds: number;
  /** Wall time to decode both into one plain JS object per row with number fields. */
  decodeObjectsSeconds: number;
  /** Rows checked after decode (equals trades.count + book.count). */
  rowsDecoded: number;
}

export interface Peer {
  name: string;
  run(w: Workload): Promise<PeerResult>;
}

/** Row objects shaped like ticktape's own rows (`TradeRow`, `BookRow`), so object decoding is comparable. */
export interface TradeObject {
  kind: "trade";
  symbol: string;
  ts: number;
  recvTs: number | null;
  price: number;
  size: number;
  side: "unknown" | "buy" | "sell";
  tradeId: number;
}
export interface BookObject {
  kind: "book";
  symbol: string;
  ts: number;
  recvTs: number | null;
  side: "bid" | "ask";
  price: number;
  size: number;
  snapshot: boolean;
  seq: number;
}

export const TRADE_SIDE_NAMES = ["unknown", "buy", "sell"] as const;
export const BOOK_SIDE_NAMES = ["bid", "ask"] as const;

/** Rows per chunk wherever a peer works piecewise (strings, object batches, Parquet row groups). */
export const CHUNK_ROWS = 1 << 20;

/**
 * Row objects are built and handed on in batches of this many rows, as ticktape's reader does per block
 * (its default block size), so that every format pays the same garbage-collection cost for them.
 */
export const OBJECT_BATCH_ROWS = 32_768;

export const TWO32 = 4294967296;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The int64 helpers below read and write the two halves of each value through 32-bit views.
  throw new Error("the benchmark peers assume a little-endian machine");
}

export function seconds(start: number): number {
  return (performance.now() - start) / 1000;
}

/** A stable permutation that groups rows by symbol (counting sort), keeping time order within a symbol. */
export function symbolOrder(symbol: Uint16Array, nSymbols: number): Uint32Array {
  const starts = new Uint32Array(nSymbols + 1);
  for (let i = 0; i < symbol.length; i++) starts[symbol[i]! + 1]!++;
  for (let s = 0; s < nSymbols; s++) starts[s + 1]! += starts[s]!;
  const order = new Uint32Array(symbol.length);
  for (let i = 0; i < symbol.length; i++) order[starts[symbol[i]!]!++] = i;
  return order;
}

type SmallArray = Uint8Array | Uint16Array | Int16Array;

export function gather<T extends SmallArray>(src: SmallArray, order: Uint32Array, out: T): T {
  for (let i = 0; i < order.length; i++) out[i] = src[order[i]!]!;
  return out;
}

/** Gathers float64 mantissas (safe integers) into an int64 column without a BigInt per value. */
export function gatherToInt64(src: Float64Array, order: Uint32Array): BigInt64Array {
  const out = new BigInt64Array(order.length);
  const w = new Int32Array(out.buffer);
  for (let i = 0; i < order.length; i++) {
    const v = src[order[i]!]!;
    const hi = Math.floor(v / TWO32);
    w[2 * i] = v - hi * TWO32;
    w[2 * i + 1] = hi;
  }
  return out;
}

export function gatherInt64(src: BigInt64Array, order: Uint32Array): BigInt64Array {
  const out = new BigInt64Array(order.length);
  const s = new Int32Array(src.buffer, src.byteOffset, src.length * 2);
  const w = new Int32Array(out.buffer);
  for (let i = 0; i < order.length; i++) {
    const j = order[i]!;
    w[2 * i] = s[2 * j]!;
    w[2 * i + 1] = s[2 * j + 1]!;
  }
  return out;
}

/** The halves of an int64 column, to read values as doubles without a BigInt per value. */
export interface Int64Words {
  lo: Uint32Array;
  hi: Int32Array;
}
export function int64Words(a: BigInt64Array): Int64Words {
  return {
    lo: new Uint32Array(a.buffer, a.byteOffset, a.length * 2),
    hi: new Int32Array(a.buffer, a.byteOffset, a.length * 2),
  };
}

/** Checks that a decode reproduced the input: row count and sums (mod 2^32) of exact integer columns. */
export interface Digest {
  rows: number;
  price: number;
  size: number;
  /** Exchange timestamps; null where a decode path yields them only as rounded doubles. */
  ts: number | null;
}

export function digestF64(a: Float64Array): number {
  let acc = 0;
  // ToUint32 is exact modular arithmetic for any safe integer.
  for (let i = 0; i < a.length; i++) acc = (acc + (a[i]! >>> 0)) >>> 0;
  return acc;
}

export function digestI64(a: BigInt64Array): number {
  const lo = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc = (acc + lo[2 * i]!) >>> 0;
  return acc;
}

export function tableDigest(t: TradeTable | BookTable): Digest {
  return {
    rows: t.count,
    price: digestF64(t.priceMantissa),
    size: digestF64(t.sizeMantissa),
    ts: digestI64(t.ts),
  };
}

/** Accumulates the digest of row objects (prices back to mantissas at the symbol's scale). */
export class ObjectDigest {
  readonly digest: Digest = { rows: 0, price: 0, size: 0, ts: null };
  private readonly scales = new Map<string, [number, number]>();
  constructor(symbols: SymbolInfo[]) {
    for (const s of symbols) this.scales.set(s.name, [10 ** s.priceScale, 10 ** s.sizeScale]);
  }
  add(rows: readonly (TradeObject | BookObject)[]): void {
    const d = this.digest;
    for (const r of rows) {
      const scale = this.scales.get(r.symbol);
      if (scale === undefined) throw new Error(`unknown symbol ${r.symbol}`);
      d.price = (d.price + (Math.round(r.price * scale[0]) >>> 0)) >>> 0;
      d.size = (d.size + (Math.round(r.size * scale[1]) >>> 0)) >>> 0;
    }
    d.rows += rows.length;
  }
}

export function checkDigest(peer: string, what: string, got: Digest, want: Digest): void {
  const bad: string[] = [];
  if (got.rows !== want.rows) bad.push(`rows ${got.rows} != ${want.rows}`);
  if (got.price !== want.price) bad.push("price checksum");
  if (got.size !== want.size) bad.push("size checksum");
  if (got.ts !== null && got.ts !== want.ts) bad.push("ts checksum");
  if (bad.length > 0) throw new Error(`${peer}: ${what} decode does not match the input: ${bad.join(", ")}`);
}
