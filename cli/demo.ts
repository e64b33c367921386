/**
 * `npm run demo`: the life of the data in one run. Starts the Binance and OKX simulators (real WebSocket and REST
 * servers on 127.0.0.1), records them with the recorder for a minute (`DEMO_SECONDS` to change it) into the
 * dataset layout, stops it (everything drained and sealed), then shows what `ticktape inspect`, `verify`,
 * `replay` and `book` print about the files.
 */
import { execFileSync } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { formatTime } from "../src/index.js";
import { Recorder } from "../src/recorder/recorder.js";
import { feedOfSimulator, startSimulator } from "../src/recorder/simulators/index.js";

const cli = join(dirname(fileURLToPath(import.meta.url)), "main.js");
const root = join(process.cwd(), "demo-data");
const seconds = Number(process.env.DEMO_SECONDS ?? 60);

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function run(...args: string[]): void {
  process.stdout.write(`\n$ ticktape ${args.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")}\n`);
  process.stdout.write(execFileSync(process.execPath, [cli, ...args], { encoding: "utf8" }));
}

async function main(): Promise<void> {
  await rm(root, { recursive: true, force: true });
  say("1. Starting the Binance and OKX simulators on 127.0.0.1…");
  const binance = await startSimulator("binance", { symbols: ["BTCUSDT", "ETHUSDT"], rate: 20, seed: 7 });
  const okx = await startSimulator("okx", { symbols: ["BTC-USDT", "ETH-USDT"], rate: 20, seed: 7 });
  process.stdout.write(`   binance: ${binance.wsUrl}\n   okx:     ${okx.wsUrl}\n`);

  say(
    `2. Recording both for ${seconds} s into ${relative(process.cwd(), root)}/ (trades, L2 books, BBO, raw frames)…`,
  );
  const feeds = [binance, okx].map((s) => feedOfSimulator(s, 30_000));
  const recorder = await Recorder.start({ root, captureId: "demo-host", feeds });
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    await new Promise((r) => setTimeout(r, Math.min(10_000, seconds * 1000 - (Date.now() - started))));
    const line = recorder.feeds
      .map((f) => {
        const s = f.feed.stats;
        return `${f.venue}: ${s.frames.toLocaleString("en-US")} messages, ${s.records.book.toLocaleString("en-US")} book rows, ${s.records.trade} trades, gaps ${s.gaps}, checksums ${s.checksumsChecked} checked / ${s.checksumFailures} failed`;
      })
      .join("; ");
    process.stdout.write(`   ${((Date.now() - started) / 1000).toFixed(0)} s: ${line}\n`);
  }
  await recorder.stop();
  await binance.close();
  await okx.close();

  const files: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith(".tape"))
      files.push(relative(process.cwd(), join(e.parentPath, e.name)));
  }
  files.sort();
  say(`3. Stopped: everything drained and sealed. What \`ticktape inspect\` shows about ${files[0]}:`);
  run("inspect", files[0]!);
  say("4. Every CRC and the file digest of every file, checked:");
  run("verify", ...files);
  say("5. The first trades of the dataset, both venues merged in time order:");
  run("head", "--root", relative(process.cwd(), root), "--kind", "trade", "-n", "8");
  say("6. OKX's BTC-USDT book near the end of the recording, rebuilt from the files:");
  const at = formatTime(BigInt(Date.now() - 2000) * 1_000_000n);
  run(
    "book",
    "--root",
    relative(process.cwd(), root),
    "--exchange",
    "okx",
    "--symbol",
    "BTC-USDT",
    "--at",
    at,
    "--depth",
    "5",
  );
  say(`Next: npm test, and ticktape --help. The demo data is in ${relative(process.cwd(), root)}/.`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
