/**
 * Datasets: the `.tape` files of a directory tree laid out by day, exchange, hour and capture
 * (docs/REPLAY.md), or an explicit list of files. Opening a dataset lists only the day folders of its time
 * range (and only the exchange folders asked for); file footers are read when a replay reaches them.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { RecordBatch } from "apache-arrow";
import { parseTime } from "../common/time.js";
import type { ToArrowOptions } from "../export/to-arrow.js";
import { KINDS, type Kind, TapeError } from "../format/index.js";
import type { BlockCacheOptions, S3Options } from "../s3/index.js";
import { isS3Url } from "../s3/index.js";
import { MANIFEST_NAME } from "../sync/destination.js";
import { MAX_MANIFEST_BYTES, type ManifestFile, parseManifest } from "../sync/manifest.js";
import { type Batch, type BatchOptions, batches } from "./batches.js";
import { type BookSnapshot, type BookSnapshotOptions, bookSnapshots } from "./books.js";
import { dayFolder, dayFoldersBetween, HOUR_NS, parseTapeName } from "./layout.js";
import { partition } from "./partition.js";
import { type ReplayOptions, type ReplayRecord, type ReplayRow, replay, replayChunks } from "./replay.js";
import { Sources } from "./sources.js";

/** A time: ns since the epoch (bigint), ISO 8601 text (UTC unless a zone is given) or integer ns text, or a Date. */
export type TimeInput = bigint | string | Date;

export interface DatasetOptions {
  /** Inclusive start (exchange time). */
  from?: TimeInput;
  /** Exclusive end (exchange time). */
  to?: TimeInput;
  exchanges?: readonly string[];
  symbols?: readonly string[];
  kinds?: readonly Kind[];
  /** Capture ids to read (default: every capture, so two captures of one feed are both replayed). */
  captures?: readonly string[];
  /** Also read `.tape.open` files (a live hour, or one left by a crash) through the recovery scan. */
  includeOpen?: boolean;
  /** How to reach S3 for an `s3://bucket/prefix` root or `s3://` files (endpoint, region, credentials, …). */
  s3?: S3Options;
  /** A local-disk cache of what is read from S3 (docs/CLOUD.md). */
  cache?: BlockCacheOptions;
  /**
   * Read only days whose manifest (`<date>/_MANIFEST.json`, written by `ticktape sync run`) exists, only the files
   * it lists, and check each against it: size when listed, size and tape digest when opened (E_TAPE_MANIFEST).
   * Days without one are skipped and named in `unverifiedDays`.
   */
  requireManifest?: boolean;
  /** Open files through these (shares one S3 client and cache between datasets); made from `s3` and `cache` when not given. */
  sources?: Sources;
}

export interface DatasetFile {
  path: string;
  /** From the file name; null for an explicitly listed file whose name does not follow the layout. */
  exchange: string | null;
  /** Start of the hour the name gives, ns; null when the name does not follow the layout. */
  hour: bigint | null;
  captureId: string | null;
  open: boolean;
  /** Bytes, when the listing gave them (S3); null otherwise. */
  size: number | null;
  /** Position in `Dataset.files`: the file part of the replay order. */
  index: number;
}

/** An hour of the range for which a capture of an exchange has no file. */
export interface MissingHour {
  exchange: string;
  captureId: string;
  hour: bigint;
  /** Where the file was expected. */
  path: string;
}

/** The error of an hour without a file, naming it (and how many more hours lack theirs, if any). */
export function missingHourError(m: MissingHour, more = 0): TapeError {
  const hour = new Date(Number(m.hour / 1_000_000n)).toISOString().slice(0, 13);
  const others = more > 0 ? ` (and ${more} more hours)` : "";
  return new TapeError(
    "E_TAPE_MISSING",
    `no file for ${m.exchange} capture ${m.captureId} hour ${hour}h${others}`,
    {
      file: m.path,
    },
  );
}

/** The dataset's selection with times as exact ns. */
export interface Selection {
  from: bigint | undefined;
  to: bigint | undefined;
  symbols: readonly string[] | undefined;
  kinds: readonly Kind[] | undefined;
}

export function toNs(t: TimeInput | undefined, field: string): bigint | undefined {
  if (t === undefined) return undefined;
  if (typeof t === "bigint") return t;
  if (t instanceof Date) {
    const ms = t.getTime();
    if (Number.isNaN(ms)) throw new TapeError("E_TAPE_VALUE", "invalid Date", { field });
    return BigInt(ms) * 1_000_000n;
  }
  if (typeof t !== "string") {
    // A number is ambiguous (ms or ns?) and inexact beyond 2^53: refused, with the forms that are not.
    throw new TapeError(
      "E_TAPE_VALUE",
      `expected a bigint of ns, a Date or an ISO 8601 string, got ${typeof t} ${String(t).slice(0, 40)}`,
      { field },
    );
  }
  try {
    return parseTime(t);
  } catch (err) {
    throw new TapeError("E_TAPE_VALUE", (err as Error).message, { field, cause: err });
  }
}

export class Dataset {
  constructor(
    /** The root directory, or null for a list of files. */
    readonly root: string | null,
    /** Files in replay order: by hour, exchange, capture id, then path. */
    readonly files: readonly DatasetFile[],
    readonly selection: Selection,
    /** Hours of the range with no file for a capture that has files in the range (root datasets only). */
    readonly missing: readonly MissingHour[],
    /** Opens the files (local or S3). */
    readonly sources: Sources = new Sources(),
    /** Days skipped for want of a manifest (with `requireManifest`). */
    readonly unverifiedDays: readonly string[] = [],
  ) {}

  /** The hours without a file that overlap a time range (`to` exclusive). */
  missingWithin(range: { from?: bigint; to?: bigint }): MissingHour[] {
    const { from, to } = range;
    return this.missing.filter(
      (m) => !((to !== undefined && m.hour >= to) || (from !== undefined && m.hour + HOUR_NS <= from)),
    );
  }

  /**
   * The same dataset limited to some of its files (numbered again, in the same order), and with parts of its
   * selection replaced. Its missing hours are those of the feeds it keeps, or those `keepMissing` keeps.
   */
  subset(
    keep: (f: DatasetFile) => boolean,
    selection: Partial<Selection> = {},
    keepMissing?: (m: MissingHour, index: number) => boolean,
  ): Dataset {
    const files = this.files.filter(keep).map((f, index) => ({ ...f, index }));
    const feeds = new Set(files.map((f) => `${f.exchange}\u0000${f.captureId}`));
    const missing = this.missing.filter(
      keepMissing ?? ((m) => feeds.has(`${m.exchange}\u0000${m.captureId}`)),
    );
    return new Dataset(
      this.root,
      files,
      { ...this.selection, ...selection },
      missing,
      this.sources,
      this.unverifiedDays,
    );
  }

  /** The same files and selection with no hour counted missing: for work that dealt with those hours already. */
  withoutMissing(): Dataset {
    return new Dataset(this.root, this.files, this.selection, [], this.sources, this.unverifiedDays);
  }

  /** Capture ids present, sorted. */
  get captures(): string[] {
    return [...new Set(this.files.map((f) => f.captureId).filter((c): c is string => c !== null))].sort();
  }

  /**
   * Every selected record of every file, merged in exact time order (docs/REPLAY.md: by exchange time, then
   * receive time, then file, then position). Rows have number fields; `exact: true` gives exact records.
   */
  replay(options: ReplayOptions & { exact: true }): AsyncIterable<ReplayRecord>;
  replay(options?: ReplayOptions & { exact?: false }): AsyncIterable<ReplayRow>;
  replay(options: ReplayOptions = {}): AsyncIterable<ReplayRow | ReplayRecord> {
    return replay(this, options);
  }

  /**
   * The replay handed over in arrays of up to `chunkRows` records, in the same order: far fewer awaits than
   * one per record, for the fastest row-by-row processing. (No `speed`: pacing is per record.)
   */
  replayChunks(
    options: Omit<ReplayOptions, "speed"> & { exact: true },
    chunkRows?: number,
  ): AsyncIterable<ReplayRecord[]>;
  replayChunks(
    options?: Omit<ReplayOptions, "speed"> & { exact?: false },
    chunkRows?: number,
  ): AsyncIterable<ReplayRow[]>;
  replayChunks(
    options: Omit<ReplayOptions, "speed"> = {},
    chunkRows?: number,
  ): AsyncIterable<(ReplayRow | ReplayRecord)[]> {
    return replayChunks(this, options, chunkRows);
  }

  /** The selected blocks as typed-array columns (no row objects), by first timestamp; rows limited to the range. */
  batches(options: BatchOptions = {}): AsyncIterable<Batch> {
    return batches(this, options);
  }

  /**
   * Share `index` (0-based) of `count` shares of the files, balanced by bytes: run `count` processes, each with
   * its index (AWS Batch array children: `AWS_BATCH_JOB_ARRAY_INDEX`), and every file is read by exactly one.
   */
  partition(index: number, count: number): Promise<Dataset> {
    return partition(this, index, count);
  }

  /**
   * The selected records of one kind as Arrow record batches: `timestamp[ns, UTC]`, exact Decimal128(38, 18) and
   * float64 prices and sizes (docs/EXPORT.md). `arrowIpcStream(new ArrowTable(kind).schema, …)` makes IPC bytes.
   */
  async *toArrow(options: ToArrowOptions): AsyncIterable<RecordBatch> {
    // apache-arrow loads on first use, not with every import of the reader.
    const { toArrow } = await import("../export/to-arrow.js");
    yield* toArrow(this, options);
  }

  /** Order books of one symbol: at one instant, or on a time grid (docs/REPLAY.md). */
  books(options: BookSnapshotOptions): AsyncIterable<BookSnapshot> {
    return bookSnapshots(this, options);
  }
}

/** Opens the dataset under `root`: a local directory, an EFS mount, or an S3 prefix (`s3://bucket/prefix`). */
export async function openDataset(root: string, options: DatasetOptions = {}): Promise<Dataset> {
  const sources = options.sources ?? new Sources(options.s3, options.cache ?? null);
  const list = async (dir: string) => (await sources.list(dir)).map((e) => e.name);
  const join = (...parts: [string, ...string[]]) => sources.join(...parts);
  const selection = selectionOf(options);
  const { from, to } = selection;
  // A mistyped root or an unmounted EFS is an error, not an empty dataset (an S3 prefix has no such state).
  if (!isS3Url(root)) await checkFolder(root);
  let days: string[];
  if (from !== undefined && to !== undefined && to - from <= LISTED_DAYS_BEYOND_NS) {
    // The range's days, asked for one by one: no listing of a root that holds years.
    days = dayFoldersBetween(from - HOUR_NS - FILE_LEAD_NS, to + FILE_LEAD_NS);
  } else {
    const all = (await list(root)).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)).sort();
    const lo = from === undefined ? null : dayFolder(from - HOUR_NS - FILE_LEAD_NS);
    const hi = to === undefined ? null : dayFolder(to + FILE_LEAD_NS);
    days = all.filter((d) => (lo === null || d >= lo) && (hi === null || d <= hi));
  }
  const found: Omit<DatasetFile, "index">[] = [];
  // Hours being written (only a .tape.open, not asked for): not missing, just not read.
  const live: Omit<DatasetFile, "index">[] = [];
  const unverifiedDays: string[] = [];
  for (const day of days) {
    const manifest = options.requireManifest ? await readManifest(sources, root, day) : null;
    if (options.requireManifest && manifest === null) {
      // A day that is not there at all is not unverified (the neighbours of the range, looked at for records
      // written an hour late, often are not): its hours of the range are reported missing, as without a manifest.
      if ((await list(join(root, day))).length > 0) unverifiedDays.push(day);
      continue;
    }
    let exchanges = options.exchanges ?? (await list(join(root, day))).sort();
    // A folder the manifest names must be there: one deleted whole is missing files, not an empty exchange.
    if (manifest !== null && options.exchanges === undefined)
      exchanges = [...new Set([...exchanges, ...manifest.exchanges])].sort();
    for (const exchange of exchanges) {
      const entries = (await sources.list(join(root, day, exchange))).sort((a, b) =>
        a.name < b.name ? -1 : 1,
      );
      if (manifest !== null)
        checkAgainstManifest(manifest, `${day}/${exchange}/`, entries, join(root, day, exchange), sources);
      const names = new Set(entries.map((e) => e.name));
      for (const { name, size } of entries) {
        if (manifest !== null && !manifest.files.has(`${day}/${exchange}/${name}`)) continue;
        const parsed = parseTapeName(name);
        if (parsed === null || parsed.exchange !== exchange) continue;
        // The sealed file holds what its `.open` source did (one left by a crash after the seal's rename, or by
        // `repair --keep`): reading both would return every record twice.
        if (parsed.open && names.has(name.slice(0, -".open".length))) continue;
        if (options.captures !== undefined && !options.captures.includes(parsed.captureId)) continue;
        if (!mayHold(parsed.hour, from, to)) continue;
        (parsed.open && !options.includeOpen ? live : found).push({
          path: join(root, day, exchange, name),
          exchange,
          hour: parsed.hour,
          captureId: parsed.captureId,
          open: parsed.open,
          size,
        });
      }
    }
  }
  const files = order(found);
  const missing = missingHours(root, [...files, ...order(live)], selection, join);
  return new Dataset(root, files, selection, missing, sources, unverifiedDays);
}

async function checkFolder(dir: string): Promise<void> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new TapeError("E_TAPE_IO", `cannot read the dataset root: ${(err as Error).message}`, {
      file: dir,
      cause: err,
    });
  }
  if (!isFolder) throw new TapeError("E_TAPE_IO", "the dataset root is not a folder", { file: dir });
}

interface DayManifest {
  where: string;
  files: Map<string, ManifestFile>;
  exchanges: string[];
}

async function readManifest(sources: Sources, root: string, day: string): Promise<DayManifest | null> {
  const where = sources.join(root, day, MANIFEST_NAME);
  const text = await sources.readText(where, MAX_MANIFEST_BYTES);
  if (text === null) return null;
  const manifest = parseManifest(text, where, day);
  return {
    where,
    files: new Map(manifest.files.map((f) => [f.path, f])),
    exchanges: [...new Set(manifest.files.map((f) => f.path.split("/")[1] ?? ""))].filter((e) => e !== ""),
  };
}

/**
 * Every file the manifest lists in the folder `prefix` (`<day>/<exchange>/`) must be there with its size (when
 * the listing gives sizes); each is checked again, size and digest, when it is opened.
 */
function checkAgainstManifest(
  manifest: DayManifest,
  prefix: string,
  entries: readonly { name: string; size: number | null }[],
  dir: string,
  sources: Sources,
): void {
  const sizes = new Map(entries.map((e) => [e.name, e.size]));
  for (const [relative, f] of manifest.files) {
    if (!relative.startsWith(prefix)) continue;
    const name = relative.slice(prefix.length);
    const path = sources.join(dir, name);
    const size = sizes.get(name);
    if (size === undefined) {
      throw new TapeError("E_TAPE_MANIFEST", `listed in ${manifest.where} but absent`, { file: path });
    }
    if (size !== null && size !== f.size) {
      throw new TapeError("E_TAPE_MANIFEST", `${size} bytes, ${manifest.where} says ${f.size}`, {
        file: path,
      });
    }
    sources.expect(path, { size: f.size, digest: f.digest, manifest: manifest.where });
  }
}

/**
 * A dataset of explicit files (any names); they are replayed together like a directory's. A file named twice (the
 * same path, or two spellings of it) is read once.
 */
export function datasetOfFiles(paths: readonly string[], options: DatasetOptions = {}): Dataset {
  const unique = new Map<string, string>();
  for (const path of paths) {
    const key = isS3Url(path) ? path : resolve(path);
    if (!unique.has(key)) unique.set(key, path);
  }
  const found = [...unique.values()].map((path) => {
    const parsed = parseTapeName(path.split(/[\\/]/).pop() ?? path);
    return {
      path,
      exchange: parsed?.exchange ?? null,
      hour: parsed?.hour ?? null,
      captureId: parsed?.captureId ?? null,
      open: parsed?.open ?? path.endsWith(".open"),
      size: null,
    };
  });
  return new Dataset(
    null,
    order(found),
    selectionOf(options),
    [],
    options.sources ?? new Sources(options.s3, options.cache ?? null),
  );
}

/**
 * How far outside its own hour a file may hold exchange times. A recorder names files by receive time;
 * exchange time runs behind it by the network latency (ms, or seconds in a burst) and ahead of it by clock
 * skew; an hour is far beyond both. A replay that meets an earlier record than this allows stops with
 * E_TAPE_ORDER rather than misorder it.
 */
export const FILE_LEAD_NS = HOUR_NS;

/**
 * Whether the file of an hour can hold exchange times in [from, to): its times lie within FILE_LEAD_NS of
 * the hour (latency behind it, clock skew ahead of it).
 */
function mayHold(hour: bigint, from: bigint | undefined, to: bigint | undefined): boolean {
  return (
    (to === undefined || hour - FILE_LEAD_NS < to) &&
    (from === undefined || hour + HOUR_NS + FILE_LEAD_NS > from)
  );
}

function selectionOf(o: DatasetOptions): Selection {
  for (const k of o.kinds ?? []) {
    if (!(KINDS as readonly string[]).includes(k))
      throw new TapeError("E_TAPE_VALUE", `unknown kind ${JSON.stringify(k)} (kinds: ${KINDS.join(", ")})`, {
        field: "kinds",
      });
  }
  const from = toNs(o.from, "from");
  const to = toNs(o.to, "to");
  // An empty range is a mistake, not a question whose answer is nothing: refused for every dataset.
  if (from !== undefined && to !== undefined && to <= from)
    throw new TapeError("E_TAPE_VALUE", "`to` must be after `from`", { field: "to" });
  return { from, to, symbols: o.symbols, kinds: o.kinds };
}

function order(found: Omit<DatasetFile, "index">[]): DatasetFile[] {
  const key = (f: Omit<DatasetFile, "index">) =>
    [f.hour ?? -1n, f.exchange ?? "", f.captureId ?? "", f.path] as const;
  return [...found]
    .sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      if (ka[0] !== kb[0]) return ka[0] < kb[0] ? -1 : 1;
      for (let i = 1; i < 4; i++) if (ka[i] !== kb[i]) return (ka[i] as string) < (kb[i] as string) ? -1 : 1;
      return 0;
    })
    .map((f, index) => ({ ...f, index }));
}

/** Ranges longer than this list the root's day folders once instead of asking for each day of the range. */
const LISTED_DAYS_BEYOND_NS = 366n * 24n * HOUR_NS;
/** Missing hours listed at most: a wider gap is a range to narrow, not a list to build. */
export const MAX_MISSING_HOURS = 1_000_000;

/** For each (exchange, capture) with a file for an hour of a bounded range, the hours of the range with none. */
function missingHours(
  root: string,
  files: readonly DatasetFile[],
  s: Selection,
  join: (...parts: [string, ...string[]]) => string,
): MissingHour[] {
  if (s.from === undefined || s.to === undefined) return [];
  const first = s.from - (((s.from % HOUR_NS) + HOUR_NS) % HOUR_NS);
  const have = new Map<string, Set<bigint>>();
  for (const f of files) {
    // Files read only for their lead (an hour outside the range) do not make a capture expected in it.
    if (f.exchange === null || f.captureId === null || f.hour === null || f.hour < first || f.hour >= s.to)
      continue;
    const k = `${f.exchange}\u0000${f.captureId}`;
    if (!have.has(k)) have.set(k, new Set());
    have.get(k)!.add(f.hour);
  }
  const rangeHours = (s.to - first + HOUR_NS - 1n) / HOUR_NS;
  let count = 0n;
  for (const hours of have.values()) count += rangeHours - BigInt(hours.size);
  if (count > BigInt(MAX_MISSING_HOURS)) {
    throw new TapeError(
      "E_TAPE_LIMIT",
      `${count} hours of the range have no file of a capture that has files in it (at most ${MAX_MISSING_HOURS} are listed): narrow the range`,
      { file: root, field: "from" },
    );
  }
  const out: MissingHour[] = [];
  for (const [k, hours] of have) {
    const [exchange, captureId] = k.split("\u0000") as [string, string];
    for (let h = first; h < s.to; h += HOUR_NS) {
      if (hours.has(h)) continue;
      const rel = `${dayFoldersBetween(h, h + 1n)[0]}/${exchange}`;
      const iso = new Date(Number(h / 1_000_000n)).toISOString();
      out.push({
        exchange,
        captureId,
        hour: h,
        path: join(root, rel, `${exchange}-${iso.slice(0, 10)}T${iso.slice(11, 13)}.${captureId}.tape`),
      });
    }
  }
  return out.sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.path < b.path ? -1 : 1));
}
