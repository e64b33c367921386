/**
 * Where to start rebuilding a book: the latest book checkpoint (format 1.1) at or before an instant, when it is
 * provably the book that replaying every row would give (see `usable`), so that the rebuild replays minutes,
 * not the day.
 */
import { type BlockHeader, type Checkpoint, type IntColumn, TapeReader } from "../format/index.js";
import type { DatasetFile } from "./dataset.js";
import { FILE_LEAD_NS } from "./dataset.js";
import { HOUR_NS } from "./layout.js";

/** Files searched back from the instant for a checkpoint. */
const LOOKBACK_FILES = 3;

export interface BookStart {
  checkpoint: Checkpoint;
  file: DatasetFile;
}

/**
 * The latest usable checkpoint of `symbol` with time <= `at` in `files` (one exchange and capture, in dataset
 * order), or null when there is none (then the book is rebuilt from the start of the range).
 */
export async function findBookStart(
  files: readonly DatasetFile[],
  symbol: string,
  at: bigint,
): Promise<BookStart | null> {
  const candidates = files.filter((f) => f.hour === null || f.hour - FILE_LEAD_NS <= at).reverse();
  for (const file of candidates.slice(0, LOOKBACK_FILES)) {
    const reader = await TapeReader.open(file.path);
    try {
      let best: BlockHeader | null = null;
      for (const b of reader.checkpointBlocks(symbol)) {
        if (b.maxTs <= at && (best === null || b.maxTs >= best.maxTs)) best = b;
      }
      if (best === null) continue;
      const checkpoint = await reader.readCheckpoint(best);
      if (await usable(checkpoint, reader, file, files)) return { checkpoint, file };
      // A checkpoint that is not a clean cut here: the rebuild starts from the range instead.
      return null;
    } finally {
      await reader.close();
    }
  }
  return null;
}

/**
 * A checkpoint stands for every row of the symbol up to its time when (1) in its file, every book and event row
 * of the symbol after its position is newer than it (the writer checks this as it writes; a reader checks
 * again, as the file may have been written by another writer), and the file still holds every row before the
 * position, and (2) no other file of the capture holds rows of the symbol between the snapshot the book
 * descends from and the checkpoint.
 */
async function usable(
  cp: Checkpoint,
  reader: TapeReader,
  file: DatasetFile,
  files: readonly DatasetFile[],
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
  for (const other of files) {
    if (other === file) continue;
    if (
      other.hour !== null &&
      (other.hour - FILE_LEAD_NS > cp.ts || other.hour + HOUR_NS + FILE_LEAD_NS < cp.since)
    )
      continue;
    const r = await TapeReader.open(other.path);
    try {
      const overlap = r
        .selectBlocks({ symbols: [cp.symbol], kinds: ["book", "event"] })
        .some((b) => b.minTs <= cp.ts && b.maxTs >= cp.since);
      if (overlap) return false;
    } finally {
      await r.close();
    }
  }
  return true;
}
