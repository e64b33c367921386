/**
 * The replay side of the benchmark, on files written to a temporary dataset with the writer's default policy:
 * - merged replay of 10 files × 10 symbols into row objects (per record, and in chunks), and the columnar scan;
 * - seeks into a 1-hour, 10-symbol file: blocks and bytes read for a random minute;
 * - the book at a random instant of a busy symbol's hour (≥ 5M book updates), from checkpoints.
 * Each figure is printed with what a naive approach costs on the same data, measured in the same run.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type BlockPolicy,
  type Dataset,
  openDataset,
  openTape,
  type Row,
  TapeEncoder,
  tapeRelativePath,
} from "../src/index.js";
import { measureS3, type S3Figures, s3Keys, s3Markdown, s3Targets } from "./s3.js";
import { syntheticWorkload } from "./synthetic.js";
import { appendRun, type Prepared, prepare, runStart } from "./ticktape.js";
import type { Workload } from "./workload.js";

const HOUR = 3_600_000_000_000n;
const MINUTE = 60_000_000_000n;
/** The synthetic data starts at 2024-08-08T00:00:00Z, a whole hour. */
export const HOUR0 = 1_723_075_200_000_000_000n;

export interface ReplayFigures {
  files: number;
  symbols: number;
  rows: number;
  replayRowsPerSec: number;
  replayChunksRowsPerSec: number;
  scanRowsPerSec: number;
  /** Naive: every file's rows read into objects, concatenated and sorted. */
  naiveReplayRowsPerSec: number;
  /** Naive scan: every file's rows as objects, unmerged. */
  naiveScanRowsPerSec: number;
  seekFileBytes: number;
  seekFileBlocks: number;
  /** Mean blocks read to reach the first record of one (symbol, kind) at a random minute. */
  seekBlocksRead: number;
  /** Mean blocks and bytes read for a random 1-minute window of every symbol and kind. */
  windowBlocksRead: number;
  windowBytesRead: number;
  bookUpdatesInHour: number;
  bookLevelsMean: number;
  bookAtMs: number;
  /** The same instants without checkpoints (a rebuild from the start of the hour). */
  naiveBookAtMs: number;
  /** The same files read from S3 (null with `--no-s3`, or when the emulator cannot run: `s3Skipped` says why). */
  s3: S3Figures | null;
  s3Skipped: string | null;
}

/** Writes a workload's trades and book rows into one file, runs interleaved by time as a recorder appends them. */
export function encodeFile(
  w: Workload,
  exchange: string,
  captureId: string,
  policy: Partial<BlockPolicy>,
): Uint8Array {
  const chunks: Uint8Array[] = [];
  const enc = new TapeEncoder(
    { exchange, captureId, periodStart: HOUR0, periodEnd: HOUR0 + HOUR, meta: {} },
    (b) => chunks.push(b),
    { policy },
  );
  const tables: { kind: "trade" | "book"; p: Prepared }[] = [
    { kind: "trade", p: prepare(w.trades, w.symbols.length) },
    { kind: "book", p: prepare(w.book, w.symbols.length) },
  ];
  const runs = tables.flatMap(({ kind, p }) =>
    p.grouped.runs.map((run) => ({ kind, p, run, t: runStart(p, run) })),
  );
  runs.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  for (const r of runs) appendRun(enc, w, r.kind, r.p, r.run);
  enc.seal();
  return Buffer.concat(chunks);
}

/** Keeps the rows of the first hour. */
export function firstHour(w: Workload): Workload {
  const end = HOUR0 + HOUR;
  const cut = <T extends { count: number; ts: BigInt64Array }>(t: T): T => {
    let n = 0;
    while (n < t.count && t.ts[n]! < end) n++;
    return { ...t, count: n };
  };
  return { ...w, trades: cut(w.trades), book: cut(w.book) };
}

async function write(root: string, exchange: string, captureId: string, bytes: Uint8Array): Promise<string> {
  const path = join(root, tapeRelativePath(exchange, HOUR0, captureId));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return path;
}

async function bestOf<T>(passes: number, f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  let best = Number.POSITIVE_INFINITY;
  let value: T | undefined;
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    value = await f();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { seconds: best, value: value! };
}

/** mulberry32, for the random instants. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` random minute starts within the first hour. */
function randomMinutes(n: number, seed: number): bigint[] {
  const rnd = random(seed);
  return Array.from({ length: n }, () => HOUR0 + BigInt(Math.floor(rnd() * 59)) * MINUTE);
}

async function mergedReplay(root: string, log: (m: string) => void, seed: number) {
  log("replay: writing 10 files × 10 symbols");
  let rows = 0;
  const paths: string[] = [];
  for (let f = 0; f < 10; f++) {
    const w = syntheticWorkload({ trades: 60_000, bookUpdates: 240_000, seed: seed + f, symbols: 10 });
    rows += w.trades.count + w.book.count;
    paths.push(await write(root, `venue${f}`, "bench", encodeFile(w, `venue${f}`, "bench", {})));
  }
  const ds = await openDataset(root, { exchanges: Array.from({ length: 10 }, (_, f) => `venue${f}`) });
  const count = async (it: AsyncIterable<unknown>) => {
    let n = 0;
    for await (const _ of it) n++;
    return n;
  };
  log("replay: merged rows, chunks, columnar scan, and the naive peers");
  const replay = await bestOf(3, () => count(ds.replay()));
  const chunks = await bestOf(3, async () => {
    let n = 0;
    for await (const c of ds.replayChunks()) n += c.length;
    return n;
  });
  const scan = await bestOf(3, async () => {
    let n = 0;
    for await (const b of ds.batches()) n += b.block?.header.rowCount ?? 0;
    return n;
  });
  for (const [name, got] of [
    ["replay", replay.value],
    ["chunks", chunks.value],
    ["scan", scan.value],
  ] as const) {
    if (got !== rows) throw new Error(`${name} gave ${got} rows, expected ${rows}`);
  }
  const naiveScan = await bestOf(1, () => naiveRows(ds, false));
  const naiveReplay = await bestOf(1, () => naiveRows(ds, true));
  return {
    paths,
    files: ds.files.length,
    rows,
    replayRowsPerSec: rows / replay.seconds,
    replayChunksRowsPerSec: rows / chunks.seconds,
    scanRowsPerSec: rows / scan.seconds,
    naiveScanRowsPerSec: rows / naiveScan.seconds,
    naiveReplayRowsPerSec: rows / naiveReplay.seconds,
  };
}

/** Every file's rows as objects; sorted by time when `sort`. */
async function naiveRows(ds: Dataset, sort: boolean): Promise<number> {
  const all: Row[] = [];
  for (const f of ds.files) {
    const r = await openTape(f.path);
    for await (const row of r.rows()) all.push(row);
    await r.close();
  }
  if (sort) all.sort((a, b) => a.ts - b.ts || (a.recvTs ?? 0) - (b.recvTs ?? 0));
  return all.length;
}

async function seeks(root: string, log: (m: string) => void, seed: number) {
  log("seek: writing a 1-hour, 10-symbol file");
  const w = firstHour(syntheticWorkload({ trades: 800_000, bookUpdates: 3_200_000, seed, symbols: 10 }));
  const path = await write(root, "seekvenue", "bench", encodeFile(w, "seekvenue", "bench", {}));
  const reader = await openTape(path);
  try {
    const rnd = random(seed);
    const symbols = w.symbols.map((s) => s.name);
    let firstBlocks = 0;
    let windowBlocks = 0;
    let windowBytes = 0;
    const n = 200;
    for (let i = 0; i < n; i++) {
      const from = HOUR0 + BigInt(Math.floor(rnd() * 59)) * MINUTE;
      // The first record of one (symbol, kind) at or after `from`: the index gives the block; one read.
      const symbol = symbols[Math.floor(rnd() * symbols.length)]!;
      const kind = rnd() < 0.5 ? "trade" : "book";
      const blocks = reader.selectBlocks({ symbols: [symbol], kinds: [kind], from });
      if (blocks.length > 0) {
        // Blocks of one stream are in time order: read until a row at or after `from` is found.
        for (const b of blocks) {
          firstBlocks++;
          const block = await reader.readBlock(b);
          const ts = block.columns["ts"]!;
          if (ts.type === "int" && ts.offsets.some((o) => ts.base + BigInt(o) >= from)) break;
        }
      }
      // A 1-minute window of everything.
      for (const b of reader.selectBlocks({ from, to: from + MINUTE })) {
        windowBlocks++;
        windowBytes += b.length;
        await reader.readBlock(b);
      }
    }
    return {
      seekPath: path,
      symbols: symbols.length,
      seekFileBytes: reader.size,
      seekFileBlocks: reader.selectBlocks().length,
      seekBlocksRead: firstBlocks / n,
      windowBlocksRead: windowBlocks / n,
      windowBytesRead: windowBytes / n,
    };
  } finally {
    await reader.close();
  }
}

async function bookAt(root: string, log: (m: string) => void, seed: number) {
  log("book: writing a busy symbol's hour (≥ 5M book updates), with and without checkpoints");
  const w = firstHour(
    syntheticWorkload({ trades: 1_000_000, bookUpdates: 5_600_000, seed, symbols: 1, timeScale: 0.55 }),
  );
  if (w.book.count < 5_000_000) throw new Error(`only ${w.book.count} book updates in the hour`);
  const symbol = w.symbols[0]!.name;
  const withCp = join(root, "with");
  const without = join(root, "without");
  await write(withCp, "busy", "bench", encodeFile(w, "busy", "bench", {}));
  await write(without, "busy", "bench", encodeFile(w, "busy", "bench", { checkpointIntervalNs: 0 }));
  const rnd = random(seed + 1);
  const instants = Array.from({ length: 20 }, () => HOUR0 + BigInt(Math.floor(rnd() * 3_590_000_000_000)));
  const measure = async (dir: string, at: bigint[]) => {
    const ds = await openDataset(dir, { from: HOUR0, to: HOUR0 + HOUR });
    let total = 0;
    let levels = 0;
    for (const t of at) {
      const t0 = performance.now();
      for await (const { book, checkpoint } of ds.books({ symbol, at: t })) {
        levels += book.bidLevels + book.askLevels;
        if (dir === withCp && checkpoint === null) throw new Error("a book was rebuilt without a checkpoint");
        if (!book.valid) throw new Error(`the book at ${t} is invalid: ${book.invalidReason}`);
      }
      total += performance.now() - t0;
    }
    return { ms: total / at.length, levels: levels / at.length };
  };
  await measure(withCp, instants.slice(0, 2)); // warm-up
  const fast = await measure(withCp, instants);
  // The naive rebuild replays up to an hour of updates per instant: a few instants suffice.
  const slow = await measure(without, instants.slice(0, 3));
  return {
    bookUpdatesInHour: w.book.count,
    bookLevelsMean: fast.levels,
    bookAtMs: fast.ms,
    naiveBookAtMs: slow.ms,
  };
}

export async function measureReplay(
  log: (m: string) => void,
  seed: number,
  withS3: boolean,
): Promise<ReplayFigures> {
  const root = await mkdtemp(join(tmpdir(), "ticktape-bench-"));
  try {
    const { paths, ...merged } = await mergedReplay(join(root, "merged"), log, seed);
    const { seekPath, ...seek } = await seeks(join(root, "seek"), log, seed);
    const book = await bookAt(join(root, "book"), log, seed);
    let s3: S3Figures | null = null;
    let s3Skipped: string | null = withS3 ? null : "--no-s3";
    if (withS3) {
      try {
        s3 = await measureS3(
          {
            mergedRoot: join(root, "merged"),
            mergedPaths: paths,
            seekRoot: join(root, "seek"),
            seekPath,
            minutes: randomMinutes(50, seed + 7),
          },
          log,
        );
      } catch (err) {
        // Only the emulator failing to start is a reason to go on without the figures.
        if (!/S3 emulator|Node 22/.test((err as Error).message)) throw err;
        s3Skipped = (err as Error).message;
        log(`s3: skipped: ${s3Skipped}`);
      }
    }
    return { ...merged, ...seek, ...book, s3, s3Skipped };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const rate = (r: number) => `${(r / 1e6).toFixed(1)}M/s`;

/** The keys the issue names, at the top level of the JSON object. */
export function replayKeys(r: ReplayFigures): Record<string, number> {
  return {
    replayRowsPerSec: r.replayRowsPerSec,
    scanRowsPerSec: r.scanRowsPerSec,
    seekBlocksRead: r.seekBlocksRead,
    bookAtMs: r.bookAtMs,
    ...(r.s3 === null ? {} : s3Keys(r.s3)),
  };
}

export function replayTargets(r: ReplayFigures): [string, boolean, string][] {
  return [
    [
      "merged replay → row objects ≥ 4M records/s (one core)",
      r.replayRowsPerSec >= 4e6,
      rate(r.replayRowsPerSec),
    ],
    ["columnar scan ≥ 20M records/s", r.scanRowsPerSec >= 20e6, rate(r.scanRowsPerSec)],
    ["seek to a random minute ≤ 2 block reads", r.seekBlocksRead <= 2, r.seekBlocksRead.toFixed(2)],
    ["book at a random instant ≤ 50 ms", r.bookAtMs <= 50, `${r.bookAtMs.toFixed(1)} ms`],
    ...(r.s3 === null ? [] : s3Targets(r.s3)),
  ];
}

export function replayMarkdown(r: ReplayFigures | null): string[] {
  const lines = ["## Replay (files on local disk, the writer's default policy)", ""];
  if (r === null) return [...lines, "Not measured (`--no-replay`)."];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
  return [
    ...lines,
    `Merged replay: ${r.files} files × ${r.symbols} symbols, ${r.rows.toLocaleString("en-US")} trades and book updates; one core.`,
    "",
    "| what | ticktape | naive peer | naive | ratio |",
    "|---|---:|---:|---:|---:|",
    `| merged replay → row objects, \`for await\` per record | ${rate(r.replayRowsPerSec)} | every file's rows read, concatenated and sorted | ${rate(r.naiveReplayRowsPerSec)} | ${ratio(r.replayRowsPerSec, r.naiveReplayRowsPerSec)} |`,
    `| merged replay → row objects, in chunks (\`replayChunks\`) | ${rate(r.replayChunksRowsPerSec)} | same | ${rate(r.naiveReplayRowsPerSec)} | ${ratio(r.replayChunksRowsPerSec, r.naiveReplayRowsPerSec)} |`,
    `| columnar scan (\`batches\`: typed arrays) | ${rate(r.scanRowsPerSec)} | every file's rows as objects, unmerged | ${rate(r.naiveScanRowsPerSec)} | ${ratio(r.scanRowsPerSec, r.naiveScanRowsPerSec)} |`,
    "",
    `Seek: a 1-hour file of ${r.symbols} symbols (${(r.seekFileBytes / 2 ** 20).toFixed(1)} MiB, ${r.seekFileBlocks} blocks), 200 random minutes:`,
    `the first record of one (symbol, kind) at the minute costs one footer read and ${r.seekBlocksRead.toFixed(2)} block reads on average;`,
    `a 1-minute window of every symbol and kind reads ${r.windowBlocksRead.toFixed(1)} blocks, ${(r.windowBytesRead / 1024).toFixed(0)} KiB`,
    `(${((100 * r.windowBytesRead) / r.seekFileBytes).toFixed(1)}% of the file; a full scan reads all ${r.seekFileBlocks} blocks: ${ratio(r.seekFileBlocks, r.windowBlocksRead)} more).`,
    "",
    `Book at an instant: one symbol's hour with ${r.bookUpdatesInHour.toLocaleString("en-US")} book updates (${r.bookLevelsMean.toFixed(0)} levels on average),`,
    `20 random instants: ${r.bookAtMs.toFixed(1)} ms each from the book checkpoints (every 60 s, the default); rebuilt from the`,
    `start of the hour without checkpoints: ${r.naiveBookAtMs.toFixed(0)} ms (${ratio(r.naiveBookAtMs, r.bookAtMs)}).`,
    ...(r.s3 === null ? ["", `From S3: not measured (${r.s3Skipped}).`] : s3Markdown(r.s3)),
  ];
}
