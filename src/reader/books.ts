/**
 * Order books of one symbol of one feed (exchange and capture) from a dataset: at one instant, or on a time
 * grid. The book starts from the latest usable book checkpoint (format 1.1) at or before the first instant and
 * replays the symbol's `book` and `event` rows from there; without one it replays from the start of the range,
 * which must then hold a snapshot (until one, the book is invalid, with the reason).
 */
import { type Row, TapeError } from "../format/index.js";
import { feedFromRoot, findBookStart } from "./book-start.js";
import type { Dataset, DatasetFile, TimeInput } from "./dataset.js";
import { toNs } from "./dataset.js";
import { OrderBook } from "./order-book.js";
import { Merge, type ReplayOptions } from "./replay.js";

export interface BookSnapshotOptions {
  symbol: string;
  /** The exchange (required when the dataset holds several). */
  exchange?: string;
  /** The capture id (required when the dataset holds several captures of the exchange). */
  capture?: string;
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
  /** The checkpoint the rebuild started from (null: from the start of the range). */
  checkpoint: { file: string; offset: number; ts: bigint } | null;
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
      // One feed: rows of two exchanges or two captures of the symbol would make one meaningless book. The
      // book's own query decides symbols and kinds, not the dataset's selection.
      const feed = await feedOf(dataset, o.exchange, o.capture);
      const book = new OrderBook(o.symbol, o.exchange ?? "");
      // The next grid point: the first multiple of the step at or after `from`.
      let next = step === null ? null : ceilTo(from!, step);
      const start = await findBookStart(feed, o.symbol, at ?? next!);
      // Events without a symbol (a missing hour, a lost file) concern every book.
      const replay: ReplayOptions = { symbols: [o.symbol, ""], kinds: ["book", "event"] };
      let checkpoint: BookSnapshot["checkpoint"] = null;
      let since = from;
      if (start !== null) {
        const cp = start.checkpoint;
        book.restore(
          cp.levels.map((l) => ({ side: l.side, price: Number(l.price), size: Number(l.size) })),
          Number(cp.lastChange),
        );
        checkpoint = { file: start.file.path, offset: cp.offset, ts: cp.ts };
        since = cp.ts + 1n;
      }
      if (since !== undefined) replay.from = since;
      if (to !== undefined) replay.to = to;
      if (o.onCorrupt !== undefined) replay.onCorrupt = o.onCorrupt;
      // The rebuild starts where it starts, even before the dataset's own range: then the files it reads are those
      // of the feed listed again for its span (a file the range leaves out may hold rows of it).
      const sel = dataset.selection;
      const beyond =
        (sel.from !== undefined && (since === undefined || since < sel.from)) ||
        (sel.to !== undefined && (to === undefined || to > sel.to));
      const wide = beyond ? await feedFromRoot(feed, feed.files[0]!, since, to) : null;
      const merge = new Merge(
        (wide ?? feed).subset(() => true, {
          from: undefined,
          to: undefined,
          symbols: undefined,
          kinds: undefined,
        }),
        replay,
      );
      let lastUpdate: bigint | null = start === null ? null : start.checkpoint.lastChange;
      try {
        for (;;) {
          const r = await merge.next();
          if (r.done) break;
          const t = merge.lastTime();
          // Grid points before this row's time see the book as it was.
          while (next !== null && next < to! && less(next, t)) {
            yield { at: next, book: book.clone(), lastUpdate, checkpoint };
            next += step!;
          }
          if (book.apply(r.value as Row, t)) lastUpdate = BigInt(t.ms) * 1_000_000n + BigInt(t.rem);
        }
        if (at !== undefined) yield { at, book, lastUpdate, checkpoint };
        while (next !== null && next < to!) {
          yield { at: next, book: book.clone(), lastUpdate, checkpoint };
          next += step!;
        }
      } finally {
        await merge.close();
      }
    },
  };
}

/**
 * The dataset's files of one feed. Files whose names do not say their exchange or capture are asked (their
 * headers). An empty choice, or several feeds left, is an error: a book of no feed or of two means nothing.
 */
async function feedOf(
  dataset: Dataset,
  exchange: string | undefined,
  capture: string | undefined,
): Promise<Dataset> {
  const named = new Map<string, { exchange: string; captureId: string }>();
  for (const f of dataset.files) {
    if (f.exchange !== null && f.captureId !== null) continue;
    const { reader: r } = await dataset.sources.openFile(f);
    named.set(f.path, { exchange: r.header.exchange, captureId: r.header.captureId });
    await r.close();
  }
  const exchangeOf = (f: DatasetFile) => f.exchange ?? named.get(f.path)!.exchange;
  const captureOf = (f: DatasetFile) => f.captureId ?? named.get(f.path)!.captureId;
  const feed = dataset.subset(
    (f) =>
      (exchange === undefined || exchangeOf(f) === exchange) &&
      (capture === undefined || captureOf(f) === capture),
  );
  // Also when the dataset was opened for that feed (its files already narrowed to it): a book of a feed with no
  // file is a mistyped name or an empty range, not a book without a snapshot.
  if (feed.files.length === 0) {
    const asked = [exchange, capture].filter((x) => x !== undefined).join(", ");
    throw new TapeError("E_TAPE_VALUE", `no file of ${asked === "" ? "any feed" : asked} in the dataset`, {
      field: exchange !== undefined ? "exchange" : "capture",
    });
  }
  for (const [what, values] of [
    ["exchange", new Set(feed.files.map(exchangeOf))],
    ["capture", new Set(feed.files.map(captureOf))],
  ] as const) {
    if (values.size > 1)
      throw new TapeError(
        "E_TAPE_VALUE",
        `the dataset holds several: ${[...values].join(", ")}; choose one`,
        {
          field: what,
        },
      );
  }
  return feed;
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
