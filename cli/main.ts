#!/usr/bin/env node
/** The `ticktape` command: thin commands over the library. */
import { createRequire } from "node:module";
import { Command } from "commander";
import { registerBook } from "./book.js";
import { registerCat } from "./cat.js";
import { registerConvert } from "./convert.js";
import { registerHead } from "./head.js";
import { registerIngest } from "./ingest.js";
import { registerInspect } from "./inspect.js";
import { reportError } from "./output.js";
import { registerRecord } from "./record.js";
import { registerRepair } from "./repair.js";
import { registerReplay } from "./replay.js";
import { registerSimulate } from "./simulate.js";
import { registerSync } from "./sync.js";
import { registerVerify } from "./verify.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

const program = new Command()
  .name("ticktape")
  .description("capture crypto market data and keep it forever: the .tape format, replay and tools")
  .version(version)
  .addHelpText(
    "after",
    "\nExamples:\n  ticktape inspect file.tape\n  ticktape cat file.tape --symbol BTC-USDT --kind trade | head\n  ticktape replay --root /efs/ticks --from 2026-11-24T14:00 --to +10m --symbol BTC-USDT\n  ticktape book --root /efs/ticks --exchange okx --symbol BTC-USDT --at 2026-11-24T14:37:05\n  ticktape convert data/2026-11-24/okx/*.tape --to parquet --out ./parquet\n  ticktape verify data/2026-11-24/*/*.tape\n  ticktape ingest --venue okx session.jsonl --out ./data\n  ticktape sync run --root /efs/ticks --dest s3://ticks-archive/v1 --task arn:aws:datasync:…:task/task-0abc",
  )
  .showHelpAfterError();

registerInspect(program);
registerCat(program);
registerHead(program);
registerReplay(program);
registerBook(program);
registerConvert(program);
registerVerify(program);
registerRepair(program);
registerIngest(program);
registerRecord(program);
registerSimulate(program);
registerSync(program);

process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

program.parseAsync(process.argv).catch(reportError);
