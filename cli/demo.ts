/**
 * `npm run demo`: the life of a day in one run. Starts the Binance and OKX simulators (real WebSocket and REST
 * servers on 127.0.0.1), records them with the recorder for a minute (`DEMO_SECONDS` to change it) into the
 * dataset layout, stops it (everything drained and sealed), shows what `ticktape inspect`, `verify`, `head` and
 * `book` print about the files, then syncs the day to S3 — through local stand-ins for S3 and AWS DataSync —,
 * proves the copy, writes the manifest and replays the day from S3.
 */
import { execFileSync } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { formatTime } from "../src/index.js";
import { Recorder } from "../src/recorder/recorder.js";
import { feedOfSimulator, startSimulator } from "../src/recorder/simulators/index.js";
import { syncDay } from "../src/sync/index.js";
import { setupDataSync } from "../src/sync/setup.js";
import { DataSyncEmulator } from "../test/support/datasync-emulator.js";
import { S3Emulator } from "../test/support/s3-emulator.js";

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
  await syncStep(files);
  say(`Next: npm test, and ticktape --help. The demo data is in ${relative(process.cwd(), root)}/.`);
}

/** The day goes to S3 as the daily CronJob sends it, through local stand-ins for S3 and DataSync. */
async function syncStep(files: string[]): Promise<void> {
  say(
    "7. Starting the local stand-ins for AWS on 127.0.0.1: an S3 emulator (fauxqs) and a DataSync endpoint…",
  );
  const s3 = await S3Emulator.start();
  const fileSystem = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0";
  const datasync = await DataSyncEmulator.start({ efs: { [fileSystem]: root }, s3: s3.client });
  const credentials = { accessKeyId: "demo", secretAccessKey: "demo" };
  // The stand-ins take any credentials; the commands below find these when none are set.
  process.env.AWS_ACCESS_KEY_ID ??= credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= credentials.secretAccessKey;
  // The SDK's notice that its 2027 releases need Node 22 would be printed by every command below.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const s3Args = ["--s3-endpoint", s3.endpoint, "--s3-path-style", "--s3-checksums", "when_required"];
  const dest = "s3://demo-archive/ticks";
  try {
    await s3.createBucket("demo-archive");
    process.stdout.write(
      `   S3 (stand-in):       ${s3.endpoint}\n   DataSync (stand-in): ${datasync.endpoint}\n`,
    );
    say("8. `ticktape sync setup`: the EFS and S3 locations and the DataSync task (made on the stand-in):");
    const setup = await setupDataSync({
      efsFileSystemArn: fileSystem,
      subnetArn: "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-0demo",
      securityGroupArns: ["arn:aws:ec2:us-east-1:111122223333:security-group/sg-0demo"],
      destination: dest,
      bucketAccessRoleArn: "arn:aws:iam::111122223333:role/demo-datasync",
      endpoint: datasync.endpoint,
      credentials,
    });
    process.stdout.write(`   task ${setup.taskArn}\n`);
    const date = files[0]!.split("/").at(-3)!;
    say(
      `9. \`ticktape sync run --date ${date}\`: DataSync copies the day, every copy is proven, the manifest is written last.\n` +
        "   (A real run waits for the UTC day to be over; the demo treats the day it just recorded as finished.)",
    );
    const result = await syncDay({
      root,
      destination: dest,
      date,
      s3: s3.options(),
      datasync: {
        taskArn: setup.taskArn!,
        endpoint: datasync.endpoint,
        credentials,
        pollMs: 50,
        pollMaxMs: 200,
      },
      now: () => Date.parse(`${date}T00:00:00Z`) + 86_400_000,
      log: (line) => process.stdout.write(`   ${line}\n`),
    });
    process.stdout.write(
      `   ${result.status}: ${result.files} files, ${result.bytes.toLocaleString("en-US")} bytes\n`,
    );
    say("10. The copy proven again, without downloading it (stored checksums and the tapes' 71-byte tails):");
    run("sync", "verify", "--root", relative(process.cwd(), root), "--dest", dest, "--date", date, ...s3Args);
    say("11. The day replayed from S3, only as far as its manifest vouches for it:");
    run("head", "--root", dest, "--require-manifest", "--kind", "trade", "-n", "5", ...s3Args);
  } finally {
    await datasync.stop();
    await s3.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
