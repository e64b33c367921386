import { availableParallelism } from "node:os";
import { type Command, Option } from "commander";
import { EXPORT_FORMATS, type ExportFormat } from "../src/export/formats.js";
import type { ConvertOptions, ConvertSummary, DecimalMode } from "../src/export/index.js";
import { shardFrom } from "../src/index.js";
import {
  addDatasetOptions,
  type DatasetCliOptions,
  openCliDataset,
  reportS3Stats,
} from "./dataset-options.js";
import { formatBytes, toJson } from "./output.js";
import { progress } from "./progress.js";
import { usage } from "./usage.js";

interface ConvertCliOptions extends DatasetCliOptions {
  format?: string;
  out?: string;
  split?: string;
  decimals?: string;
  parquetUtc?: boolean;
  overwrite?: boolean;
  workers?: string;
  json?: boolean;
}

function isFormat(text: string): text is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(text);
}

/** `--to` values in the order given: convert takes it twice, for the end of the range and for the format. */
function collectTo(value: string, previous: unknown): string[] {
  return Array.isArray(previous) ? [...(previous as string[]), value] : [value];
}

export function registerConvert(program: Command): void {
  const cmd = addDatasetOptions(
    program
      .command("convert")
      .description(
        "convert records to Parquet, Arrow IPC, CSV or NDJSON files, for DuckDB, Polars, pandas, Spark",
      )
      .argument("[inputs...]", ".tape files (or use --root)"),
  )
    .option(
      "-f, --format <format>",
      `output format: ${EXPORT_FORMATS.join(", ")} (also given as --to FORMAT; --to TIME ends the time range)`,
    )
    .requiredOption("-o, --out <dir>", "folder of the output files (made when missing)")
    .option(
      "--split <by>",
      "symbol (default): a file per exchange, symbol and kind; file: a file per input file and kind",
      "symbol",
    )
    .option(
      "--decimals <mode>",
      "prices and sizes in Parquet and Arrow: both (default: exact decimal128(38,18) and a Float column), exact, float",
      "both",
    )
    .option(
      "--parquet-utc",
      "mark Parquet timestamps as UTC instants (isAdjustedToUTC); DuckDB then reads them as microseconds only",
    )
    .option("--overwrite", "replace output files that exist (default: refuse before writing anything)")
    .addOption(
      new Option("--workers <n>", "threads converting symbols (or files) in parallel").default(
        String(availableParallelism()),
        `one per core: ${availableParallelism()}`,
      ),
    )
    .option("--json", "print the summary as JSON")
    .addHelpText(
      "after",
      `
Each output has one kind (its columns: docs/EXPORT.md) and is complete under its name only once written;
a stop (SIGTERM, Ctrl-C) removes the files being written and keeps the complete ones.
Timestamps are ns since the epoch, UTC: Arrow timestamp[ns, UTC]; Parquet timestamp[ns] without a zone, so that
DuckDB keeps the nanoseconds; CSV integers. Decimals are exact: decimal128(38,18) in Parquet and Arrow, text in
CSV and NDJSON (which is exactly what \`ticktape cat\` prints).

Examples:
  ticktape convert data/2026-11-24/binance/*.tape --to parquet --out ./parquet
  ticktape convert --root s3://research-ticks/v1 --from 2026-11-24 --to 2026-11-25 --kind trade --format parquet --out /scratch/pq --cache /nvme/cache
  ticktape convert day/*.tape --symbol BTCUSDT --from 2026-11-24T14:00 --to +1h --format csv --out ./csv
  duckdb -c "select symbol, count(*), avg(priceFloat) from './parquet/*.trade.parquet' group by symbol"`,
    )
    .action(async (inputs: string[], o: ConvertCliOptions) => {
      // `--to parquet` names the format (no time is spelt like a format); another `--to` ends the time range.
      const tos = (o.to as unknown as string[] | undefined) ?? [];
      const formats = tos.filter(isFormat);
      const times = tos.filter((t) => !isFormat(t));
      if (times.length > 1) throw usage(`--to gives the end of the range twice (${times.join(", ")})`);
      for (const f of formats) {
        if (o.format !== undefined && o.format !== f)
          throw usage(`--to ${f} and --format ${o.format} name two formats`);
        o.format = f;
      }
      if (times.length === 1) o.to = times[0]!;
      else delete o.to;
      if (!isFormat(o.format ?? "")) throw usage(`give --format ${EXPORT_FORMATS.join("|")}`);
      if (o.split !== "symbol" && o.split !== "file") throw usage("--split is symbol or file");
      if (!["both", "exact", "float"].includes(o.decimals ?? ""))
        throw usage("--decimals is both, exact or float");
      const format = o.format as ExportFormat;
      if (o.parquetUtc && format !== "parquet") throw usage("--parquet-utc is for --format parquet");
      const workers = Number(o.workers);
      if (!(Number.isInteger(workers) && workers >= 1))
        throw usage("--workers is a whole number, at least 1");
      const ds = await openCliDataset(inputs, o);
      const shard = shardFrom(o.shard);
      const bar = progress("convert", process.stderr);
      const options: ConvertOptions = {
        format,
        outDir: o.out!,
        split: o.split,
        decimals: o.decimals as DecimalMode,
        overwrite: o.overwrite === true,
        workers,
        onCorrupt: o.onCorrupt as "error" | "skip",
        onProgress: (p) => bar.update(p.blockBytesDone, p.blockBytesTotal),
      };
      if (o.parquetUtc) options.timezone = "UTC";
      // Shards of one run write to one folder: their outputs by symbol must not collide.
      if (shard !== null && o.split === "symbol")
        options.nameTag = `shard-${shard.index + 1}-of-${shard.count}`;
      // Arrow and Parquet load only for this command.
      const { convert } = await import("../src/export/index.js");
      // A stop (Ctrl-C, a cancelled Batch job) ends the passes between two blocks: the files being written are
      // removed, the complete ones stay.
      const stop = new AbortController();
      let stoppedBy: NodeJS.Signals | null = null;
      const onSignal = (sig: NodeJS.Signals) => {
        stoppedBy = sig;
        stop.abort();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      options.signal = stop.signal;
      let summary: ConvertSummary;
      try {
        summary = await convert(ds, options);
      } catch (err) {
        if (stoppedBy === null) throw err;
        await ds.sources.close();
        process.stderr.write(
          `ticktape: convert stopped by ${stoppedBy}: complete files kept, unfinished ones removed\n`,
        );
        process.exitCode = stoppedBy === "SIGINT" ? 130 : 143;
        return;
      } finally {
        bar.finish();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      reportS3Stats(summary.s3, summary.cache);
      await ds.sources.close();
      process.stdout.write(o.json ? `${toJson(summary, 2)}\n` : describe(summary));
    });
  cmd.options.find((x) => x.long === "--to")?.argParser(collectTo);
}

function describe(s: ConvertSummary): string {
  const lines = s.files.map(
    (f) =>
      `${f.path}  ${f.rows.toLocaleString("en-US")} rows  ${formatBytes(f.bytes)}  ${f.rows > 0 ? (f.bytes / f.rows).toFixed(2) : "-"} B/row`,
  );
  const rate = s.seconds > 0 ? `${(s.rows / s.seconds / 1e6).toFixed(2)}M rows/s` : "";
  lines.push(
    `${s.files.length} files, ${s.rows.toLocaleString("en-US")} rows in ${s.seconds.toFixed(1)} s (${rate}${s.workers > 0 ? `, ${s.workers} threads` : ""}): ` +
      `${formatBytes(s.inputBytes)} of tape blocks -> ${formatBytes(s.outputBytes)}` +
      (s.lostBlocks > 0 ? `; ${s.lostBlocks} damaged blocks left out` : "") +
      (s.missingHours > 0 ? `; ${s.missingHours} hours without a file` : "") +
      (s.unreadableFiles > 0 ? `; ${s.unreadableFiles} unreadable files left out` : ""),
  );
  return `${lines.join("\n")}\n`;
}
