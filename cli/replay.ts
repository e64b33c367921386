import type { Command } from "commander";
import { formatTime, type ReplayRecord, recordToJson } from "../src/index.js";
import { addDatasetOptions, type DatasetCliOptions, openCliDataset, reportS3 } from "./dataset-options.js";
import { toJson, writeOut } from "./output.js";
import { progress } from "./progress.js";
import { positive, usage } from "./usage.js";

export interface ReplayCliOptions extends DatasetCliOptions {
  speed?: string;
  limit?: string;
  json?: boolean;
  table?: boolean;
}

export function registerReplay(program: Command): void {
  addDatasetOptions(
    program
      .command("replay")
      .description("replay files or a dataset merged in exact time order (NDJSON, or a table on a terminal)")
      .argument("[paths...]", ".tape files (or use --root)"),
  )
    .option("--speed <n>", "pace the output at n times the recorded time (e.g. 1 = real time)")
    .option("-n, --limit <n>", "stop after n records")
    .option("--json", "NDJSON even on a terminal")
    .option("--table", "an aligned table even when the output is not a terminal")
    .addHelpText(
      "after",
      `
Order: exchange time, then receive time (a record without one first), then file, then position in the file.
NDJSON keeps values exact: timestamps and sequence ids as strings, decimals as canonical strings.

Examples:
  ticktape replay --root /efs/ticks --from 2026-11-24T14:00 --to +10m --symbol BTC-USDT ETH-USDT
  ticktape replay data/2026-11-24/okx/*.tape --kind trade --speed 10
  ticktape replay --root /efs/ticks --exchange binance okx --from 2026-11-24 --to 2026-11-25 --json > day.ndjson
  ticktape replay --root s3://research-ticks/v1 --s3-region eu-west-1 --from 2026-11-24T14:00 --to +1m`,
    )
    .action((paths: string[], o: ReplayCliOptions) => runReplay(paths, o, undefined));
}

/** Replays what the options select to stdout; `defaultLimit` is head's. */
export async function runReplay(
  paths: string[],
  o: ReplayCliOptions,
  defaultLimit: number | undefined,
): Promise<void> {
  const speed = positive(o.speed, "--speed");
  const limit = positive(o.limit, "--limit", true) ?? defaultLimit;
  if (o.json && o.table) throw usage("--json and --table exclude each other");
  const ds = await openCliDataset(paths, o);
  const asTable = o.table === true || (o.json !== true && process.stdout.isTTY === true);
  const { from, to } = ds.selection;
  const bar =
    from !== undefined && to !== undefined
      ? progress(
          "replay",
          process.stderr,
          (done) => `at ${formatTime(from + BigInt(Math.round(done)) * 1_000_000n)}`,
        )
      : null;
  const span = from !== undefined && to !== undefined ? Number((to - from) / 1_000_000n) : 0;
  let n = 0;
  let chunk = "";
  const options = {
    exact: true as const,
    onCorrupt: o.onCorrupt as "error" | "skip",
    ...(speed === undefined ? {} : { speed }),
  };
  const it = ds.replay(options)[Symbol.asyncIterator]();
  try {
    // The limit is checked before asking for a record: the one after the last is never read (nor waited for).
    while (limit === undefined || n < limit) {
      const r = await it.next();
      if (r.done) break;
      const rec = r.value;
      chunk += asTable ? `${tableLine(rec)}\n` : `${toJson(recordToJson(rec))}\n`;
      n++;
      // Paced output is written at once; otherwise in chunks.
      if (speed !== undefined || chunk.length > 1 << 16) {
        await writeOut(chunk);
        chunk = "";
      }
      if (bar !== null && (n & 0xfff) === 0) bar.update(Number((rec.ts - from!) / 1_000_000n), span);
    }
  } finally {
    // What was read is printed, also when the replay stops on an error.
    await writeOut(chunk);
    bar?.finish();
    await it.return?.();
    await reportS3(ds.sources);
    await ds.sources.close();
  }
}

/** One aligned line for a human. */
function tableLine(r: ReplayRecord): string {
  const head = `${formatTime(r.ts)}  ${r.exchange.padEnd(12)}  ${r.symbol.padEnd(14)}  ${r.kind.padEnd(5)}`;
  switch (r.kind) {
    case "trade":
      return `${head}  ${r.side.padEnd(7)}  ${r.size} @ ${r.price}${r.tradeId === undefined ? "" : `  id ${r.tradeId}`}`;
    case "book":
      return `${head}  ${r.side.padEnd(7)}  ${r.price} → ${r.size}${r.snapshot ? "  snapshot" : ""}${r.seq === undefined ? "" : `  seq ${r.seq}`}`;
    case "bbo":
      return `${head}  ${r.bidSize ?? "-"} @ ${r.bidPrice ?? "-"}  |  ${r.askPrice ?? "-"} @ ${r.askSize ?? "-"}`;
    case "event":
      return `${head}  ${r.type}${r.seqBefore === undefined ? "" : `  seq ${r.seqBefore}`}${r.seqAfter === undefined ? "" : ` → ${r.seqAfter}`}  ${r.message}`;
    case "raw":
      return `${head}  ${r.data.length} bytes`;
  }
}
