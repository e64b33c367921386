/**
 * Where to start rebuilding a book: the latest book checkpoint (format 1.1) at or before an instant, when it is
 * provably the book that replaying every row would give (see `usable`), so that the rebuild replays minutes,
 * not the day.
 */
import {
  type BlockHeader,
  type Checkpoint,
  type IntColumn,
  TapeError,
  type TapeReader,
} from "../format/index.js";
import { type Dataset, type DatasetFile, FILE_LEAD_NS, openDataset } from "./dataset.js";
import { HOUR_NS } from "./layout.js";

/** Files searched back from the instant for a checkpoint. */
const LOOKBACK_FILES = 3;

export interface BookStart {
  checkpoint: Checkpoint;
  file: DatasetFile;
}

/**
 * The latest usable checkpoint of `symbol` with time <= `at` in the files of one feed (exchange and capture),
 * or null when there is none (then the book is rebuilt from the start of the range). A checkpoint that cannot
 * be read or checked is only a shortcut not taken: the rebuild still gives the book, or reports the damage.
 */
export async function findBookStart(feed: Dataset, symbol: string, at: bigint): Promise<BookStart | null> {
  const candidates = feed.files.filter((f) => f.hour === null || f.hour - FILE_LEAD_NS <= at).reverse();
  for (const listed of candidates.slice(0, LOOKBACK_FILES)) {
    let reader: TapeReader | null = null;
    try {
      // A .open file sealed since the listing is read under its final name.
      const opened = await feed.sources.openFile(listed);
      reader = opened.reader;
      const file = opened.file;
      let best: BlockHeader | null = null;
      for (const b of reader.checkpointBlocks(symbol)) {
        if (b.maxTs <= at && (best === null || b.maxTs >= best.maxTs)) best = b;
      }
      if (best === null) continue;
      const checkpoint = await reader.readCheckpoint(best);
      return (await usable(checkpoint, reader, file, feed)) ? { checkpoint, file } : null;
    } catch (err) {
      if (err instanceof TapeError) return null;
      throw err;
    } finally {
      await reader?.close();
    }
  }
  return null;
}

/**
 * A checkpoint stands for every row of the symbol up to its time when (1) in its file, every book and event row
 * of the symbol after its position is newer than it (the writer checks this as it writes; a reader checks
 * again, as the file may have been written by another writer), and the file still holds every row before the
 * position, and (2) no other file of the capture holds rows of the symbol between the snapshot the book
 * descends from and the checkpoint, and no file of the feed holds an event without a symbol in that time.
 */
async function usable(
  cp: Checkpoint,
  reader: TapeReader,
  file: DatasetFile,
  feed: Dataset,
): Promise<boolean> {
  for (const [kind, position] of [
    ["book", cp.bookRows],
    ["event", cp.eventRows],
  ] as const) {
    let before = 0;
    for (const b of reader.selectBlocks({ symbols: [cp.symbol], kinds: [kind] })) {
      const first = Math.max(0, position - before);
      before += b.rowCount;
      if (first >= b.rowCount) continue;
      if (first === 0) {
        if (b.minTs <= cp.ts) return false;
        continue;
      }
      // The block the checkpoint cuts: its rows after the cut must all be newer.
      const ts = (await reader.readBlock(b)).columns["ts"] as IntColumn;
      for (let i = first; i < b.rowCount; i++) if (ts.base + BigInt(ts.offsets[i]!) <= cp.ts) return false;
    }
    // Fewer rows than the checkpoint counts: blocks were lost (a crash, a repair); do not trust it.
    if (before < position) return false;
  }
  // Events without a symbol concern every book; one in [since, ts] would have made the book invalid, so it was
  // appended after the checkpoint while older than it: the rebuild would apply it before the checkpoint's time.
  const cut = (r: TapeReader) =>
    r.selectBlocks({ symbols: [""], kinds: ["event"] }).some((b) => b.minTs <= cp.ts && b.maxTs >= cp.since);
  if (cut(reader)) return false;
  for (const other of await feedFiles(feed, file, cp)) {
    // The checkpoint's own file, also when it was listed under its .open name.
    if (other.path === file.path || other.path === `${file.path}.open`) continue;
    const { reader: r } = await feed.sources.openFile(other);
    try {
      const overlap = r
        .selectBlocks({ symbols: [cp.symbol], kinds: ["book", "event"] })
        .some((b) => b.minTs <= cp.ts && b.maxTs >= cp.since);
      if (overlap || cut(r)) return false;
    } finally {
      await r.close();
    }
  }
  return true;
}

/**
 * The files of the feed that may hold times in [since, ts]: listed again from the dataset's root (the dataset's
 * own range may leave out a file that matters), or the dataset's files when it is a list of files.
 */
async function feedFiles(feed: Dataset, file: DatasetFile, cp: Checkpoint): Promise<readonly DatasetFile[]> {
  const mayHold = (f: DatasetFile) =>
    f.hour === null || (f.hour - FILE_LEAD_NS <= cp.ts && f.hour + HOUR_NS + FILE_LEAD_NS >= cp.since);
  const wide = await feedFromRoot(feed, file, cp.since, cp.ts + 1n);
  return (wide ?? feed).files.filter(mayHold);
}

/**
 * The feed of `file` listed again from the dataset's root for [from, to), beyond the dataset's own range; null for
 * a dataset that is a list of files (its files are all there is), or a file whose name does not say its feed.
 */
export async function feedFromRoot(
  feed: Dataset,
  file: DatasetFile,
  from: bigint | undefined,
  to: bigint | undefined,
): Promise<Dataset | null> {
  if (feed.root === null || file.exchange === null || file.captureId === null) return null;
  return openDataset(feed.root, {
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    exchanges: [file.exchange],
    captures: [file.captureId],
    includeOpen: feed.files.some((f) => f.open),
    sources: feed.sources,
  });
}
