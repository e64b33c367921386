/**
 * `npm run bench` — size and speed of the tape format against its peers, measured in one run on this machine,
 * on a seeded synthetic workload and on the real Binance tables. Prints a table (or `--json`: one object) and
 * writes docs/benchmarks.md.
 */
import { writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { type Codec, DEFAULT_BLOCK_POLICY, DEFAULT_CODEC, DEFAULT_ZSTD_LEVEL } from "../src/index.js";
import { type ExportFigures, exportKeys, exportMarkdown, exportTargets, measureExport } from "./export.js";
import { inFreshProcess } from "./fresh-process.js";
import { type IngestFigures, ingestMarkdown, ingestTargets, measureIngest } from "./ingest.js";
import { log } from "./log.js";
import { allPeers } from "./peers/index.js";
import type { PeerResult } from "./peers/peer.js";
import { loadRealTables, realDataDefaultDir } from "./real-tables.js";
import { measureRecording, type RecordFigures, recordKeys, recordMarkdown, recordTargets } from "./record.js";
import { type ReplayFigures, replayKeys, replayMarkdown, replayTargets } from "./replay.js";
import { measureSync, type SyncFigures, syncKeys, syncMarkdown, syncTargets } from "./sync.js";
import { syntheticWorkload } from "./synthetic.js";
import { measureTicktape, type TicktapeResult } from "./ticktape.js";
import type { Workload } from "./workload.js";

interface Options {
  trades: number;
  book: number;
  seed: number;
  real: string;
  json?: boolean;
  write: boolean;
  peers: boolean;
  replay: boolean;
  export: boolean;
  ingest: boolean;
  sync: boolean;
  s3: boolean;
  record: boolean;
  recordSeconds: number;
  recordSymbols: number;
  recordRate: number;
  recordFeedThreads: boolean;
}

const perSec = (rows: number, seconds: number) => rows / seconds;
const fmtRate = (r: number) => `${(r / 1e6).toFixed(1)}M/s`;

interface Line {
  name: string;
  bytesPerTrade: number;
  bytesPerBookUpdate: number;
  encodeRowsPerSec: number;
  decodeColumnsRowsPerSec: number;
  decodeObjectsRowsPerSec: number;
}

function ticktapeLine(r: TicktapeResult): Line {
  const rows = r.trades.rows + r.book.rows;
  return {
    name: `ticktape ${r.codec}${r.codec === DEFAULT_CODEC ? " (default)" : ""}`,
    bytesPerTrade: r.trades.bytes / r.trades.rows,
    bytesPerBookUpdate: r.book.bytes / r.book.rows,
    encodeRowsPerSec: perSec(rows, r.trades.encodeSeconds + r.book.encodeSeconds),
    decodeColumnsRowsPerSec: perSec(rows, r.trades.decodeColumnsSeconds + r.book.decodeColumnsSeconds),
    decodeObjectsRowsPerSec: perSec(rows, r.trades.decodeObjectsSeconds + r.book.decodeObjectsSeconds),
  };
}

function peerLine(p: PeerResult, w: Workload): Line {
  const rows = w.trades.count + w.book.count;
  return {
    name: p.name,
    bytesPerTrade: p.tradeBytes / w.trades.count,
    bytesPerBookUpdate: p.bookBytes / w.book.count,
    encodeRowsPerSec: perSec(rows, p.encodeSeconds),
    decodeColumnsRowsPerSec: perSec(rows, p.decodeColumnsSeconds),
    decodeObjectsRowsPerSec: perSec(rows, p.decodeObjectsSeconds),
  };
}

function renderTable(lines: Line[]): string {
  const head =
    "| format | B/trade | B/book update | encode rows/s | decode → columns rows/s | decode → objects rows/s |";
  const sep = "|---|---:|---:|---:|---:|---:|";
  const body = lines.map(
    (l) =>
      `| ${l.name} | ${l.bytesPerTrade.toFixed(2)} | ${l.bytesPerBookUpdate.toFixed(2)} | ${fmtRate(l.encodeRowsPerSec)} | ${fmtRate(l.decodeColumnsRowsPerSec)} | ${fmtRate(l.decodeObjectsRowsPerSec)} |`,
  );
  return [head, sep, ...body].join("\n");
}

async function run(o: Options): Promise<void> {
  const started = Date.now();
  // First, while this process is small and idle: the recorder and the simulator need the machine's two cores.
  let record: RecordFigures | null = null;
  if (o.record) {
    record = await measureRecording(log, {
      seconds: o.recordSeconds,
      symbols: o.recordSymbols,
      rate: o.recordRate,
      feedThreads: o.recordFeedThreads,
    });
  }
  // Then the replay, in a process of its own, as a replay job runs (see fresh-process.ts).
  let replay: ReplayFigures | null = null;
  if (o.replay) replay = await inFreshProcess("replay", { seed: o.seed, s3: o.s3 });
  const exported: ExportFigures | null = o.export ? await measureExport(log, o.seed) : null;
  const ingested: IngestFigures | null = o.ingest ? await measureIngest(log) : null;
  const synced: SyncFigures | null = o.sync ? await measureSync(log) : null;
  // The format in a process of its own too: after the parts above, this process's heap slows decoding into objects.
  const codecs: Codec[] = [DEFAULT_CODEC, ...(["zstd", "lz4"] as Codec[]).filter((c) => c !== DEFAULT_CODEC)];
  log(`the format on the synthetic workload: ${o.trades} trades, ${o.book} book updates, seed ${o.seed}`);
  const format = await inFreshProcess("format", { trades: o.trades, book: o.book, seed: o.seed, codecs });
  const tt: TicktapeResult[] = format.results;
  const peers: { name: string; line: Line; result: PeerResult }[] = [];
  if (o.peers) {
    // The same rows again here (seeded: identical), for the peers.
    const synth = syntheticWorkload({ trades: o.trades, bookUpdates: o.book, seed: o.seed });
    for (const peer of allPeers) {
      log(`peer ${peer.name}`);
      const result = await peer.run(synth);
      peers.push({ name: peer.name, line: peerLine(result, synth), result });
    }
  }
  const def = tt[0]!;
  const parquet = peers.find((p) => /parquet/i.test(p.name));
  const ttBytes = def.trades.bytes + def.book.bytes;

  log(`real data: ${o.real}`);
  const real = await loadRealTables(o.real);
  let realFigures: Record<string, number | string> | null = null;
  if (real === null) {
    log(`no real data at ${o.real} (pass --real DIR); the real-data figures are left out`);
  } else {
    const rt = await measureTicktape(real, DEFAULT_CODEC);
    const parquetPeer = allPeers.find((p) => /parquet/i.test(p.name));
    const rp = parquetPeer !== undefined && o.peers ? await parquetPeer.run(real) : null;
    realFigures = {
      realTrades: real.trades.count,
      realBookUpdates: real.book.count,
      realBytesPerTrade: rt.trades.bytes / real.trades.count,
      realBytesPerBookUpdate: rt.book.bytes / real.book.count,
      ...(rp === null
        ? {}
        : {
            realParquetBytesPerTrade: rp.tradeBytes / real.trades.count,
            realParquetBytesPerBookUpdate: rp.bookBytes / real.book.count,
            realRatioVsParquet: (rp.tradeBytes + rp.bookBytes) / (rt.trades.bytes + rt.book.bytes),
          }),
    };
  }

  const trades = def.trades;
  const result = {
    date: new Date().toISOString(),
    machine: machine(),
    workload: {
      trades: def.trades.rows,
      bookUpdates: def.book.rows,
      seed: o.seed,
      symbols: format.symbols,
    },
    policy: { ...DEFAULT_BLOCK_POLICY, codec: DEFAULT_CODEC, zstdLevel: DEFAULT_ZSTD_LEVEL },
    bytesPerTrade: trades.bytes / trades.rows,
    bytesPerBookUpdate: def.book.bytes / def.book.rows,
    // Speeds on trades, the unit of the targets; book speeds are under `ticktape`.
    encodeRowsPerSec: perSec(trades.rows, trades.encodeSeconds),
    encodeInterleavedRowsPerSec: perSec(trades.rows, trades.encodeInterleavedSeconds),
    decodeColumnsRowsPerSec: perSec(trades.rows, trades.decodeColumnsSeconds),
    decodeObjectsRowsPerSec: perSec(trades.rows, trades.decodeObjectsSeconds),
    parquetBytesPerTrade: parquet ? parquet.result.tradeBytes / trades.rows : null,
    ratioVsParquet: parquet ? (parquet.result.tradeBytes + parquet.result.bookBytes) / ttBytes : null,
    ...realFigures,
    ...(replay === null ? {} : { replay, ...replayKeys(replay) }),
    ...(exported === null ? {} : { export: exported, ...exportKeys(exported) }),
    ...(ingested === null ? {} : { ingest: ingested, ingestFramesPerSecMin: ingested.ingestFramesPerSecMin }),
    ...(synced === null ? {} : { sync: synced, ...syncKeys(synced) }),
    ...(record === null ? {} : { record, ...recordKeys(record) }),
    ticktape: tt,
    table: [...tt.map(ticktapeLine), ...peers.map((p) => p.line)],
    seconds: (Date.now() - started) / 1000,
  };

  const targets = [
    ["≤ 3.0 bytes per trade", result.bytesPerTrade <= 3.0, result.bytesPerTrade.toFixed(2)],
    ["≤ 4.0 bytes per book update", result.bytesPerBookUpdate <= 4.0, result.bytesPerBookUpdate.toFixed(2)],
    [
      "≥ 1.3x smaller than Parquet",
      result.ratioVsParquet !== null && result.ratioVsParquet >= 1.3,
      result.ratioVsParquet?.toFixed(2) ?? "not measured",
    ],
    [
      "decode → columns ≥ 25M trades/s",
      result.decodeColumnsRowsPerSec >= 25e6,
      fmtRate(result.decodeColumnsRowsPerSec),
    ],
    [
      "decode → objects ≥ 5M trades/s",
      result.decodeObjectsRowsPerSec >= 5e6,
      fmtRate(result.decodeObjectsRowsPerSec),
    ],
    ["encode ≥ 15M trades/s", result.encodeRowsPerSec >= 15e6, fmtRate(result.encodeRowsPerSec)],
    [
      "encode ≥ 15M trades/s, split by symbol included",
      result.encodeInterleavedRowsPerSec >= 15e6,
      fmtRate(result.encodeInterleavedRowsPerSec),
    ],
    ...(realFigures === null
      ? []
      : [
          [
            "real data ≤ 2.6 bytes per trade",
            (realFigures["realBytesPerTrade"] as number) <= 2.6,
            (realFigures["realBytesPerTrade"] as number).toFixed(2),
          ],
          [
            "real data ≤ 3.2 bytes per L2 update",
            (realFigures["realBytesPerBookUpdate"] as number) <= 3.2,
            (realFigures["realBytesPerBookUpdate"] as number).toFixed(2),
          ],
        ]),
    ...(replay === null ? [] : replayTargets(replay)),
    ...(exported === null ? [] : exportTargets(exported)),
    ...(ingested === null ? [] : ingestTargets(ingested)),
    ...(synced === null ? [] : syncTargets(synced)),
    ...(record === null ? [] : recordTargets(record)),
  ] as [string, boolean, string][];

  const md = renderMarkdown(result, targets, realFigures, replay, exported, ingested, synced, record);
  if (o.write) {
    const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "benchmarks.md");
    await writeFile(out, md);
    log(`wrote ${out}`);
  }
  if (o.json)
    process.stdout.write(
      `${JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`,
    );
  else process.stdout.write(md);
}

function columnTable(t: TicktapeResult): string[] {
  const row = (label: string, r: TicktapeResult["trades"]) =>
    `| ${label} | ${Object.entries(r.columnBytesPerRow)
      .map(([c, v]) => `${c} ${v.toFixed(2)}`)
      .join(", ")} | ${(r.bytes / r.rows).toFixed(2)} |`;
  return [
    "| kind | B/row per column | B/row, file |",
    "|---|---|---:|",
    row("trade", t.trades),
    row("book", t.book),
  ];
}

function machine(): { cpu: string; cores: number; memoryGiB: number; node: string; platform: string } {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

function renderMarkdown(
  r: {
    date: string;
    machine: ReturnType<typeof machine>;
    workload: { trades: number; bookUpdates: number; seed: number; symbols: string[] };
    policy: object;
    table: Line[];
    ticktape: TicktapeResult[];
    seconds: number;
  },
  targets: [string, boolean, string][],
  real: Record<string, number | string> | null,
  replay: ReplayFigures | null,
  exported: ExportFigures | null,
  ingested: IngestFigures | null,
  synced: SyncFigures | null,
  record: RecordFigures | null,
): string {
  const m = r.machine;
  const lines = [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (see `bench/`); every figure below was measured in the same run on the machine named here.",
    "Re-run it to measure your machine. `npm run bench -- --json` prints the same figures as one JSON object.",
    "",
    `- Date: ${r.date}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`,
    `- Synthetic workload: ${r.workload.trades.toLocaleString("en-US")} trades + ${r.workload.bookUpdates.toLocaleString("en-US")} L2 book updates, seed ${r.workload.seed}, symbols ${r.workload.symbols.join(", ")}`,
    `- ticktape block policy (the writer's default, as the recorder uses it): ${JSON.stringify(r.policy)}`,
    "- One core: encoding and decoding run on the main thread, codecs included, in a process of its own (started with an empty heap, as a job doing only this). Decode figures are the best of three passes.",
    "- Arrow IPC's decode to columns makes views into the IPC buffer: nothing is decoded, so its figure is not comparable.",
    "- Sizes are whole files (header, footer and trailer included). ticktape's encode rows/s hand the writer each",
    "  symbol's rows of a step of 8192 rows as one batch of column subarrays, as a recorder holds them (one exchange",
    "  message is one symbol's rows); the grouping and the conversion of ns timestamps to the writer's base + offset",
    "  input are done before timing. The targets also show the encode speed with the split of the interleaved table",
    "  by symbol timed (same bytes out).",
    "",
    "## Synthetic workload (trades + book updates together)",
    "",
    renderTable(r.table),
    "",
    "## Targets (ticktape, default codec; speeds on trades)",
    "",
    "| target | reached | measured |",
    "|---|---|---:|",
    ...targets.map(([name, ok, v]) => `| ${name} | ${ok ? "yes" : "**no**"} | ${v} |`),
    "",
    "## Where the bytes go (ticktape, default codec, synthetic workload)",
    "",
    "Bytes per row of each column when it is compressed on its own, block by block (an attribution: the file",
    "compresses all columns of a block together).",
    "",
    ...columnTable(r.ticktape[0]!),
    "",
    "## Real data (`../shared/realdata/tables`: Binance trades and L2 updates, six markets)",
    "",
  ];
  if (real === null) lines.push("Not measured: the folder was absent (`--real DIR`).");
  else {
    lines.push("| format | trades | B/trade | L2 updates | B/L2 update |", "|---|---:|---:|---:|---:|");
    lines.push(
      `| ticktape ${DEFAULT_CODEC} | ${real["realTrades"]} | ${(real["realBytesPerTrade"] as number).toFixed(2)} | ${real["realBookUpdates"]} | ${(real["realBytesPerBookUpdate"] as number).toFixed(2)} |`,
    );
    if (real["realParquetBytesPerTrade"] !== undefined) {
      lines.push(
        `| Parquet | ${real["realTrades"]} | ${(real["realParquetBytesPerTrade"] as number).toFixed(2)} | ${real["realBookUpdates"]} | ${(real["realParquetBytesPerBookUpdate"] as number).toFixed(2)} |`,
        "",
        `Parquet / ticktape, all rows: ${(real["realRatioVsParquet"] as number).toFixed(2)}x.`,
      );
    }
  }
  lines.push(
    "",
    ...replayMarkdown(replay),
    "",
    ...exportMarkdown(exported),
    "",
    ...ingestMarkdown(ingested),
    "",
    ...syncMarkdown(synced),
    "",
    ...recordMarkdown(record),
    "",
    `Run time: ${r.seconds.toFixed(0)} s.`,
    "",
  );
  return lines.join("\n");
}

const program = new Command()
  .name("npm run bench --")
  .description(
    "measure the tape format's size and speed against NDJSON, Arrow IPC and Parquet, and write docs/benchmarks.md",
  )
  .option("--trades <n>", "synthetic trades", (v) => Number.parseInt(v, 10), 10_000_000)
  .option("--book <n>", "synthetic L2 book updates", (v) => Number.parseInt(v, 10), 10_000_000)
  .option("--seed <n>", "seed of the synthetic workload", (v) => Number.parseInt(v, 10), 42)
  .option("--real <dir>", "folder of the real tables (*.csv.zst)", realDataDefaultDir())
  .option("--no-peers", "measure ticktape only")
  .option("--no-replay", "leave out the replay figures (merged replay, scan, seek, book at an instant)")
  .option("--no-s3", "leave out the replay from S3 (an S3 emulator on 127.0.0.1)")
  .option("--no-export", "leave out the export figures (convert to Parquet and Arrow)")
  .option("--no-ingest", "leave out the ingest figures (each venue's simulator recorded, then ingested)")
  .option("--no-sync", "leave out the sync figures (verifying a day of 1,000 files in the S3 emulator)")
  .option("--no-record", "leave out the recorder figures (a recorder process on a simulator)")
  .option(
    "--record-seconds <n>",
    "how long the recorder runs (memory must stay flat over it)",
    (v) => Number(v),
    600,
  )
  .option("--record-symbols <n>", "symbols the simulator sends", (v) => Number.parseInt(v, 10), 20)
  .option(
    "--record-rate <n>",
    "book messages per second per symbol asked of the simulator",
    (v) => Number(v),
    2800,
  )
  .option(
    "--record-feed-threads",
    'run the recorder with feed threads (docs/RECORDER.md, "Feed threads")',
    false,
  )
  .option("--no-write", "do not write docs/benchmarks.md")
  .option("--json", "print one JSON object instead of the table")
  .addHelpText(
    "after",
    "\nExamples:\n  npm run bench\n  npm run bench -- --json --trades 1000000 --book 1000000 --no-write\n  npm run bench -- --no-peers --no-replay --record-seconds 60 --no-write",
  )
  .action((o: Options) => run(o));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
