import type { Command } from "commander";
import { CHECKPOINT_KIND_ID, CODECS, formatTime, openTape, summarize } from "../src/index.js";
import { formatBytes, formatCount, table, toJson, writeOut } from "./output.js";

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("show a tape's header, symbols, kinds, blocks, time range and sizes (reads only the index)")
    .argument("<file>", "a .tape or .tape.open file")
    .option("--blocks", "also list every block")
    .option("--json", "print one JSON object")
    .addHelpText(
      "after",
      "\nExamples:\n  ticktape inspect data/2026-11-24/binance/binance-2026-11-24T14.host-a.tape\n  ticktape inspect --json file.tape | jq .kinds",
    )
    .action(async (file: string, o: { blocks?: boolean; json?: boolean }) => {
      const reader = await openTape(file);
      try {
        const s = summarize(reader);
        const blocks = reader.blocks.map((b) => ({
          offset: b.offset,
          length: b.length,
          symbol: b.symbol,
          kind: b.kind ?? (b.kindId === CHECKPOINT_KIND_ID ? "checkpoint" : `unknown(${b.kindId})`),
          codec: CODECS[b.codecId] ?? `codec ${b.codecId}`,
          rows: b.rowCount,
          rawBytes: b.rawLength,
          minTs: b.minTs,
          maxTs: b.maxTs,
        }));
        if (o.json) {
          await writeOut(`${toJson(o.blocks ? { ...s, blockList: blocks } : s, 2)}\n`);
          return;
        }
        const lines: string[] = [];
        lines.push(`file      ${s.file}`);
        lines.push(
          `size      ${formatBytes(s.bytes)} (${formatCount(s.bytes)} bytes, ${formatCount(s.overheadBytes)} outside blocks)`,
        );
        lines.push(
          `format    tape ${s.version}, ${s.sealed ? "sealed" : "NOT SEALED (read by forward scan)"}`,
        );
        if (s.recovery !== null) {
          lines.push(`recovery  ${s.recovery.reason}`);
          lines.push(
            `          valid up to offset ${s.recovery.validEnd}; ${formatCount(s.recovery.droppedBytes)} bytes after it hold no valid block`,
          );
        }
        lines.push(`exchange  ${s.exchange || "-"}    capture ${s.captureId || "-"}`);
        if (s.periodStart !== 0n || s.periodEnd !== 0n)
          lines.push(`period    ${formatTime(s.periodStart)} → ${formatTime(s.periodEnd)}`);
        for (const [k, v] of Object.entries(s.meta)) lines.push(`meta      ${k} = ${v}`);
        lines.push(
          `records   ${formatCount(s.rows)} in ${formatCount(s.blocks)} blocks; codecs ${
            Object.entries(s.codecs)
              .map(([c, n]) => `${c} ×${n}`)
              .join(", ") || "-"
          }`,
        );
        if (s.checkpoints.blocks > 0)
          lines.push(
            `books     ${formatCount(s.checkpoints.blocks)} checkpoint blocks, ${formatBytes(s.checkpoints.storedBytes)}`,
          );
        if (s.minTs !== null && s.maxTs !== null)
          lines.push(`time      ${formatTime(s.minTs)} → ${formatTime(s.maxTs)}`);
        lines.push("");
        lines.push(
          table(
            ["kind", "records", "blocks", "stored", "raw", "bytes/record"],
            s.kinds.map((k) => [
              k.kind,
              formatCount(k.rows),
              formatCount(k.blocks),
              formatBytes(k.storedBytes),
              formatBytes(k.rawBytes),
              k.bytesPerRecord.toFixed(2),
            ]),
          ),
        );
        lines.push("");
        lines.push(
          table(
            ["symbol", "records", "by kind", "stored", "from", "to"],
            s.symbols.map((y) => [
              y.symbol || '""',
              formatCount(y.rows),
              Object.entries(y.rowsByKind)
                .map(([k, n]) => `${k} ${formatCount(n)}`)
                .join(", "),
              formatBytes(y.storedBytes),
              formatTime(y.minTs),
              formatTime(y.maxTs),
            ]),
          ),
        );
        if (o.blocks) {
          lines.push("");
          lines.push(
            table(
              ["offset", "length", "symbol", "kind", "codec", "rows", "raw", "from", "to"],
              blocks.map((b) => [
                String(b.offset),
                String(b.length),
                b.symbol,
                b.kind,
                b.codec,
                String(b.rows),
                String(b.rawBytes),
                formatTime(b.minTs),
                formatTime(b.maxTs),
              ]),
            ),
          );
        }
        await writeOut(`${lines.join("\n")}\n`);
      } finally {
        await reader.close();
      }
    });
}
