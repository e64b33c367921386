import type { Command } from "commander";
import { openTape, recordToJson } from "../src/index.js";
import { addFilterOptions, type FilterOptions, toFilter } from "./filters.js";
import { toJson, writeOut } from "./output.js";

export function registerCat(program: Command): void {
  addFilterOptions(
    program
      .command("cat")
      .description(
        "print records as NDJSON (exact: timestamps and ids as strings, decimals as canonical strings)",
      )
      .argument("<file>", "a .tape or .tape.open file"),
  )
    .option("-n, --limit <n>", "stop after n records", (v) => Number.parseInt(v, 10))
    .addHelpText(
      "after",
      "\nRecords come block by block in file order (per symbol and kind, in append order).\n\nExamples:\n  ticktape cat file.tape --symbol BTC-USDT --kind trade --from 2026-11-24T14:37 --to 2026-11-24T14:38\n  ticktape cat file.tape.open -n 10",
    )
    .action(async (file: string, o: FilterOptions & { limit?: number }) => {
      const filter = toFilter(o);
      const reader = await openTape(file);
      try {
        let n = 0;
        let chunk = "";
        for await (const rec of reader.records(filter)) {
          if (o.limit !== undefined && n >= o.limit) break;
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
