/**
 * Converting a dataset's records to Parquet, Arrow IPC, CSV or NDJSON files (docs/EXPORT.md): one file per
 * (exchange, symbol, kind), or one per (input file, kind) with its rows grouped by symbol. Each output is written
 * symbol by symbol in block order, which is time order within a symbol.
 */
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Kind, TapeError } from "../format/index.js";
import type { Dataset, DatasetFile } from "../reader/dataset.js";
import { narrow } from "../reader/replay.js";
import type { ArrowTableOptions } from "./arrow-table.js";
import { EXTENSION, type ExportFormat, openSink, type Sink } from "./sinks.js";

export type ConvertSplit = "symbol" | "file";

export interface ConvertOptions extends ArrowTableOptions {
  format: ExportFormat;
  /** Folder of the output files (it must exist). */
  outDir: string;
  /** `"symbol"` (default): a file per (exchange, symbol, kind); `"file"`: a file per (input file, kind). */
  split?: ConvertSplit;
  /** Replace output files that exist (default: refuse before writing anything). */
  overwrite?: boolean;
  /** Added to every output name before the kind, e.g. a shard: `binance.BTCUSDT.shard-2-of-8.trade.parquet`. */
  nameTag?: string;
  /** A damaged block or torn file: stop with its error (default), or leave its rows out and count it. */
  onCorrupt?: "error" | "skip";
  /** Called after each block with the bytes of blocks done and in all. */
  onProgress?: (done: ConvertProgress) => void;
}

export interface ConvertProgress {
  blockBytesDone: number;
  blockBytesTotal: number;
  rows: number;
}

export interface ConvertedFile {
  path: string;
  kind: Kind;
  exchange: string;
  /** The symbol (split by symbol), or null (split by file). */
  symbol: string | null;
  /** The input file (split by file), or null. */
  source: string | null;
  rows: number;
  bytes: number;
}

export interface ConvertSummary {
  files: ConvertedFile[];
  rows: number;
  /** Bytes of the `.tape` blocks read. */
  inputBytes: number;
  outputBytes: number;
  /** Blocks left out (`onCorrupt: "skip"`). */
  lostBlocks: number;
  seconds: number;
}

/** What a file holds of the selection, from its footer. */
interface FilePlan {
  file: DatasetFile;
  exchange: string;
  symbols: Set<string>;
  /** (symbol, kind) pairs present. */
  pairs: Set<string>;
  bytes: number;
}

/** One output: where it goes and what it holds. */
interface Output {
  path: string;
  kind: Kind;
  exchange: string;
  symbol: string | null;
  source: string | null;
}

export async function convert(dataset: Dataset, options: ConvertOptions): Promise<ConvertSummary> {
  const started = performance.now();
  const split = options.split ?? "symbol";
  await mkdir(options.outDir, { recursive: true });
  const plans = await planFiles(dataset);
  const outputs = split === "symbol" ? bySymbol(plans, options) : byFile(plans, options);
  await checkOutputs(
    [...outputs.values()].map((o) => o.path),
    options.overwrite === true,
  );

  const progress: ConvertProgress = {
    blockBytesDone: 0,
    blockBytesTotal: plans.reduce((n, p) => n + p.bytes, 0),
    rows: 0,
  };
  const summary: ConvertSummary = {
    files: [],
    rows: 0,
    inputBytes: 0,
    outputBytes: 0,
    lostBlocks: 0,
    seconds: 0,
  };
  const tableOptions: ArrowTableOptions = {};
  if (options.decimals !== undefined) tableOptions.decimals = options.decimals;
  tableOptions.timezone =
    options.timezone !== undefined ? options.timezone : options.format === "parquet" ? null : "UTC";
  const open = new Map<string, { sink: Sink; output: Output }>();

  /** Replays one symbol of `ds` into the outputs that `outputOf` names. */
  const pass = async (ds: Dataset, symbol: string, outputOf: (exchange: string, kind: Kind) => string) => {
    for await (const b of ds.batches({ symbols: [symbol], onCorrupt: options.onCorrupt ?? "error" })) {
      if (b.block === null) {
        summary.lostBlocks++;
        continue;
      }
      const kind = b.block.header.kind!;
      const key = outputOf(b.exchange, kind);
      const output = outputs.get(key);
      if (output === undefined) throw new TapeError("E_TAPE_STATE", `no output planned for ${key}`);
      let entry = open.get(output.path);
      if (entry === undefined) {
        entry = { sink: await openSink(options.format, output.path, kind, tableOptions), output };
        open.set(output.path, entry);
      }
      await entry.sink.write(b.block, b.exchange);
      progress.blockBytesDone += b.block.header.length;
      progress.rows += b.block.header.rowCount;
      summary.inputBytes += b.block.header.length;
      options.onProgress?.(progress);
    }
  };
  const closeAll = async () => {
    for (const { sink, output } of open.values()) {
      const r = await sink.close();
      summary.files.push({ ...output, rows: r.rows, bytes: r.bytes });
      summary.rows += r.rows;
      summary.outputBytes += r.bytes;
    }
    open.clear();
  };

  try {
    if (split === "symbol") {
      const symbols = [...new Set(plans.flatMap((p) => [...p.symbols]))].sort();
      for (const symbol of symbols) {
        await pass(dataset, symbol, (exchange, kind) => outputKey(exchange, symbol, kind));
        await closeAll();
      }
    } else {
      for (const plan of plans) {
        const one = dataset.subset((f) => f.path === plan.file.path);
        for (const symbol of [...plan.symbols].sort()) {
          await pass(one, symbol, (exchange, kind) => outputKey(exchange, plan.file.path, kind));
        }
        await closeAll();
      }
    }
  } catch (err) {
    await Promise.all([...open.values()].map((e) => e.sink.abort()));
    throw err;
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/** Reads every file's footer (or recovers it) for the blocks the selection takes. */
async function planFiles(dataset: Dataset): Promise<FilePlan[]> {
  const filter = narrow(dataset, {});
  const plans: FilePlan[] = [];
  for (const file of dataset.files) {
    const reader = await dataset.sources.openTape(file.path);
    try {
      const blocks = reader.selectBlocks(filter);
      if (blocks.length === 0) continue;
      const plan: FilePlan = {
        file,
        exchange: reader.header.exchange,
        symbols: new Set(),
        pairs: new Set(),
        bytes: 0,
      };
      for (const b of blocks) {
        plan.symbols.add(b.symbol);
        plan.pairs.add(`${b.symbol}\u0000${b.kind}`);
        plan.bytes += b.length;
      }
      plans.push(plan);
    } finally {
      await reader.close();
    }
  }
  return plans;
}

/** A file name part that any file system accepts: characters outside [A-Za-z0-9_-] are %-escaped. */
function namePart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

/** `<parts>.<tag>.<kind>.<extension>`; parts are escaped unless they come from a file name already. */
function outputPath(options: ConvertOptions, parts: string[], kind: Kind, escaped = true): string {
  const tag = options.nameTag === undefined ? [] : [namePart(options.nameTag)];
  const named = parts.filter((p) => p !== "").map((p) => (escaped ? namePart(p) : p));
  return join(options.outDir, [...named, ...tag, kind, EXTENSION[options.format]].join("."));
}

/** Outputs are found by exchange, then the symbol (split by symbol) or the input file (split by file), then kind. */
function outputKey(exchange: string, symbolOrSource: string, kind: Kind): string {
  return `${exchange}\u0000${symbolOrSource}\u0000${kind}`;
}

function bySymbol(plans: readonly FilePlan[], options: ConvertOptions): Map<string, Output> {
  const out = new Map<string, Output>();
  for (const p of plans)
    for (const pair of p.pairs) {
      const [symbol, kind] = pair.split("\u0000") as [string, Kind];
      const path = outputPath(options, [p.exchange, symbol], kind);
      out.set(outputKey(p.exchange, symbol, kind), {
        path,
        kind,
        exchange: p.exchange,
        symbol,
        source: null,
      });
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
    for (const kind of new Set([...p.pairs].map((pair) => pair.split("\u0000")[1] as Kind))) {
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
      throw new TapeError("E_TAPE_VALUE", "exists; choose another folder or replace it (overwrite)", {
        file: path,
      });
    }
  }
}
