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

/** One time column, read as (ms, remainder) pairs: base split once, offsets (exact, within ±(2^53 − 1)) added per row. */
class TimeColumn {
  private readonly baseMs: number;
  private readonly baseRem: number;
  private readonly offsets: Float64Array;
  private readonly valid: Uint8Array | null;
  /** Results of the last `at`. */
  ms = 0;
  rem = 0;

  constructor(col: IntColumn) {
    const b = splitTime(col.base);
    this.baseMs = b.ms;
    this.baseRem = b.rem;
    this.offsets = col.offsets;
    this.valid = col.valid;
  }

  at(i: number): void {
    if (this.valid !== null && this.valid[i] === 0) {
      this.ms = Number.NEGATIVE_INFINITY;
      this.rem = 0;
      return;
    }
    // The offset is split before the base's remainder is added: their sum could pass 2^53 and lose its last digit.
    const offset = this.offsets[i]!;
    let q = Math.floor(offset / MS);
    let r = offset - q * MS + this.baseRem;
    // The quotient is rounded before the floor, and the base's remainder added: r is in [−1e6, 3e6).
    while (r < 0) {
      q -= 1;
      r += MS;
    }
    while (r >= MS) {
      q += 1;
      r -= MS;
    }
    this.ms = this.baseMs + q;
    this.rem = r;
  }
}

export class BlockCursor {
  /** Current position in replay order (an index into `order`, or the row itself when `order` is null). */
  pos: number;
  /** End of the rows to replay (exclusive), in replay order. */
  readonly end: number;
  /** The row at `pos` in the block (file order). */
  row = 0;
  // The current row's key (the receive time only after `loadRecv`).
  tsMs = 0;
  tsRem = 0;
  recvMs = 0;
  recvRem = 0;

  private readonly ts: TimeColumn;
  private readonly recv: TimeColumn;
  private readonly tsBase: bigint;
  private readonly tsOffsets: Float64Array;
  private readonly recvOffsets: Float64Array;
  private readonly recvValid: Uint8Array | null;
  /** Rows in replay order when the block is not already sorted by (ts, recvTs); else null. */
  private readonly order: Int32Array | null;

  constructor(
    readonly block: DecodedBlock,
    from: bigint | undefined,
    to: bigint | undefined,
  ) {
    const rows = block.header.rowCount;
    const ts = block.columns["ts"] as IntColumn;
    const recv = block.columns["recvTs"] as IntColumn;
    this.ts = new TimeColumn(ts);
    this.recv = new TimeColumn(recv);
    this.tsBase = ts.base;
    this.tsOffsets = ts.offsets;
    this.recvOffsets = recv.offsets;
    this.recvValid = recv.valid;
    this.order = this.sortedOrder(rows);
    this.pos = from === undefined ? 0 : this.lowerBound(from, rows);
    this.end = to === undefined ? rows : this.lowerBound(to, rows);
    if (this.pos < this.end) this.load();
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

  private load(): void {
    const i = this.order === null ? this.pos : this.order[this.pos]!;
    this.row = i;
    this.ts.at(i);
    this.tsMs = this.ts.ms;
    this.tsRem = this.ts.rem;
  }

  /** Sets the current row's receive time key: read only when exchange times tie, which is rare across blocks. */
  loadRecv(): void {
    this.recv.at(this.row);
    this.recvMs = this.recv.ms;
    this.recvRem = this.recv.rem;
  }

  /**
   * Compares rows i and j of this block by (ts, recvTs, row). Within a block a column's values share one base,
   * so their offsets compare exactly as they are.
   */
  private compareRows(i: number, j: number): number {
    const ts = this.tsOffsets;
    if (ts[i] !== ts[j]) return ts[i]! < ts[j]! ? -1 : 1;
    const valid = this.recvValid;
    const ri = valid === null || valid[i] === 1;
    const rj = valid === null || valid[j] === 1;
    if (ri !== rj) return ri ? 1 : -1;
    const recv = this.recvOffsets;
    if (ri && recv[i] !== recv[j]) return recv[i]! < recv[j]! ? -1 : 1;
    return i - j;
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
    // t as an offset from the column's base; beyond ±(2^53 − 1), where no offset is (§5.5), it clamps.
    const d = t - this.tsBase;
    const limit = BigInt(Number.MAX_SAFE_INTEGER);
    const rel = d > limit ? Number.POSITIVE_INFINITY : d < -limit ? Number.NEGATIVE_INFINITY : Number(d);
    const ts = this.tsOffsets;
    let lo = 0;
    let hi = rows;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ts[this.order === null ? mid : this.order[mid]!]! < rel) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
