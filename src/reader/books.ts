/**
 * Order books of one symbol from a dataset: at one instant, or on a time grid. The book is rebuilt by
 * replaying the symbol's `book` and `event` rows from the start of the range, so the range must include a
 * snapshot before the first instant asked for (until then the book is invalid, with the reason).
 */
import { type Row, TapeError } from "../format/index.js";
import type { Dataset, TimeInput } from "./dataset.js";
import { toNs } from "./dataset.js";
import { OrderBook } from "./order-book.js";
import { Merge, type ReplayOptions } from "./replay.js";

export interface BookSnapshotOptions {
  symbol: string;
  /** The exchange, when the dataset holds the symbol on several. */
  exchange?: string;
  /** One book: after every row with exchange time <= at. */
  at?: TimeInput;
  /** A grid: the book at every multiple of this step (ns, or "500ms", "1s", "5m", "1h") within [from, to). */
  every?: bigint | string;
  /** Start of the rebuild (default: the dataset's). */
  from?: TimeInput;
  /** End of the grid (exclusive; default: the dataset's). */
  to?: TimeInput;
  onCorrupt?: ReplayOptions["onCorrupt"];
}

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** A duration: ns as a bigint, or a number with a unit ("250ms", "1s", "5m"). */
export function parseDuration(v: bigint | string, field: string): bigint {
  let ns: bigint | null = null;
  if (typeof v === "bigint") ns = v;
  else {
    const m = /^(\d{1,15})(ns|us|ms|s|m|h)$/.exec(v.trim());
    if (m !== null) ns = BigInt(m[1]!) * UNITS[m[2]!]!;
  }
  if (ns === null || ns <= 0n)
    throw new TapeError(
      "E_TAPE_VALUE",
      `expected a positive duration such as 500ms, 1s or 5m, got ${String(v)}`,
      { field },
    );
  return ns;
}

/** A book at an instant; `lastUpdate` is the exact exchange time of the last row that changed it. */
export interface BookSnapshot {
  at: bigint;
  book: OrderBook;
  lastUpdate: bigint | null;
}

export function bookSnapshots(dataset: Dataset, o: BookSnapshotOptions): AsyncIterable<BookSnapshot> {
  return {
    async *[Symbol.asyncIterator]() {
      if ((o.at === undefined) === (o.every === undefined))
        throw new TapeError("E_TAPE_VALUE", "give either `at` or `every`", { field: "at" });
      const at = toNs(o.at, "at");
      const step = o.every === undefined ? null : parseDuration(o.every, "every");
      const from = toNs(o.from, "from") ?? dataset.selection.from;
      const to = at !== undefined ? at + 1n : (toNs(o.to, "to") ?? dataset.selection.to);
      if (step !== null && (from === undefined || to === undefined))
        throw new TapeError("E_TAPE_VALUE", "a grid needs `from` and `to` (here or on the dataset)", {
          field: "every",
        });
      const replay: ReplayOptions = { symbols: [o.symbol], kinds: ["book", "event"] };
      if (from !== undefined) replay.from = from;
      if (to !== undefined) replay.to = to;
      if (o.onCorrupt !== undefined) replay.onCorrupt = o.onCorrupt;
      const merge = new Merge(dataset, replay);
      const book = new OrderBook(o.symbol, o.exchange ?? "");
      // The next grid point: the first multiple of the step at or after `from`.
      let next = step === null ? null : ceilTo(from!, step);
      let lastUpdate: bigint | null = null;
      try {
        for (;;) {
          const r = await merge.next();
          if (r.done) break;
          const t = merge.lastTime();
          // Grid points before this row's time see the book as it was.
          while (next !== null && next < to! && less(next, t)) {
            yield { at: next, book: book.clone(), lastUpdate };
            next += step!;
          }
          if (book.apply(r.value as Row)) lastUpdate = BigInt(t.ms) * 1_000_000n + BigInt(t.rem);
        }
        if (at !== undefined) yield { at, book, lastUpdate };
        while (next !== null && next < to!) {
          yield { at: next, book: book.clone(), lastUpdate };
          next += step!;
        }
      } finally {
        await merge.close();
      }
    },
  };
}

/** Whether the instant `g` (ns) is before the time (ms, remainder). */
function less(g: bigint, t: { ms: number; rem: number }): boolean {
  const gms = Number(g / 1_000_000n);
  const grem = Number(g % 1_000_000n);
  return gms < t.ms || (gms === t.ms && grem < t.rem);
}

function ceilTo(t: bigint, step: bigint): bigint {
  const r = ((t % step) + step) % step;
  return r === 0n ? t : t - r + step;
}
