#!/usr/bin/env node
/** The `ticktape` command: thin commands over the library. */
import { createRequire } from "node:module";
import { Command } from "commander";
import { registerCat } from "./cat.js";
import { registerInspect } from "./inspect.js";
import { reportError } from "./output.js";
import { registerRepair } from "./repair.js";
import { registerVerify } from "./verify.js";

const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

const program = new Command()
  .name("ticktape")
  .description("capture crypto market data and keep it forever: the .tape format, replay and tools")
  .version(version)
  .addHelpText(
    "after",
    "\nExamples:\n  ticktape inspect file.tape\n  ticktape cat file.tape --symbol BTC-USDT --kind trade | head\n  ticktape verify data/2026-11-24/*/*.tape",
  )
  .showHelpAfterError();

registerInspect(program);
registerCat(program);
registerVerify(program);
registerRepair(program);

process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

program.parseAsync(process.argv).catch(reportError);
