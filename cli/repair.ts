import type { Command } from "commander";
import { repairTape } from "../src/index.js";
import { formatBytes, formatCount, toJson, writeOut } from "./output.js";
import { progress } from "./progress.js";

export function registerRepair(program: Command): void {
  program
    .command("repair")
    .description(
      "seal what is valid in an unsealed (.tape.open) or damaged file: every whole block whose CRC holds",
    )
    .argument("<file>", "the file to repair")
    .option(
      "-o, --output <path>",
      "where to write the sealed file (default: X.tape for X.tape.open, X.repaired.tape for a damaged X.tape)",
    )
    .option(
      "--keep",
      "keep the source file (by default it is removed once the sealed copy is safely on disk)",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  ticktape repair data/2026-11-24/okx/okx-2026-11-24T14.host-a.tape.open",
    )
    .action(async (file: string, o: { output?: string; keep?: boolean; json?: boolean }) => {
      const bar = progress(`check ${file}`);
      const result = await repairTape(file, {
        ...(o.output === undefined ? {} : { output: o.output }),
        keepSource: o.keep === true,
        onProgress: bar.update,
      }).finally(() => bar.finish());
      if (o.json) await writeOut(`${toJson(result, 2)}\n`);
      else if (result.output === null) await writeOut(`${file}: already sealed and intact, nothing to do\n`);
      else {
        // Damaged blocks may lie anywhere, before kept ones; without any, what was dropped is the torn tail.
        const dropped =
          result.droppedBlocks === 0
            ? `${formatBytes(result.droppedBytes)} after the last whole block dropped`
            : `${formatBytes(result.droppedBytes)} dropped, ${formatCount(result.droppedBlocks)} damaged ${result.droppedBlocks === 1 ? "block" : "blocks"} among them`;
        await writeOut(
          `${file} → ${result.output}: ${formatCount(result.blocks)} blocks, ${formatCount(result.rows)} records kept; ` +
            `${dropped}${result.stop ? ` (${result.stop})` : ""}\n`,
        );
      }
    });
}
