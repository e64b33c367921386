import type { Command } from "commander";
import { openTape, TapeError, type VerifyReport } from "../src/index.js";
import { formatCount, toJson, writeOut } from "./output.js";
import { progress } from "./progress.js";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description(
      "check every block CRC, the block layout and the file digest; exit 0 only when all files are intact",
    )
    .argument("<files...>", ".tape files")
    .option("--json", "print one JSON array of reports")
    .addHelpText(
      "after",
      "\nExit codes: 0 all intact, 1 a file is damaged or not sealed, 2 a file could not be read at all.\n\nExample:\n  ticktape verify data/2026-11-24/*/*.tape",
    )
    .action(async (files: string[], o: { json?: boolean }) => {
      const reports: (
        | VerifyReport
        | { file: string; ok: false; error: { code: string; message: string; offset: number | null } }
      )[] = [];
      let unreadable = false;
      for (const file of files) {
        let report: (typeof reports)[number];
        try {
          const reader = await openTape(file);
          try {
            const bar = progress(`verify ${file}`);
            try {
              report = await reader.verify({ onProgress: bar.update });
            } finally {
              bar.finish();
            }
          } finally {
            await reader.close();
          }
        } catch (err) {
          if (!(err instanceof TapeError)) throw err;
          unreadable = true;
          report = {
            file,
            ok: false,
            error: { code: err.code, message: err.message, offset: err.offset ?? null },
          };
        }
        reports.push(report);
        if (!o.json) await writeOut(`${describe(report)}\n`);
      }
      if (o.json) await writeOut(`${toJson(reports, 2)}\n`);
      process.exitCode = unreadable ? 2 : reports.every((r) => r.ok) ? 0 : 1;
    });
}

function describe(
  r: VerifyReport | { file: string; ok: false; error: { code: string; message: string } },
): string {
  if ("error" in r) return `FAIL ${r.file}: ${r.error.code}: ${r.error.message}`;
  if (r.ok)
    return `ok   ${r.file}: ${formatCount(r.blocks)} blocks, ${formatCount(r.rows)} records, digest ok`;
  const lines = [
    `FAIL ${r.file}: ${r.sealed ? "sealed" : "not sealed"}, ${formatCount(r.blocks)} readable blocks, digest ${r.digest}; first bad offset ${r.firstBadOffset}`,
  ];
  for (const i of r.issues.slice(0, 20)) lines.push(`     at ${i.offset}: ${i.code}: ${i.message}`);
  if (r.issues.length > 20) lines.push(`     … and ${r.issues.length - 20} more`);
  return lines.join("\n");
}
