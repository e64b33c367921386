/**
 * The columnar scan: selected blocks as typed-array columns, no row objects, in order of their first exchange
 * time (then file, then offset). Rows outside the time range are cut from the blocks at the range's edges.
 */
import {
  type BlockHeader,
  type Column,
  type DecodedBlock,
  type IntColumn,
  isFileDamage,
  recoveryLoss,
  type TapeError,
  type TapeFilter,
  type TapeReader,
} from "../format/index.js";
import { splitTime } from "./cursor.js";
import { type Dataset, type DatasetFile, FILE_LEAD_NS, missingHourError } from "./dataset.js";
import { Heap } from "./heap.js";
import { type AheadBlock, ReadAhead } from "./read-ahead.js";
import { narrow, type ReplayOptions } from "./replay.js";

export type Batch =
  | { file: DatasetFile; exchange: string; block: DecodedBlock; lost: null }
  /**
   * With `onCorrupt: "skip"`: a block that could not be read (or, header null, a file's torn tail, a file that is not
   * a tape, an hour without a file), and why.
   */
  | { file: DatasetFile; exchange: string; block: null; header: BlockHeader | null; lost: TapeError };

interface Pending {
  ms: number;
  rem: number;
  file: number;
  offset: number;
  dsFile: DatasetFile;
  open: { reader: TapeReader; left: number } | null;
  header: BlockHeader | null;
  ahead: AheadBlock | null;
}

function less(a: Pending, b: Pending): boolean {
  if (a.ms !== b.ms) return a.ms < b.ms;
  if (a.rem !== b.rem) return a.rem < b.rem;
  // Files open before the blocks of the same time.
  if ((a.header === null) !== (b.header === null)) return a.header === null;
  if (a.file !== b.file) return a.file < b.file;
  return a.offset < b.offset;
}

/** Blocks in the order they were written, file after file (the dataset's order: by hour), instead of by time. */
function lessInBlockOrder(a: Pending, b: Pending): boolean {
  if (a.file !== b.file) return a.file < b.file;
  // A file opens before its blocks.
  if ((a.header === null) !== (b.header === null)) return a.header === null;
  return a.offset < b.offset;
}

export type BatchOptions = Omit<ReplayOptions, "exact" | "speed"> & {
  /**
   * `"time"` (default): blocks by their first exchange time, then file and offset. `"written"`: each file's
   * blocks in file order, file after file, as `cat` prints them (a record written late stays where it was).
   */
  order?: "time" | "written";
  /**
   * Told of each block read whose rows all fall outside the time range (its header's range overlaps it, its rows
   * straddle it): such a block yields no batch. A progress count of the blocks selected counts it here.
   */
  onBlockWithoutRows?: (file: DatasetFile, header: BlockHeader) => void;
};

export function batches(dataset: Dataset, options: BatchOptions): AsyncIterable<Batch> {
  return {
    async *[Symbol.asyncIterator]() {
      const filter = narrow(dataset, options);
      const skip = options.onCorrupt === "skip";
      const heap = new Heap<Pending>(options.order === "written" ? lessInBlockOrder : less);
      const readers = new Set<TapeReader>();
      const ahead = new ReadAhead();
      /** A loss: a batch that says so with `onCorrupt: "skip"`, else the error. */
      const lost = (file: DatasetFile, exchange: string, header: BlockHeader | null, err: unknown): Batch => {
        if (!skip || !isFileDamage(err)) throw err;
        return { file, exchange, block: null, header, lost: err };
      };
      // Hours without a file come first: a scan that would miss them says so before it starts.
      for (const m of dataset.missingWithin(filter)) {
        const err = missingHourError(m);
        const file: DatasetFile = {
          path: m.path,
          exchange: m.exchange,
          hour: m.hour,
          captureId: m.captureId,
          open: false,
          size: null,
          index: -1,
        };
        yield lost(file, m.exchange, null, err);
      }
      for (const f of dataset.files) {
        const t =
          f.hour === null ? { ms: Number.NEGATIVE_INFINITY, rem: 0 } : splitTime(f.hour - FILE_LEAD_NS);
        heap.push({ ...t, file: f.index, offset: 0, dsFile: f, open: null, header: null, ahead: null });
      }
      try {
        for (let p = heap.pop(); p !== undefined; p = heap.pop()) {
          if (p.header === null) {
            let reader: TapeReader;
            try {
              // A .open file sealed meanwhile is read under its final name (`file` says which was read).
              ({ reader, file: p.dsFile } = await dataset.sources.openFile(p.dsFile));
            } catch (err) {
              // Not a tape at all (an empty .open file left by a crash, a damaged header): all of it is lost.
              yield lost(p.dsFile, p.dsFile.exchange ?? "", null, err);
              continue;
            }
            readers.add(reader);
            const loss = recoveryLoss(reader.recovery, p.dsFile.path, p.dsFile.open);
            if (loss !== null) yield lost(p.dsFile, reader.header.exchange, null, loss);
            const blocks = reader.selectBlocks(filter);
            const open = { reader, left: blocks.length };
            for (const h of blocks)
              heap.push({
                ...splitTime(h.minTs),
                file: p.file,
                offset: h.offset,
                dsFile: p.dsFile,
                open,
                header: h,
                ahead: ahead.add(reader, h, p.file),
              });
            ahead.refill();
            if (blocks.length === 0) {
              readers.delete(reader);
              await reader.close();
            }
          } else {
            const open = p.open!;
            const { dsFile, header } = p;
            const exchange = open.reader.header.exchange;
            let batch: Batch | null;
            try {
              const block = open.reader.decodeFetched(header, await ahead.take(p.ahead!));
              const cut = withinRange(block, filter);
              batch = cut.header.rowCount > 0 ? { file: dsFile, exchange, block: cut, lost: null } : null;
              if (batch === null) options.onBlockWithoutRows?.(dsFile, header);
            } catch (err) {
              batch = lost(dsFile, exchange, header, err);
            } finally {
              if (--open.left === 0) {
                readers.delete(open.reader);
                ahead.drop(open.reader);
                await open.reader.close();
              }
            }
            if (batch !== null) yield batch;
          }
        }
      } finally {
        await ahead.settle();
        await Promise.all([...readers].map((r) => r.close()));
      }
    },
  };
}

/** The block itself when every row is in [from, to); else a copy holding only the rows that are. */
export function withinRange(block: DecodedBlock, filter: TapeFilter): DecodedBlock {
  const h = block.header;
  const { from, to } = filter;
  if ((from === undefined || h.minTs >= from) && (to === undefined || h.maxTs < to)) return block;
  const ts = block.columns["ts"] as IntColumn;
  const keep: number[] = [];
  // Exact comparison on offsets from the block's base (bounds far outside clamp to +-Infinity).
  const rel = (t: bigint | undefined, dflt: number) => {
    if (t === undefined) return dflt;
    const d = t - ts.base;
    return d > 2n ** 53n ? Number.POSITIVE_INFINITY : d < -(2n ** 53n) ? Number.NEGATIVE_INFINITY : Number(d);
  };
  const lo = rel(from, Number.NEGATIVE_INFINITY);
  const hi = rel(to, Number.POSITIVE_INFINITY);
  for (let i = 0; i < h.rowCount; i++) if (ts.offsets[i]! >= lo && ts.offsets[i]! < hi) keep.push(i);
  const columns: Record<string, Column> = {};
  for (const [name, col] of Object.entries(block.columns)) columns[name] = pick(col, keep);
  let minTs = 0n;
  let maxTs = 0n;
  if (keep.length > 0) {
    let mn = Number.POSITIVE_INFINITY;
    let mx = Number.NEGATIVE_INFINITY;
    for (const i of keep) {
      mn = Math.min(mn, ts.offsets[i]!);
      mx = Math.max(mx, ts.offsets[i]!);
    }
    minTs = ts.base + BigInt(mn);
    maxTs = ts.base + BigInt(mx);
  }
  return { ...block, header: { ...h, rowCount: keep.length, minTs, maxTs }, columns };
}

function pick(col: Column, keep: number[]): Column {
  const validOf = (v: Uint8Array | null) => (v === null ? null : Uint8Array.from(keep, (i) => v[i]!));
  switch (col.type) {
    case "int":
      return { ...col, offsets: Float64Array.from(keep, (i) => col.offsets[i]!), valid: validOf(col.valid) };
    case "u8":
      return { ...col, values: Uint8Array.from(keep, (i) => col.values[i]!) };
    case "string":
      return { ...col, values: keep.map((i) => col.values[i]!), valid: validOf(col.valid) };
    case "bytes":
      return { ...col, values: keep.map((i) => col.values[i]!) };
  }
}
