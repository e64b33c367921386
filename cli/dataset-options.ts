/**
 * What the dataset commands (replay, head, book) share: files given as paths or a --root with the dataset
 * layout, the selection options, and times given as ISO 8601, ns, or an offset (+10m) from the start.
 */
import type { Command } from "commander";
import {
  type BlockCacheOptions,
  type BlockCacheStats,
  type Dataset,
  type DatasetOptions,
  datasetOfFiles,
  KINDS,
  type Kind,
  openDataset,
  parseDuration,
  parseTapeName,
  parseTime,
  type S3Options,
  type S3Stats,
  type Sources,
  shardFrom,
} from "../src/index.js";
import { usage } from "./usage.js";

export interface DatasetCliOptions {
  root?: string;
  symbol?: string[];
  kind?: string[];
  exchange?: string[];
  capture?: string[];
  includeOpen?: boolean;
  requireManifest?: boolean;
  from?: string;
  to?: string;
  onCorrupt?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Checksums?: string;
  cache?: string;
  cacheSize?: string;
  shard?: string;
}

/**
 * The dataset selection options; `shard: false` for a command that needs every file of its selection (a book at an
 * instant is rebuilt from its snapshot, whichever share holds it): it has no `--shard` and ignores AWS Batch's.
 * `book: true` for the book of one symbol: one `--symbol`, no `--kind` or `--to`.
 */
export function addDatasetOptions(cmd: Command, o: { shard?: boolean; book?: boolean } = {}): Command {
  let withOptions = addS3Options(cmd).option(
    "--root <dir>",
    "dataset root (<root>/<YYYY-MM-DD>/<exchange>/…), a directory or s3://bucket/prefix; instead of file paths",
  );
  withOptions = o.book
    ? withOptions.requiredOption("-s, --symbol <symbol>", "the symbol whose book to show")
    : withOptions
        .option("-s, --symbol <symbol...>", "only these symbols")
        .option("-k, --kind <kind...>", `only these kinds (${KINDS.join(", ")})`);
  withOptions = withOptions
    .option("-e, --exchange <exchange...>", "only these exchanges (with --root)")
    .option("--capture <id...>", "only these capture ids (default: every capture)")
    .option("--include-open", "also read .tape.open files (a live hour), through the recovery scan")
    .option(
      "--require-manifest",
      "read only days proven by `ticktape sync run` (with a _MANIFEST.json), and check each file against it (with --root)",
    )
    .option(
      "--from <time>",
      o.book
        ? "rebuild from this exchange time when no checkpoint serves (default: the start of the hour of --at): ISO 8601 (UTC unless a zone is given), ns, or +OFFSET (e.g. +30m) from the start of the first file's hour"
        : "from this exchange time, inclusive: ISO 8601 (UTC unless a zone is given), ns, or +OFFSET (e.g. +30m) from the start of the first file's hour",
    );
  if (!o.book)
    withOptions = withOptions.option(
      "--to <time>",
      "up to this time, exclusive: as --from, or +OFFSET (e.g. +10m) from --from (from the first file's hour without --from)",
    );
  withOptions = withOptions
    .option(
      "--on-corrupt <mode>",
      "error (default): stop at a damaged block, torn or missing file; skip: go on and print a gap event",
      "error",
    )
    .option(
      "--cache <dir>",
      "keep what is read from S3 in this folder, for the next run (default: TICKTAPE_CACHE_DIR)",
    )
    .option("--cache-size <bytes>", "bound of the cache, e.g. 50GiB (default 10GiB)");
  if (o.shard === false) return withOptions;
  return withOptions.option(
    "--shard <i/n>",
    "only share i of n (1-based) of the files, balanced by bytes, for n parallel jobs (default: from AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE)",
  );
}

/** How to reach S3: endpoint, region, addressing and checksum behaviour. */
export function addS3Options(cmd: Command): Command {
  return cmd
    .option(
      "--s3-endpoint <url>",
      "S3-compatible endpoint for s3:// paths (default: AWS, or AWS_ENDPOINT_URL_S3)",
    )
    .option("--s3-region <region>", "S3 region (default: AWS_REGION, else us-east-1)")
    .option(
      "--s3-path-style",
      "path-style S3 addresses (endpoint/bucket/key), as most S3-compatible servers need",
    )
    .option(
      "--s3-checksums <when>",
      "when the S3 client computes and checks checksums: when_supported (default) or when_required (servers without CRC64NVME)",
    );
}

/** The block cache the options ask for, or null. */
export function cacheOptions(o: DatasetCliOptions): BlockCacheOptions | null {
  const dir = o.cache ?? process.env.TICKTAPE_CACHE_DIR;
  if (dir === undefined || dir === "") {
    if (o.cacheSize !== undefined) throw usage("--cache-size needs --cache DIR (or TICKTAPE_CACHE_DIR)");
    return null;
  }
  if (o.cacheSize === undefined) return { dir };
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?$/i.exec(o.cacheSize.trim());
  const units: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
  const bytes = m === null ? Number.NaN : Math.floor(Number(m[1]) * units[(m[2] ?? "b").toLowerCase()]!);
  if (!(bytes > 0)) throw usage(`--cache-size ${o.cacheSize}: give bytes, or a size like 512MiB or 50GiB`);
  return { dir, maxBytes: bytes };
}

/** One line on stderr of what S3 and the cache did, when anything was read from S3. */
export async function reportS3(sources: Sources): Promise<void> {
  reportS3Stats(await sources.s3Stats(), sources.cacheStats());
}

export function reportS3Stats(s3: S3Stats | null, cache: BlockCacheStats | null): void {
  if (s3 === null) return;
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  let line = `s3: ${s3.gets} GETs, ${s3.heads} HEADs, ${s3.lists} LISTs, ${mib(s3.bytesFetched)} fetched, ${s3.retries} retries`;
  if (cache !== null)
    line += `; cache: ${cache.hits} hits, ${cache.misses} misses, ${mib(cache.bytesHit)} served, ${mib(cache.bytesStored)} stored`;
  process.stderr.write(`${line}\n`);
}

/** The S3 options the command line gives (endpoint, region, addressing, checksums). */
export function s3Options(o: DatasetCliOptions): S3Options {
  const out: S3Options = {};
  const endpoint = o.s3Endpoint ?? process.env.AWS_ENDPOINT_URL_S3;
  if (endpoint !== undefined) {
    if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
      const from = o.s3Endpoint !== undefined ? "--s3-endpoint" : "AWS_ENDPOINT_URL_S3";
      throw usage(`${from} ${endpoint}: give a URL such as http://127.0.0.1:9000`);
    }
    out.endpoint = endpoint;
  }
  if (o.s3Region !== undefined) out.region = o.s3Region;
  if (o.s3PathStyle) out.forcePathStyle = true;
  if (o.s3Checksums !== undefined) {
    const when = o.s3Checksums.toUpperCase();
    if (when !== "WHEN_SUPPORTED" && when !== "WHEN_REQUIRED")
      throw usage("--s3-checksums is when_supported or when_required");
    out.requestChecksumCalculation = when;
    out.responseChecksumValidation = when;
  }
  return out;
}

/** Parses --from/--to: absolute times, or +offsets (from `start` for --from, from --from for --to). */
export function timeRange(o: DatasetCliOptions, start: bigint | null): { from?: bigint; to?: bigint } {
  const out: { from?: bigint; to?: bigint } = {};
  const offset = (text: string, base: bigint | null | undefined, what: string): bigint => {
    if (base === null || base === undefined)
      throw usage(`${what} ${text} is an offset, but there is no time to count from`);
    return base + parseDuration(text.slice(1), what);
  };
  if (o.from !== undefined)
    out.from = o.from.startsWith("+") ? offset(o.from, start, "--from") : parseTime(o.from);
  if (o.to !== undefined)
    out.to = o.to.startsWith("+") ? offset(o.to, out.from ?? start, "--to") : parseTime(o.to);
  checkOrder(out);
  return out;
}

/** An empty range is a mistake, not a question whose answer is nothing: --to must be after --from. */
export function checkOrder(range: { from?: bigint; to?: bigint }): void {
  if (range.from !== undefined && range.to !== undefined && range.to <= range.from)
    throw usage(`--to (${range.to} ns) must be after --from (${range.from} ns)`);
}

/**
 * What +offsets count from: the start of the first file's hour (by name). With --root there is no such file,
 * so times must be absolute.
 */
export function offsetBase(paths: string[]): bigint | null {
  const hours = paths
    .map((p) => parseTapeName(p.split(/[\\/]/).pop() ?? p)?.hour)
    .filter((h): h is bigint => h !== undefined);
  return hours.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0] ?? null;
}

/** Opens the dataset the options name (file paths, or --root); with `shard: false`, never a share of it. */
export async function openCliDataset(
  paths: string[],
  o: DatasetCliOptions,
  how: { shard?: boolean } = {},
): Promise<Dataset> {
  if ((o.root === undefined) === (paths.length === 0))
    throw usage("give file paths or --root DIR (one of them)");
  if (o.onCorrupt !== "error" && o.onCorrupt !== "skip") throw usage("--on-corrupt is error or skip");
  for (const k of o.kind ?? []) {
    if (!(KINDS as readonly string[]).includes(k))
      throw usage(`unknown kind ${JSON.stringify(k)} (kinds: ${KINDS.join(", ")})`);
  }
  const range = timeRange(o, offsetBase(paths));
  const options: DatasetOptions = { ...range, s3: s3Options(o) };
  const cache = cacheOptions(o);
  if (cache !== null) options.cache = cache;
  if (o.symbol !== undefined) options.symbols = o.symbol;
  if (o.kind !== undefined) options.kinds = o.kind as Kind[];
  if (o.exchange !== undefined) options.exchanges = o.exchange;
  if (o.capture !== undefined) options.captures = o.capture;
  if (o.includeOpen) options.includeOpen = true;
  if (o.requireManifest) {
    if (o.root === undefined) throw usage("--require-manifest reads the day folders of --root");
    options.requireManifest = true;
  }
  if (o.root === undefined && o.exchange !== undefined)
    throw usage("--exchange selects folders of --root; give the files of that exchange instead");
  const shard = how.shard === false ? null : shardFrom(o.shard);
  const ds = o.root !== undefined ? await openDataset(o.root, options) : datasetOfFiles(paths, options);
  if (ds.unverifiedDays.length > 0)
    process.stderr.write(`days without a manifest, not read: ${ds.unverifiedDays.join(", ")}\n`);
  if (shard === null) return ds;
  const share = await ds.partition(shard.index, shard.count);
  process.stderr.write(
    `shard ${shard.index + 1}/${shard.count}: ${share.files.length} of ${ds.files.length} files\n`,
  );
  return share;
}
