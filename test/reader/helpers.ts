/** Shared tools of the reader tests: datasets written to a temporary directory, and a reference replay order. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type BlockPolicy,
  blockRecords,
  encodeTape,
  openTape,
  type TapeReader,
  type TapeRecord,
  tapeRelativePath,
} from "../../src/index.js";

export const HOUR = 3_600_000_000_000n;
/** 2024-08-08T00:00:00Z */
export const DAY0 = 1_723_075_200_000_000_000n;

export interface FileSpec {
  exchange: string;
  hour: bigint;
  captureId: string;
  records: TapeRecord[];
  policy?: Partial<BlockPolicy>;
  /** Write as `.tape.open` (bytes as given by `bytes`, or the sealed encoding). */
  open?: boolean;
  /** Replace the encoded bytes (to damage them). */
  damage?: (bytes: Uint8Array) => Uint8Array;
}

export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "ticktape-reader-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes the files under `root` in the dataset layout; returns their paths. */
export async function writeDataset(root: string, files: readonly FileSpec[]): Promise<string[]> {
  const paths: string[] = [];
  for (const f of files) {
    let bytes = encodeTape(
      f.records,
      { exchange: f.exchange, captureId: f.captureId, periodStart: f.hour, periodEnd: f.hour + HOUR },
      { policy: f.policy ?? {} },
    );
    if (f.damage) bytes = f.damage(bytes);
    const path = join(root, tapeRelativePath(f.exchange, f.hour, f.captureId)) + (f.open ? ".open" : "");
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    paths.push(path);
  }
  return paths;
}

export interface Located {
  record: TapeRecord;
  exchange: string;
  file: number;
  offset: number;
  row: number;
}

/** Every record of the files, with where it is, read block by block with TapeReader. */
export async function locateAll(paths: readonly string[]): Promise<Located[]> {
  const out: Located[] = [];
  for (let file = 0; file < paths.length; file++) {
    const reader: TapeReader = await openTape(paths[file]!);
    try {
      for (const b of reader.blocks) {
        if (b.kind === null) continue;
        const recs = blockRecords(await reader.readBlock(b));
        recs.forEach((record, row) => {
          out.push({ record, exchange: reader.header.exchange, file, offset: b.offset, row });
        });
      }
    } finally {
      await reader.close();
    }
  }
  return out;
}

/** The documented replay order: exchange time, receive time (absent first), file, block offset, row. */
export function referenceOrder(all: Located[]): Located[] {
  const cmp = (a: bigint | undefined, b: bigint | undefined) =>
    a === b ? 0 : a === undefined ? -1 : b === undefined ? 1 : a < b ? -1 : 1;
  return [...all].sort(
    (a, b) =>
      cmp(a.record.ts, b.record.ts) ||
      cmp(a.record.recvTs, b.record.recvTs) ||
      a.file - b.file ||
      a.offset - b.offset ||
      a.row - b.row,
  );
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
