/**
 * ticktape's side of the benchmark: encode a Workload's trades and book updates with the writer's default block
 * policy (in memory, so that disk speed does not enter), then decode every block into columns and into rows.
 */

import { ByteWriter } from "../src/format/bytes.js";
import { compressBody } from "../src/format/codecs.js";
import { encodeIntColumn, encodeU8Column } from "../src/format/columns.js";
import { SCHEMAS } from "../src/format/schema.js";
import {
  type BlockPolicy,
  type BookBatch,
  BytesSource,
  blockRows,
  type Codec,
  DEFAULT_BLOCK_POLICY,
  TapeEncoder,
  TapeReader,
  type TradeBatch,
} from "../src/index.js";
import type { BookTable, TradeTable, Workload } from "./workload.js";

export interface TicktapeKindResult {
  rows: number;
  bytes: number;
  blocks: number;
  /** Encoding rows already grouped by symbol (as a recorder holds them: one message is one symbol's rows). */
  encodeSeconds: number;
  /** Encoding from the interleaved table, the split by symbol included. */
  encodeInterleavedSeconds: number;
  decodeColumnsSeconds: number;
  decodeObjectsSeconds: number;
  /** Bytes per row of each column, each compressed on its own with the block codec (an attribution, not a sum). */
  columnBytesPerRow: Record<string, number>;
}
export interface TicktapeResult {
  codec: Codec;
  policy: BlockPolicy;
  trades: TicktapeKindResult;
  book: TicktapeKindResult;
}

/** Rows handed to the writer per step: a recorder hands over what arrived since its last step, in time order. */
const STEP_ROWS = 8192;

/**
 * The input cut into steps of at most STEP_ROWS rows, and the timestamps as the writer's columnar input, per
 * step a base (its first value) and exact offsets from it. Steps also end where a table jumps between sessions
 * (the real tables concatenate recordings months apart). Prepared outside the timings.
 */
const MAX_STEP_SPAN = 2 ** 50;

interface StepOffsets {
  bases: bigint[];
  offsets: Float64Array;
}

function stepsOf(tables: (BigInt64Array | null)[], count: number): number[] {
  const starts: number[] = [];
  let start = 0;
  while (start < count) {
    starts.push(start);
    let end = Math.min(count, start + STEP_ROWS);
    for (const ts of tables) {
      if (ts === null) continue;
      const base = ts[start]!;
      for (let i = start + 1; i < end; i++) {
        const d = ts[i]! - base;
        if (d > MAX_STEP_SPAN || -d > MAX_STEP_SPAN) {
          end = i;
          break;
        }
      }
    }
    start = end;
  }
  return starts;
}

function offsetsOf(ts: BigInt64Array, starts: number[]): StepOffsets {
  const bases: bigint[] = [];
  const offsets = new Float64Array(ts.length);
  starts.forEach((start, k) => {
    const base = ts[start]!;
    bases.push(base);
    const end = starts[k + 1] ?? ts.length;
    for (let i = start; i < end; i++) offsets[i] = Number(ts[i]! - base);
  });
  return { bases, offsets };
}

function gather(src: Float64Array, idx: Int32Array, n: number, out: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) out[i] = src[idx[i]!]!;
  return out.subarray(0, n);
}
function gatherU8(src: Uint8Array, idx: Int32Array, n: number, out: Uint8Array): Uint8Array {
  for (let i = 0; i < n; i++) out[i] = src[idx[i]!]!;
  return out.subarray(0, n);
}

export interface Prepared {
  starts: number[];
  ts: StepOffsets;
  recvTs: StepOffsets | null;
  /** Trade ids or sequence ids: safe integers already. */
  extra: Float64Array | null;
  grouped: Grouped;
}

/**
 * The same rows ordered by (step, symbol, position): each step's rows of one symbol are one run, handed to
 * the writer as subarrays. Offsets stay relative to their step's base.
 */
interface Grouped {
  runs: { step: number; symbol: number; start: number; count: number }[];
  ts: Float64Array;
  recvTs: Float64Array | null;
  price: Float64Array;
  size: Float64Array;
  side: Uint8Array;
  flags: Uint8Array | null;
  extra: Float64Array | null;
}

function group(table: TradeTable | BookTable, nsym: number, p: Omit<Prepared, "grouped">): Grouped {
  const n = table.count;
  const order = new Int32Array(n);
  const runs: Grouped["runs"] = [];
  const counts = new Int32Array(nsym);
  let at = 0;
  p.starts.forEach((start, step) => {
    const end = p.starts[step + 1] ?? n;
    counts.fill(0);
    for (let i = start; i < end; i++) counts[table.symbol[i]!]!++;
    const next = new Int32Array(nsym);
    for (let s = 0; s < nsym; s++) {
      next[s] = at;
      if (counts[s]! > 0) runs.push({ step, symbol: s, start: at, count: counts[s]! });
      at += counts[s]!;
    }
    for (let i = start; i < end; i++) order[next[table.symbol[i]!]!++] = i;
  });
  const pick = <T extends Float64Array | Uint8Array>(src: T): T => {
    const out = new (src.constructor as new (n: number) => T)(n);
    for (let i = 0; i < n; i++) out[i] = src[order[i]!]!;
    return out;
  };
  return {
    runs,
    ts: pick(p.ts.offsets),
    recvTs: p.recvTs === null ? null : pick(p.recvTs.offsets),
    price: pick(table.priceMantissa),
    size: pick(table.sizeMantissa),
    side: pick(table.side),
    flags: "snapshot" in table ? pick(table.snapshot) : null,
    extra: p.extra === null ? null : pick(p.extra),
  };
}

export function prepare(table: TradeTable | BookTable, nsym: number): Prepared {
  let extra: Prepared["extra"] = null;
  if ("tradeId" in table) extra = table.tradeId;
  else if (table.seq.some((s) => s >= 0)) extra = table.seq;
  const starts = stepsOf([table.ts, table.recvTs], table.count);
  const p = {
    starts,
    ts: offsetsOf(table.ts, starts),
    recvTs: table.recvTs === null ? null : offsetsOf(table.recvTs, starts),
    extra,
  };
  return { ...p, grouped: group(table, nsym, p) };
}

function newEncoder(codec: Codec, chunks: Uint8Array[], zstdLevel: number | undefined): TapeEncoder {
  return new TapeEncoder(
    { exchange: "bench", captureId: "bench", periodStart: 0n, periodEnd: 0n, meta: {} },
    (b) => chunks.push(b),
    zstdLevel === undefined ? { codec } : { codec, zstdLevel },
  );
}

/** Encodes rows already grouped by symbol: each run goes to the writer as subarrays, nothing is copied. */
export function encodeGrouped(
  w: Workload,
  kind: "trade" | "book",
  codec: Codec,
  p: Prepared,
  zstdLevel?: number,
): { bytes: Uint8Array; seconds: number } {
  const chunks: Uint8Array[] = [];
  const t0 = performance.now();
  const enc = newEncoder(codec, chunks, zstdLevel);
  for (const run of p.grouped.runs) appendRun(enc, w, kind, p, run);
  enc.seal();
  const seconds = (performance.now() - t0) / 1000;
  return { bytes: Buffer.concat(chunks), seconds };
}

export type Run = Grouped["runs"][number];

/** Hands one run (one symbol's rows of one step) to an encoder as a batch of column subarrays. */
export function appendRun(
  enc: TapeEncoder,
  w: Workload,
  kind: "trade" | "book",
  p: Prepared,
  run: Run,
): void {
  const g = p.grouped;
  const a = run.start;
  const b = a + run.count;
  const sym = w.symbols[run.symbol]!;
  const ts = { base: p.ts.bases[run.step]!, offsets: g.ts.subarray(a, b) };
  const price = { mantissas: g.price.subarray(a, b), scale: sym.priceScale };
  const size = { mantissas: g.size.subarray(a, b), scale: sym.sizeScale };
  const side = g.side.subarray(a, b);
  const recvTs =
    g.recvTs === null ? undefined : { base: p.recvTs!.bases[run.step]!, offsets: g.recvTs.subarray(a, b) };
  const extra = g.extra === null ? undefined : { base: 0n, offsets: g.extra.subarray(a, b) };
  if (kind === "trade") {
    const batch: TradeBatch = { ts, price, size, side };
    if (recvTs) batch.recvTs = recvTs;
    if (extra) batch.tradeId = extra;
    enc.appendBatch("trade", sym.name, batch, run.count);
  } else {
    const batch: BookBatch = { ts, side, price, size, flags: g.flags!.subarray(a, b) };
    if (recvTs) batch.recvTs = recvTs;
    if (extra) batch.seq = extra;
    enc.appendBatch("book", sym.name, batch, run.count);
  }
}

/** Exact exchange time of a run's first row. */
export function runStart(p: Prepared, run: Run): bigint {
  return p.ts.bases[run.step]! + BigInt(p.grouped.ts[run.start]!);
}

/** Encodes from the interleaved table: each step's rows are split by symbol (gathered), then appended. */
export function encodeInterleaved(
  w: Workload,
  kind: "trade" | "book",
  codec: Codec,
  p: Prepared,
  zstdLevel?: number,
): { bytes: Uint8Array; seconds: number } {
  const table = kind === "trade" ? w.trades : w.book;
  const chunks: Uint8Array[] = [];
  const t0 = performance.now();
  const enc = newEncoder(codec, chunks, zstdLevel);
  const nsym = w.symbols.length;
  const idx = Array.from({ length: nsym }, () => new Int32Array(STEP_ROWS));
  const fill = new Int32Array(nsym);
  const scratch = Array.from({ length: 6 }, () => new Float64Array(STEP_ROWS));
  const u8a = new Uint8Array(STEP_ROWS);
  const u8b = new Uint8Array(STEP_ROWS);
  for (let step = 0; step < p.starts.length; step++) {
    const start = p.starts[step]!;
    const end = p.starts[step + 1] ?? table.count;
    fill.fill(0);
    for (let i = start; i < end; i++) {
      const s = table.symbol[i]!;
      idx[s]![fill[s]!++] = i;
    }
    for (let s = 0; s < nsym; s++) {
      const n = fill[s]!;
      if (n === 0) continue;
      const ix = idx[s]!;
      const sym = w.symbols[s]!;
      const ts = { base: p.ts.bases[step]!, offsets: gather(p.ts.offsets, ix, n, scratch[0]!) };
      const price = { mantissas: gather(table.priceMantissa, ix, n, scratch[2]!), scale: sym.priceScale };
      const size = { mantissas: gather(table.sizeMantissa, ix, n, scratch[3]!), scale: sym.sizeScale };
      const side = gatherU8(table.side, ix, n, u8a);
      const recvTs =
        p.recvTs === null
          ? undefined
          : { base: p.recvTs.bases[step]!, offsets: gather(p.recvTs.offsets, ix, n, scratch[1]!) };
      const extra = p.extra === null ? undefined : { base: 0n, offsets: gather(p.extra, ix, n, scratch[4]!) };
      if (kind === "trade") {
        const batch: TradeBatch = { ts, price, size, side };
        if (recvTs) batch.recvTs = recvTs;
        if (extra) batch.tradeId = extra;
        enc.appendBatch("trade", sym.name, batch, n);
      } else {
        // The neutral table says 0 = bid, 1 = ask, as the file does.
        const flags = gatherU8((table as BookTable).snapshot, ix, n, u8b);
        const batch: BookBatch = { ts, side, price, size, flags };
        if (recvTs) batch.recvTs = recvTs;
        if (extra) batch.seq = extra;
        enc.appendBatch("book", sym.name, batch, n);
      }
    }
  }
  enc.seal();
  const seconds = (performance.now() - t0) / 1000;
  return { bytes: Buffer.concat(chunks), seconds };
}

async function decode(
  bytes: Uint8Array,
  rowsExpected: number,
): Promise<{ columns: number; objects: number; blocks: number }> {
  const reader = await TapeReader.open(new BytesSource(bytes));
  // Record blocks only: checkpoints (format 1.1) are not rows.
  const blocks = reader.selectBlocks();
  // Best of three passes each (the first pass warms the JIT).
  let columns = Number.POSITIVE_INFINITY;
  let objects = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 3; pass++) {
    let rows = 0;
    let t0 = performance.now();
    for (const b of blocks) rows += (await reader.readBlock(b)).header.rowCount;
    columns = Math.min(columns, (performance.now() - t0) / 1000);
    if (rows !== rowsExpected) throw new Error(`decoded ${rows} rows, expected ${rowsExpected}`);
    rows = 0;
    t0 = performance.now();
    for (const b of blocks) rows += blockRows(await reader.readBlock(b)).length;
    objects = Math.min(objects, (performance.now() - t0) / 1000);
    if (rows !== rowsExpected) throw new Error(`decoded ${rows} row objects, expected ${rowsExpected}`);
  }
  return { columns, objects, blocks: blocks.length };
}

/** Where the bytes go: every column of every block encoded and compressed on its own. */
export async function columnBreakdown(
  bytes: Uint8Array,
  kind: "trade" | "book",
  codec: Codec,
  rows: number,
): Promise<Record<string, number>> {
  const reader = await TapeReader.open(new BytesSource(bytes));
  const totals: Record<string, number> = {};
  const scratch = new ByteWriter(1 << 16);
  for (const b of reader.selectBlocks()) {
    const block = await reader.readBlock(b);
    for (const spec of SCHEMAS[kind]) {
      const col = block.columns[spec.name];
      if (col === undefined) continue;
      scratch.pos = 0;
      if (col.type === "int") encodeIntColumn(scratch, col, b.rowCount, spec.layout);
      else if (col.type === "u8") encodeU8Column(scratch, col, b.rowCount);
      else continue;
      totals[spec.name] = (totals[spec.name] ?? 0) + compressBody(codec, scratch.finish().slice()).length;
    }
  }
  return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v / rows]));
}

async function measureKind(w: Workload, kind: "trade" | "book", codec: Codec): Promise<TicktapeKindResult> {
  const table = kind === "trade" ? w.trades : w.book;
  const p = prepare(table, w.symbols.length);
  let best: { bytes: Uint8Array; seconds: number } | null = null;
  let interleaved = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 2; i++) {
    const r = encodeGrouped(w, kind, codec, p);
    if (best === null || r.seconds < best.seconds) best = r;
    const ri = encodeInterleaved(w, kind, codec, p);
    if (!equalBytes(ri.bytes, r.bytes)) throw new Error("the grouped and the interleaved encodings differ");
    interleaved = Math.min(interleaved, ri.seconds);
  }
  const d = await decode(best!.bytes, table.count);
  const columnBytesPerRow = await columnBreakdown(best!.bytes, kind, codec, table.count);
  return {
    columnBytesPerRow,
    rows: table.count,
    bytes: best!.bytes.length,
    blocks: d.blocks,
    encodeSeconds: best!.seconds,
    encodeInterleavedSeconds: interleaved,
    decodeColumnsSeconds: d.columns,
    decodeObjectsSeconds: d.objects,
  };
}

export async function measureTicktape(w: Workload, codec: Codec): Promise<TicktapeResult> {
  return {
    codec,
    policy: { ...DEFAULT_BLOCK_POLICY },
    trades: await measureKind(w, "trade", codec),
    book: await measureKind(w, "book", codec),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
