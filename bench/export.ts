/**
 * Export: a 1-hour, 10-symbol file converted by `convert()` (one file per exchange, symbol and kind), as
 * `ticktape convert --to parquet` does it: with one worker thread per core (the command's default) and in one
 * thread. Records per second of the whole conversion (read, decode, build Arrow, write Parquet), and the bytes per
 * record of the Parquet files beside those of the `.tape` file.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { convert, type DecimalMode, type ExportFormat } from "../src/export/index.js";
import { datasetOfFiles, tapeRelativePath } from "../src/index.js";
import { encodeFile, firstHour, HOUR0 } from "./replay.js";
import { syntheticWorkload } from "./synthetic.js";

export interface ExportRun {
  format: ExportFormat;
  decimals: DecimalMode;
  threads: number;
  rowsPerSec: number;
  bytesPerRecord: number;
  files: number;
}

export interface ExportFigures {
  records: number;
  tapeBytesPerRecord: number;
  runs: ExportRun[];
}

export async function measureExport(log: (m: string) => void, seed: number): Promise<ExportFigures> {
  const root = await mkdtemp(join(tmpdir(), "ticktape-bench-export-"));
  try {
    log("export: writing a 1-hour, 10-symbol file");
    const w = firstHour(syntheticWorkload({ trades: 800_000, bookUpdates: 3_200_000, seed, symbols: 10 }));
    const bytes = encodeFile(w, "exportvenue", "bench", {});
    const path = join(root, tapeRelativePath("exportvenue", HOUR0, "bench"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    const records = w.trades.count + w.book.count;
    const runs: ExportRun[] = [];
    const cores = availableParallelism();
    const plan: [ExportFormat, DecimalMode, number][] = [
      ["parquet", "both", cores],
      ["parquet", "both", 1],
      ["parquet", "float", cores],
      ["arrow", "both", cores],
    ];
    for (const [format, decimals, threads] of plan) {
      log(`export: ${format}, decimals ${decimals}, ${threads} threads`);
      const out = join(root, `${format}-${decimals}-${threads}`);
      const s = await convert(datasetOfFiles([path]), { format, decimals, outDir: out, workers: threads });
      if (s.rows !== records) throw new Error(`export wrote ${s.rows} records of ${records}`);
      runs.push({
        format,
        decimals,
        threads: Math.max(1, s.workers),
        rowsPerSec: s.rows / s.seconds,
        bytesPerRecord: s.outputBytes / s.rows,
        files: s.files.length,
      });
      await rm(out, { recursive: true, force: true });
    }
    return { records, tapeBytesPerRecord: bytes.length / records, runs };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const parquetDefault = (f: ExportFigures) =>
  f.runs.find((r) => r.format === "parquet" && r.decimals === "both")!;

export function exportKeys(f: ExportFigures): Record<string, number> {
  const p = parquetDefault(f);
  return {
    exportParquetRowsPerSec: p.rowsPerSec,
    exportParquetBytesPerRecord: p.bytesPerRecord,
    exportTapeBytesPerRecord: f.tapeBytesPerRecord,
  };
}

export function exportTargets(f: ExportFigures): [string, boolean, string][] {
  const p = parquetDefault(f);
  return [
    [
      `export to Parquet ≥ 2M records/s (${p.threads} threads)`,
      p.rowsPerSec >= 2e6,
      `${(p.rowsPerSec / 1e6).toFixed(2)}M/s (${p.bytesPerRecord.toFixed(2)} B/record; .tape ${f.tapeBytesPerRecord.toFixed(2)})`,
    ],
  ];
}

export function exportMarkdown(f: ExportFigures | null): string[] {
  const lines = ["## Export (`ticktape convert`)", ""];
  if (f === null) return [...lines, "Not measured (`--no-export`)."];
  return [
    ...lines,
    `A 1-hour file of 10 symbols, ${f.records.toLocaleString("en-US")} trades and book updates (${f.tapeBytesPerRecord.toFixed(2)} B/record as .tape),`,
    "converted to one file per symbol and kind: read, decode, Arrow columns, write; symbols in parallel on the threads.",
    "",
    "| output | decimals | threads | records/s | B/record | B/record vs .tape |",
    "|---|---|---:|---:|---:|---:|",
    ...f.runs.map(
      (r) =>
        `| ${r.format} | ${r.decimals === "both" ? "decimal128(38,18) + float64" : r.decimals === "float" ? "float64" : "decimal128(38,18)"} | ${r.threads} | ${(r.rowsPerSec / 1e6).toFixed(2)}M/s | ${r.bytesPerRecord.toFixed(2)} | ${(r.bytesPerRecord / f.tapeBytesPerRecord).toFixed(1)}x |`,
    ),
  ];
}
