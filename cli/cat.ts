import type { Command } from "commander";
import { type BlockHeader, openTape, recordToJson, recoveryLoss, type TapeError } from "../src/index.js";
import { addFilterOptions, type FilterOptions, toFilter } from "./filters.js";
import { toJson, writeOut } from "./output.js";
import { positive, usage } from "./usage.js";

export function registerCat(program: Command): void {
  addFilterOptions(
    program
      .command("cat")
      .description(
        "print records as NDJSON (exact: timestamps and ids as strings, decimals as canonical strings)",
      )
      .argument("<file>", "a .tape or .tape.open file"),
  )
    .option("-n, --limit <n>", "stop after n records")
    .option(
      "--on-corrupt <mode>",
      "error (default): stop at a damaged block, a torn tail or a missing footer; skip: print what is intact, and each loss on stderr",
      "error",
    )
    .addHelpText(
      "after",
      "\nRecords come block by block in file order (per symbol and kind, in append order).\n\nExamples:\n  ticktape cat file.tape --symbol BTC-USDT --kind trade --from 2026-11-24T14:37 --to 2026-11-24T14:38\n  ticktape cat file.tape.open -n 10 --on-corrupt skip   # a file being written may end in a torn block",
    )
    .action(async (file: string, o: FilterOptions & { limit?: string; onCorrupt: string }) => {
      const filter = toFilter(o);
      const limit = positive(o.limit, "--limit", true);
      if (o.onCorrupt !== "error" && o.onCorrupt !== "skip") throw usage("--on-corrupt is error or skip");
      const reader = await openTape(file);
      try {
        // A file read by the recovery scan may have lost its tail: said, never passed over in silence.
        const loss = recoveryLoss(reader.recovery, file, file.endsWith(".open"));
        if (loss !== null) {
          if (o.onCorrupt === "error") throw loss;
          process.stderr.write(`ticktape: ${loss.code}: ${loss.message}\n`);
        }
        let n = 0;
        let chunk = "";
        // With skip, a damaged block is said on stderr and passed over, as a replay reports it.
        const onDamaged =
          o.onCorrupt === "skip"
            ? (err: TapeError, b: BlockHeader) =>
                process.stderr.write(
                  `ticktape: ${err.code}: ${err.message} (lost: ${b.rowCount} ${b.kind ?? "?"} rows of ${JSON.stringify(b.symbol)})\n`,
                )
            : undefined;
        for await (const rec of reader.records(filter, onDamaged)) {
          if (limit !== undefined && n >= limit) break;
          chunk += `${toJson(recordToJson(rec))}\n`;
          n++;
          if (chunk.length > 1 << 16) {
            await writeOut(chunk);
            chunk = "";
          }
        }
        await writeOut(chunk);
      } finally {
        await reader.close();
      }
    });
}
