import { type Command, Option } from "commander";
import { type IngestSummary, ingest, isVenueId, VENUE_IDS } from "../src/recorder/index.js";
import { formatBytes, formatCount, table, toJson, writeOut } from "./output.js";
import { progress } from "./progress.js";

export function registerIngest(program: Command): void {
  program
    .command("ingest")
    .description(
      "run recorded messages (capture files, or tapes with raw records) through a venue's connector and write .tape files",
    )
    .argument("<inputs...>", "capture files (JSON Lines, docs/CAPTURE.md) or .tape files holding raw records")
    .addOption(
      new Option("--venue <id>", "venue the messages come from").choices(VENUE_IDS).makeOptionMandatory(),
    )
    .requiredOption(
      "--out <dir>",
      "dataset root to write under (<date>/<venue>/<venue>-<date>T<HH>.<capture>.tape)",
    )
    .option("--capture-id <id>", "capture id in the file names", "ingest")
    .option("--no-raw", "do not keep the messages as raw records in the output")
    .option("--json", "print the summary as JSON")
    .addHelpText(
      "after",
      `\nVenues: ${VENUE_IDS.join(", ")}.\n\nExamples:\n  ticktape ingest --venue okx session.jsonl --out ./data\n  ticktape ingest --venue binance-usdm fixtures/real/binance-usdm-20210722.jsonl --out ./data\n  ticktape ingest --venue binance ./old/2026-11-24/binance/*.tape --out ./renormalised --capture-id fix1 --json`,
    )
    .action(
      async (
        inputs: string[],
        o: { venue: string; out: string; captureId: string; raw: boolean; json?: boolean },
      ) => {
        if (!isVenueId(o.venue)) throw new Error(`unknown venue ${o.venue}`);
        const bar = progress("ingest", process.stderr, (done, total) => `input ${done} of ${total}`);
        let summary: IngestSummary;
        try {
          summary = await ingest({
            venue: o.venue,
            inputs,
            out: o.out,
            captureId: o.captureId,
            raw: o.raw,
            progressEvery: 20_000,
            onProgress: (_stats, input) => bar.update(inputs.indexOf(input), inputs.length),
            onBadFrame: (err, _text, where) =>
              process.stderr.write(`bad frame at ${where}: ${err.message}\n`),
            onRejected: (rec, err) =>
              process.stderr.write(
                `a ${rec.kind} record not written (refused by the format): ${err.message}\n`,
              ),
          });
        } finally {
          bar.finish();
        }
        await writeOut(o.json ? `${toJson(summary, 2)}\n` : describe(summary));
      },
    );
}

function describe(s: IngestSummary): string {
  const counts = [
    ["frames", s.frames],
    ["REST responses", s.restResponses],
    ["trades", s.records.trade],
    ["book rows", s.records.book],
    ["bbo", s.records.bbo],
    ["events", s.records.event],
    ["raw", s.records.raw],
    ["gaps", s.gaps],
    ["checksums checked", s.checksumsChecked],
    ["checksum failures", s.checksumFailures],
    ["resyncs", s.resyncs],
    ["duplicates dropped", s.duplicates],
    ["crossed books", s.crossed],
    ["bad frames", s.badFrames],
    ["records refused", s.rejected],
    ["ignored frames", s.ignoredFrames],
  ] as const;
  const lines = [
    table(
      ["", s.venue],
      counts.map(([k, v]) => [k, formatCount(v)]),
    ),
  ];
  for (const f of s.files)
    lines.push(`wrote ${f.path}: ${formatCount(f.rows)} records, ${formatBytes(f.bytes)}`);
  return `${lines.join("\n")}\n`;
}
