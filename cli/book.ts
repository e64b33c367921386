import type { Command } from "commander";
import { formatTime, parseTime } from "../src/index.js";
import {
  addDatasetOptions,
  type DatasetCliOptions,
  offsetBase,
  openCliDataset,
  reportS3,
  timeRange,
} from "./dataset-options.js";
import { toJson, writeOut } from "./output.js";
import { positive } from "./usage.js";

interface BookCliOptions extends Omit<DatasetCliOptions, "symbol" | "kind" | "to"> {
  symbol: string;
  at: string;
  depth: string;
  json?: boolean;
}

export function registerBook(program: Command): void {
  addDatasetOptions(
    program
      .command("book")
      .description("the order book of a symbol at an instant, rebuilt from its snapshot and updates")
      .argument("[paths...]", ".tape files (or use --root)"),
    { shard: false, book: true },
  )
    .requiredOption(
      "--at <time>",
      "the instant: ISO 8601, ns, or +OFFSET from the start (rows at exactly this time count)",
    )
    .option("--depth <n>", "levels per side", "10")
    .option("--json", "print the book as JSON")
    .addHelpText(
      "after",
      `
The book starts from the latest book checkpoint (written every minute by default) at or before --at, or,
without one, is rebuilt from --from (default: the start of the hour of --at), which must then hold a
snapshot of the symbol, else the book is reported invalid ("no snapshot yet"). A gap or checksum failure
recorded after the snapshot also makes it invalid, with the reason. One feed: give --exchange and --capture
when the data holds several.

Examples:
  ticktape book --root /efs/ticks --exchange okx --symbol BTC-USDT --at 2026-11-24T14:37:05
  ticktape book data/2026-11-24/binance/binance-2026-11-24T14.host-a.tape --symbol BTCUSDT --at +37m --depth 20 --json`,
    )
    .action(async (paths: string[], o: BookCliOptions) => {
      const depth = positive(o.depth, "--depth", true)!;
      const symbol = o.symbol;
      // --at may be an offset from the start of the first file's hour, like --from (not with --root).
      const { from: fromText, symbol: _symbol, ...rest } = o;
      const start = offsetBase(paths);
      const at = o.at.startsWith("+") ? timeRange({ from: o.at }, start).from! : parseTime(o.at);
      const hour = at - (at % 3_600_000_000_000n);
      const from = fromText === undefined ? hour : timeRange({ from: fromText }, start).from!;
      // Every file of the range: the book's snapshot may be in any of them (no share, whatever AWS Batch says).
      const ds = await openCliDataset(
        paths,
        { ...rest, symbol: [symbol], from: String(from), to: String(at + 1n) },
        { shard: false },
      );
      const exchange = o.exchange?.length === 1 ? o.exchange[0]! : undefined;
      const capture = o.capture?.length === 1 ? o.capture[0]! : undefined;
      const options = {
        symbol,
        at,
        onCorrupt: o.onCorrupt as "error" | "skip",
        ...(exchange === undefined ? {} : { exchange }),
        ...(capture === undefined ? {} : { capture }),
      };
      const feedExchange = exchange ?? ds.files[0]?.exchange ?? null;
      for await (const { book, lastUpdate, checkpoint } of ds.books(options)) {
        const top = book.top(depth);
        if (o.json) {
          await writeOut(
            `${toJson(
              {
                exchange: feedExchange,
                symbol,
                at,
                valid: book.valid,
                invalidReason: book.invalidReason,
                lastUpdate,
                checkpoint,
                // As text, as every sequence id this command line prints.
                seq: book.seq === null ? null : String(book.seq),
                bestBid: book.bestBid(),
                bestAsk: book.bestAsk(),
                mid: book.mid(),
                spread: book.spread(),
                bidLevels: book.bidLevels,
                askLevels: book.askLevels,
                ...top,
              },
              2,
            )}\n`,
          );
          continue;
        }
        const lines = [
          `${feedExchange === null ? "" : `${feedExchange} `}${symbol} at ${formatTime(at)}: ${book.valid ? "valid" : `INVALID (${book.invalidReason})`}`,
          `levels: ${book.bidLevels} bids, ${book.askLevels} asks${lastUpdate === null ? "" : `; last update ${formatTime(lastUpdate)}`}${book.seq === null ? "" : `, seq ${book.seq}`}`,
          checkpoint === null
            ? "rebuilt from the start of the range"
            : `rebuilt from the checkpoint of ${formatTime(checkpoint.ts)} (${checkpoint.file}, offset ${checkpoint.offset})`,
          "",
          `${"bid size".padStart(14)}  ${"bid".padStart(14)}  |  ${"ask".padEnd(14)}  ${"ask size".padEnd(14)}`,
        ];
        for (let i = 0; i < Math.max(top.bids.length, top.asks.length); i++) {
          const b = top.bids[i];
          const a = top.asks[i];
          lines.push(
            `${(b ? String(b.size) : "").padStart(14)}  ${(b ? String(b.price) : "").padStart(14)}  |  ${(a ? String(a.price) : "").padEnd(14)}  ${a ? String(a.size) : ""}`,
          );
        }
        const mid = book.mid();
        // Sums and differences of doubles: print them at the prices' own decimals (mid: one more).
        if (mid !== null) {
          const d = Math.max(decimals(book.bestBid()!.price), decimals(book.bestAsk()!.price));
          lines.push("", `mid ${Number(mid.toFixed(d + 1))}, spread ${Number(book.spread()!.toFixed(d))}`);
        }
        await writeOut(`${lines.join("\n")}\n`);
      }
      // What S3 and the cache did, on stderr, as replay and convert say it.
      await reportS3(ds.sources);
      await ds.sources.close();
    });
}

function decimals(x: number): number {
  const text = String(x);
  const dot = text.indexOf(".");
  return dot < 0 || text.includes("e") ? 0 : text.length - dot - 1;
}
