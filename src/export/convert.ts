/**
 * Converting a dataset's records to Parquet, Arrow IPC, CSV or NDJSON files (docs/EXPORT.md): one file per
 * (exchange, symbol, kind), or one per (input file, kind) with its rows grouped by symbol. Each output is written
 * symbol by symbol in the order written (each file's blocks in file order, file after file), as `cat` prints them.
 */
import { createHash } from "node:crypto";
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { isFileDamage, type Kind, TapeError, type TapeFilter, type TapeReader } from "../format/index.js";
import { type Dataset, type DatasetFile, missingHourError } from "../reader/dataset.js";
import { narrow } from "../reader/replay.js";
import type { BlockCacheStats, S3Stats } from "../s3/index.js";
import type { ArrowTableOptions } from "./arrow-table.js";
import {
  type ConvertedFile,
  type Output,
  outputKey,
  type Pass,
  type PassResult,
  type PassSettings,
  PassStopped,
  runPass,
} from "./convert-pass.js";
import { runPassesInWorkers, type WorkerSetup, workersAvailable } from "./convert-pool.js";
import { EXTENSION, type ExportFormat } from "./formats.js";

export type ConvertSplit = "symbol" | "file";

export interface ConvertOptions extends ArrowTableOptions {
  format: ExportFormat;
  /** Folder of the output files (made when missing). */
  outDir: string;
  /** `"symbol"` (default): a file per (exchange, symbol, kind); `"file"`: a file per (input file, kind). */
  split?: ConvertSplit;
  /** Replace output files that exist (default: refuse before writing anything). */
  overwrite?: boolean;
  /** Added to every output name before the kind, e.g. a shard: `binance.BTCUSDT.shard-2-of-8.trade.parquet`. */
  nameTag?: string;
  /** A damaged block or torn file: stop with its error (default), or leave its rows out and count it. */
  onCorrupt?: "error" | "skip";
  /**
   * Worker threads converting symbols (or files) in parallel; default 1 (this thread). Needs the compiled package
   * and S3 options that can be copied to a thread (no credential provider functions); else this thread does all.
   */
  workers?: number;
  /** Called after each block with the bytes of blocks done and in all. */
  onProgress?: (done: ConvertProgress) => void;
  /** Stops the conversion between two blocks (SIGTERM): unfinished files are removed, complete ones stay. */
  signal?: AbortSignal;
}

export interface ConvertProgress {
  blockBytesDone: number;
  blockBytesTotal: number;
  rows: number;
}

export interface ConvertSummary {
  files: ConvertedFile[];
  rows: number;
  /** Bytes of the `.tape` blocks read. */
  inputBytes: number;
  outputBytes: number;
  /** Blocks left out (`onCorrupt: "skip"`). */
  lostBlocks: number;
  /** Hours of the range with no file (`onCorrupt: "skip"`; else an `E_TAPE_MISSING` error). */
  missingHours: number;
  /** Files that are not readable tapes at all, left out (`onCorrupt: "skip"`; else their error). */
  unreadableFiles: number;
  /** Worker threads that ran passes (0: this thread did). */
  workers: number;
  /** What S3 and the block cache did, in this thread and the workers (null when nothing came from S3). */
  s3: S3Stats | null;
  cache: BlockCacheStats | null;
  seconds: number;
}

/** What a file holds of the selection, from its footer. */
interface FilePlan {
  file: DatasetFile;
  exchange: string;
  /** Bytes of blocks by symbol. */
  symbols: Map<string, number>;
  /** (symbol, kind) pairs present, as JSON arrays (a symbol may hold any character). */
  pairs: Set<string>;
  bytes: number;
}

export async function convert(dataset: Dataset, options: ConvertOptions): Promise<ConvertSummary> {
  const started = performance.now();
  const split = options.split ?? "symbol";
  // Hours without a file are the whole conversion's: an error before anything is written, or (skipping) counted
  // once; the passes, in this thread or in workers, then read the files there are.
  const filter = narrow(dataset, {});
  const missing = dataset.missingWithin(filter);
  if (missing.length > 0 && (options.onCorrupt ?? "error") === "error")
    throw missingHourError(missing[0]!, missing.length - 1);
  await mkdir(options.outDir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new TapeError("E_TAPE_IO", `cannot create the output folder: ${err.code ?? err.message}`, {
      file: options.outDir,
      cause: err,
    });
  });
  const { plans, recoveredEnds, unreadable } = await planFiles(
    dataset,
    filter,
    (options.onCorrupt ?? "error") === "skip",
  );
  // The files the passes read: readable ones (an unreadable file is counted once, here, not by every pass).
  const present = dataset.withoutMissing().subset((f) => !unreadable.has(f.path));
  const outputs = split === "symbol" ? bySymbol(plans, options) : byFile(plans, options);
  await checkOutputs(
    [...outputs.values()].map((o) => o.path),
    options.overwrite === true,
  );
  // Largest first, so that threads finish together.
  const passes: Pass[] =
    split === "symbol"
      ? symbolBytes(plans).map(([symbol]) => ({ symbol }))
      : [...plans]
          .sort((a, b) => b.bytes - a.bytes)
          .map((p) => ({ file: p.file.path, symbols: [...p.symbols.keys()].sort() }));
  const settings: PassSettings = {
    format: options.format,
    recoveredEnds,
    onCorrupt: options.onCorrupt ?? "error",
    table: {
      ...(options.decimals === undefined ? {} : { decimals: options.decimals }),
      timezone:
        options.timezone !== undefined ? options.timezone : options.format === "parquet" ? null : "UTC",
    },
  };
  const progress: ConvertProgress = {
    blockBytesDone: 0,
    blockBytesTotal: plans.reduce((n, p) => n + p.bytes, 0),
    rows: 0,
  };
  const onBlock = (bytes: number, rows: number) => {
    progress.blockBytesDone += bytes;
    progress.rows += rows;
    options.onProgress?.(progress);
  };

  const results: PassResult[] = [];
  const s3: (S3Stats | null)[] = [await dataset.sources.s3Stats()];
  const cache: (BlockCacheStats | null)[] = [dataset.sources.cacheStats()];
  const setup = workerSetup(present, outputs, settings);
  const workers = Math.min(options.workers ?? 1, passes.length);
  if (workers > 1 && setup !== null && workersAvailable()) {
    const pool = await runPassesInWorkers(setup, passes, workers, onBlock, options.signal);
    results.push(...pool.results);
    s3.push(...pool.s3);
    cache.push(...pool.cache);
  } else {
    const stopped = () => options.signal?.aborted === true;
    for (const pass of passes) {
      if (stopped()) throw new PassStopped("the conversion was stopped");
      results.push(await runPass(present, pass, outputs, settings, onBlock, stopped));
    }
    s3.splice(0, 1, await dataset.sources.s3Stats());
    cache.splice(0, 1, dataset.sources.cacheStats());
  }
  const files = results.flatMap((r) => r.files).sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    files,
    rows: files.reduce((n, f) => n + f.rows, 0),
    inputBytes: results.reduce((n, r) => n + r.inputBytes, 0),
    outputBytes: files.reduce((n, f) => n + f.bytes, 0),
    lostBlocks: new Set(results.flatMap((r) => r.lost)).size,
    missingHours: missing.length,
    unreadableFiles: unreadable.size,
    workers: workers > 1 && setup !== null && workersAvailable() ? workers : 0,
    s3: sumStats(s3),
    cache: sumStats(cache),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Symbols with their bytes of blocks in every file, largest first (then by name). */
function symbolBytes(plans: readonly FilePlan[]): [string, number][] {
  const bytes = new Map<string, number>();
  for (const p of plans) for (const [s, n] of p.symbols) bytes.set(s, (bytes.get(s) ?? 0) + n);
  return [...bytes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** What the workers need, or null when the S3 options cannot be copied to a thread (a credential function). */
function workerSetup(
  dataset: Dataset,
  outputs: ReadonlyMap<string, Output>,
  settings: PassSettings,
): WorkerSetup | null {
  const setup: WorkerSetup = {
    root: dataset.root,
    files: [...dataset.files],
    selection: dataset.selection,
    s3: dataset.sources.s3Options,
    cache: dataset.sources.cacheOptions,
    expected: dataset.sources.expectations(),
    outputs: [...outputs],
    settings,
  };
  try {
    structuredClone(setup);
    return setup;
  } catch {
    return null;
  }
}

/** Field-by-field sums of counters; null when there are none. */
function sumStats<T extends object>(all: readonly (T | null)[]): T | null {
  const present = all.filter((s): s is T => s !== null);
  if (present.length === 0) return null;
  const sum = { ...present[0]! } as Record<string, number>;
  for (const s of present.slice(1))
    for (const [k, v] of Object.entries(s)) sum[k] = (sum[k] ?? 0) + (v as number);
  return sum as T;
}

/**
 * Reads every file's footer (or recovers it) for the blocks the selection takes. A file without a footer (a
 * `.open` file being written) is read up to the end of its last whole block now (`recoveredEnds`).
 */
async function planFiles(
  dataset: Dataset,
  filter: TapeFilter,
  skip: boolean,
): Promise<{ plans: FilePlan[]; recoveredEnds: Record<string, number>; unreadable: Set<string> }> {
  const plans: FilePlan[] = [];
  const recoveredEnds: Record<string, number> = {};
  const unreadable = new Set<string>();
  for (const file of dataset.files) {
    let reader: TapeReader;
    // A .open file sealed since the listing is read under its final name (`opened`), whole.
    let opened: DatasetFile;
    try {
      ({ reader, file: opened } = await dataset.sources.openFile(file));
    } catch (err) {
      // Not a tape at all (an empty .open file left by a crash, a damaged header): left out when skipping.
      if (!skip || !isFileDamage(err)) throw err;
      unreadable.add(file.path);
      continue;
    }
    try {
      // A file still being written ends where its whole blocks ended at planning; a sealed name's damage is a loss.
      if (reader.recovery !== null && opened.open) recoveredEnds[file.path] = reader.recovery.validEnd;
      const blocks = reader.selectBlocks(filter);
      if (blocks.length === 0) continue;
      const plan: FilePlan = {
        file,
        exchange: reader.header.exchange,
        symbols: new Map(),
        pairs: new Set(),
        bytes: 0,
      };
      for (const b of blocks) {
        plan.symbols.set(b.symbol, (plan.symbols.get(b.symbol) ?? 0) + b.length);
        plan.pairs.add(JSON.stringify([b.symbol, b.kind]));
        plan.bytes += b.length;
      }
      plans.push(plan);
    } finally {
      await reader.close();
    }
  }
  return { plans, recoveredEnds, unreadable };
}

/** The first `n` hex digits of the SHA-256 of `text`: what tells apart names that would otherwise be one. */
function hashDigits(text: string, n: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, n);
}

/** Escaped name parts longer than this are cut and end with a hash of the whole (file names stop at 255 bytes). */
const MAX_NAME_PART = 100;

/**
 * A file name part that any file system accepts: characters outside [A-Za-z0-9_-] are %-escaped; a part longer
 * than `MAX_NAME_PART` keeps its first 83 characters (whole escapes), then `~` and 16 hex digits of its SHA-256.
 */
function namePart(text: string): string {
  const escaped = text.replace(/[^A-Za-z0-9_-]/g, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
  if (escaped.length <= MAX_NAME_PART) return escaped;
  // Not inside an escape: a cut `%4` would read as another character.
  const head = escaped.slice(0, MAX_NAME_PART - 17).replace(/%[0-9A-F]?$/, "");
  return `${head}~${hashDigits(text, 16)}`;
}

/** `<parts>.<tag>.<kind>.<extension>`; parts are escaped unless they come from a file name already. */
function outputPath(options: ConvertOptions, parts: string[], kind: Kind, escaped = true): string {
  const tag = options.nameTag === undefined ? [] : [namePart(options.nameTag)];
  const named = parts.filter((p) => p !== "").map((p) => (escaped ? namePart(p) : p));
  return join(options.outDir, [...named, ...tag, kind, EXTENSION[options.format]].join("."));
}

function bySymbol(plans: readonly FilePlan[], options: ConvertOptions): Map<string, Output> {
  const out = new Map<string, Output>();
  for (const p of plans)
    for (const pair of p.pairs) {
      const [symbol, kind] = JSON.parse(pair) as [string, Kind];
      const path = outputPath(options, [p.exchange, symbol], kind);
      out.set(outputKey(p.exchange, symbol, kind), {
        path,
        kind,
        exchange: p.exchange,
        symbol,
        source: null,
      });
    }
  // Names that differ only in case are one file where file names ignore case (macOS, Windows): each of those
  // gets 8 hex digits of its symbol's SHA-256 too.
  const byFolded = new Map<string, Output[]>();
  for (const o of out.values()) {
    const key = o.path.toLowerCase();
    const group = byFolded.get(key);
    if (group === undefined) byFolded.set(key, [o]);
    else group.push(o);
  }
  for (const group of byFolded.values()) {
    if (group.length < 2) continue;
    for (const o of group) {
      const part = `${namePart(o.symbol!)}~${hashDigits(o.symbol!, 8)}`;
      o.path = outputPath(options, [namePart(o.exchange), part], o.kind, false);
    }
  }
  return out;
}

function byFile(plans: readonly FilePlan[], options: ConvertOptions): Map<string, Output> {
  const out = new Map<string, Output>();
  const sources = new Map<string, string>();
  for (const p of plans) {
    const stem = p.file.path.replace(/^.*[/\\]/, "").replace(/\.tape(\.open)?$/, "");
    const other = sources.get(stem);
    if (other !== undefined && other !== p.file.path) {
      throw new TapeError(
        "E_TAPE_VALUE",
        `two inputs would write the same outputs: ${other} and ${p.file.path}`,
        {
          field: "split",
        },
      );
    }
    sources.set(stem, p.file.path);
    for (const kind of new Set([...p.pairs].map((pair) => (JSON.parse(pair) as [string, Kind])[1]))) {
      const path = outputPath(options, [stem], kind, false);
      out.set(outputKey(p.exchange, p.file.path, kind), {
        path,
        kind,
        exchange: p.exchange,
        symbol: null,
        source: p.file.path,
      });
    }
  }
  return out;
}

async function checkOutputs(paths: readonly string[], overwrite: boolean): Promise<void> {
  if (overwrite) return;
  for (const path of paths) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) {
      throw new TapeError(
        "E_TAPE_VALUE",
        "exists; choose another folder, or replace it (--overwrite; `overwrite: true` in the library)",
        {
          file: path,
        },
      );
    }
  }
}
