/**
 * A decoded block seen as a run of rows in replay order, with the exact sort key of its current row in plain
 * numbers, so that a merge compares rows without a BigInt per row.
 *
 * The key of a row is (exchange time, receive time, file, block offset, row), times exact: each time is split
 * into whole milliseconds and the ns remainder, two doubles that hold any int64 ns exactly. A row without a
 * receive time sorts before rows with one.
 */
import type { DecodedBlock, IntColumn } from "../format/index.js";

const MS = 1_000_000;
const MS_BIG = 1_000_000n;

/** (ms, ns remainder) of an exact time, as in the row keys. */
export function splitTime(t: bigint): { ms: number; rem: number } {
  let ms = t / MS_BIG;
  let rem = t % MS_BIG;
  if (rem < 0n) {
    rem += MS_BIG;
    ms -= 1n;
  }
  return { ms: Number(ms), rem: Number(rem) };
}

/** Splits base + offsets[i] into (ms, ns remainder), both exact doubles, for every row. */
function splitTimes(col: IntColumn, rows: number): { ms: Float64Array; rem: Float64Array } {
  const ms = new Float64Array(rows);
  const rem = new Float64Array(rows);
  // base = baseMs * 1e6 + baseRem with 0 <= baseRem < 1e6; offsets stay within 2^50, so t is exact.
  const { ms: bm, rem: br } = splitTime(col.base);
  const off = col.offsets;
  const valid = col.valid;
  for (let i = 0; i < rows; i++) {
    if (valid !== null && valid[i] === 0) {
      ms[i] = Number.NEGATIVE_INFINITY;
      rem[i] = 0;
      continue;
    }
    const t = br + off[i]!;
    let q = Math.floor(t / MS);
    let r = t - q * MS;
    // The quotient is rounded before the floor: put a remainder that fell outside [0, 1e6) back.
    if (r < 0) {
      q -= 1;
      r += MS;
    } else if (r >= MS) {
      q += 1;
      r -= MS;
    }
    ms[i] = bm + q;
    rem[i] = r;
  }
  return { ms, rem };
}

export class BlockCursor {
  /** Current position in replay order (an index into `order`, or the row itself when `order` is null). */
  pos: number;
  /** End of the rows to replay (exclusive), in replay order. */
  readonly end: number;
  /** The row at `pos` in the block (file order). */
  row = 0;
  // The current row's key.
  tsMs = 0;
  tsRem = 0;
  recvMs = 0;
  recvRem = 0;

  private readonly tsMsAll: Float64Array;
  private readonly tsRemAll: Float64Array;
  private readonly recvMsAll: Float64Array;
  private readonly recvRemAll: Float64Array;
  /** Rows in replay order when the block is not already sorted by (ts, recvTs); else null. */
  private readonly order: Int32Array | null;

  constructor(
    readonly block: DecodedBlock,
    /** Index of the file in the dataset: the third part of the key. */
    readonly file: number,
    from: bigint | undefined,
    to: bigint | undefined,
  ) {
    const rows = block.header.rowCount;
    const ts = splitTimes(block.columns["ts"] as IntColumn, rows);
    const recv = splitTimes(block.columns["recvTs"] as IntColumn, rows);
    this.tsMsAll = ts.ms;
    this.tsRemAll = ts.rem;
    this.recvMsAll = recv.ms;
    this.recvRemAll = recv.rem;
    this.order = this.sortedOrder(rows);
    this.pos = from === undefined ? 0 : this.lowerBound(from, rows);
    this.end = to === undefined ? rows : this.lowerBound(to, rows);
    if (this.pos < this.end) this.load();
  }

  get offset(): number {
    return this.block.header.offset;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Moves to the next row; false when the run is over. */
  next(): boolean {
    if (++this.pos >= this.end) return false;
    this.load();
    return true;
  }

  /** Rows still to replay, in file order (the current one first). */
  remainingRows(): Int32Array {
    const out = new Int32Array(Math.max(0, this.end - this.pos));
    for (let k = 0; k < out.length; k++) out[k] = this.rowAt(this.pos + k);
    return out;
  }

  private load(): void {
    const i = this.rowAt(this.pos);
    this.row = i;
    this.tsMs = this.tsMsAll[i]!;
    this.tsRem = this.tsRemAll[i]!;
    this.recvMs = this.recvMsAll[i]!;
    this.recvRem = this.recvRemAll[i]!;
  }

  private rowAt(k: number): number {
    return this.order === null ? k : this.order[k]!;
  }

  /** Compares rows i and j of this block by (ts, recvTs, row). */
  private compareRows(i: number, j: number): number {
    return (
      this.tsMsAll[i]! - this.tsMsAll[j]! ||
      this.tsRemAll[i]! - this.tsRemAll[j]! ||
      compareNumbers(this.recvMsAll[i]!, this.recvMsAll[j]!) ||
      this.recvRemAll[i]! - this.recvRemAll[j]! ||
      i - j
    );
  }

  private sortedOrder(rows: number): Int32Array | null {
    let sorted = true;
    for (let i = 1; i < rows && sorted; i++) sorted = this.compareRows(i - 1, i) < 0;
    if (sorted) return null;
    const order = new Int32Array(rows);
    for (let i = 0; i < rows; i++) order[i] = i;
    order.sort((a, b) => this.compareRows(a, b));
    return order;
  }

  /** First position (replay order) whose exchange time is >= t. */
  private lowerBound(t: bigint, rows: number): number {
    const { ms: m, rem: r } = splitTime(t);
    let lo = 0;
    let hi = rows;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const i = this.rowAt(mid);
      const ms = this.tsMsAll[i]!;
      if (ms < m || (ms === m && this.tsRemAll[i]! < r)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** a - b for numbers that may be -Infinity (absent receive times), without producing NaN. */
function compareNumbers(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}
