import type { Command } from "commander";
import { addDatasetOptions } from "./dataset-options.js";
import { type ReplayCliOptions, runReplay } from "./replay.js";

export function registerHead(program: Command): void {
  addDatasetOptions(
    program
      .command("head")
      .description("the first records of files or a dataset, in replay order (default 10)")
      .argument("[paths...]", ".tape files (or use --root)"),
  )
    .option("-n, --limit <n>", "how many records", "10")
    .option("--json", "NDJSON even on a terminal")
    .option("--table", "an aligned table even when the output is not a terminal")
    .addHelpText(
      "after",
      "\nExamples:\n  ticktape head data/2026-11-24/okx/okx-2026-11-24T14.host-a.tape\n  ticktape head --root /efs/ticks --from 2026-11-24T14:37 --to +1m --symbol BTC-USDT -n 50",
    )
    .action((paths: string[], o: ReplayCliOptions) => runReplay(paths, o, 10));
}
