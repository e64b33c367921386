/**
 * The S3 side of the replay benchmark, against the S3 emulator on 127.0.0.1 (fauxqs; loopback, so it measures our
 * requests and CPU, not a network):
 * - a random minute of a 1-hour object, every symbol and kind: GETs and bytes fetched, against the object's size;
 * - the merged replay from S3, cold (fetching) and with a warm block cache, against the same replay from the local
 *   files, measured back to back in the same run.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { datasetOfFiles, openDataset, Sources } from "../src/index.js";
import { S3Emulator } from "../test/support/s3-emulator.js";

const MINUTE = 60_000_000_000n;
const BUCKET = "bench";

export interface S3Figures {
  /** Mean GETs (and bytes) of reading one random minute of the 1-hour object, opening included. */
  s3SeekGets: number;
  s3SeekBytes: number;
  s3SeekObjectBytes: number;
  s3SeekBytesRatio: number;
  s3SeekMinutes: number;
  rows: number;
  localRowsPerSec: number;
  coldRowsPerSec: number;
  coldGets: number;
  coldBytes: number;
  warmRowsPerSec: number;
  warmGets: number;
  warmHeads: number;
  s3WarmVsLocal: number;
}

export interface S3Inputs {
  mergedRoot: string;
  mergedPaths: string[];
  seekRoot: string;
  seekPath: string;
  /** The starts of the minutes to read from the 1-hour object. */
  minutes: bigint[];
}

async function countRows(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

export async function measureS3(input: S3Inputs, log: (m: string) => void): Promise<S3Figures> {
  log("s3: starting the S3 emulator (fauxqs on 127.0.0.1) and uploading the replay files");
  const emulator = await S3Emulator.start();
  const cacheDir = await mkdtemp(join(tmpdir(), "ticktape-bench-cache-"));
  try {
    await emulator.createBucket(BUCKET);
    await emulator.upload(BUCKET, "merged/", input.mergedRoot, input.mergedPaths);
    const [seekKey] = await emulator.upload(BUCKET, "seek/", input.seekRoot, [input.seekPath]);
    const s3 = emulator.options();

    const n = input.minutes.length;
    log(`s3: ${n} random minutes of the 1-hour object`);
    let gets = 0;
    let bytes = 0;
    const objectBytes = (await stat(input.seekPath)).size;
    for (const from of input.minutes) {
      // A fresh client per minute: every seek pays for opening the object.
      const ds = datasetOfFiles([`s3://${BUCKET}/${seekKey}`], { from, to: from + MINUTE, s3 });
      await countRows(ds.replayChunks());
      const stats = (await ds.sources.s3Stats())!;
      gets += stats.gets;
      bytes += stats.bytesFetched;
      await ds.sources.close();
    }

    log("s3: merged replay from local files, from S3 cold, from S3 with a warm cache");
    const local = await openDataset(input.mergedRoot);
    const localRun = await timed(() => countRows(local.replay()));
    const cache = { dir: cacheDir, maxBytes: 4 * 1024 ** 3 };
    const coldSources = new Sources(s3, cache);
    const cold = await openDataset(`s3://${BUCKET}/merged`, { sources: coldSources });
    const coldRun = await timed(() => countRows(cold.replay()));
    const coldStats = (await coldSources.s3Stats())!;
    await coldSources.close();
    // Warm: the cache filled by the cold run; best of two, as the local figure is measured once more too.
    let warmSeconds = Number.POSITIVE_INFINITY;
    let warmGets = 0;
    let warmHeads = 0;
    let localSeconds = localRun.seconds;
    for (let pass = 0; pass < 2; pass++) {
      const sources = new Sources(s3, cache);
      const warm = await openDataset(`s3://${BUCKET}/merged`, { sources });
      const run = await timed(() => countRows(warm.replay()));
      const stats = (await sources.s3Stats())!;
      warmGets = stats.gets;
      warmHeads = stats.heads;
      await sources.close();
      if (run.value !== localRun.value)
        throw new Error(`S3 replay gave ${run.value} rows, local ${localRun.value}`);
      warmSeconds = Math.min(warmSeconds, run.seconds);
      localSeconds = Math.min(localSeconds, (await timed(() => countRows(local.replay()))).seconds);
    }
    if (coldRun.value !== localRun.value)
      throw new Error(`S3 replay gave ${coldRun.value} rows, local ${localRun.value}`);
    const rows = localRun.value;
    return {
      s3SeekGets: gets / n,
      s3SeekBytes: bytes / n,
      s3SeekObjectBytes: objectBytes,
      s3SeekBytesRatio: bytes / n / objectBytes,
      s3SeekMinutes: n,
      rows,
      localRowsPerSec: rows / localSeconds,
      coldRowsPerSec: rows / coldRun.seconds,
      coldGets: coldStats.gets,
      coldBytes: coldStats.bytesFetched,
      warmRowsPerSec: rows / warmSeconds,
      warmGets,
      warmHeads,
      s3WarmVsLocal: localSeconds / warmSeconds,
    };
  } finally {
    await emulator.stop();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

async function timed<T>(f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

const rate = (r: number) => `${(r / 1e6).toFixed(1)}M/s`;

export function s3Keys(f: S3Figures): Record<string, number> {
  return { s3SeekBytesRatio: f.s3SeekBytesRatio, s3SeekGets: f.s3SeekGets, s3WarmVsLocal: f.s3WarmVsLocal };
}

export function s3Targets(f: S3Figures): [string, boolean, string][] {
  return [
    [
      "a minute of a 1-hour object from S3 ≤ 5% of its bytes",
      f.s3SeekBytesRatio <= 0.05,
      `${(100 * f.s3SeekBytesRatio).toFixed(1)}%`,
    ],
    ["a minute of a 1-hour object from S3 in ≤ 3 GETs", f.s3SeekGets <= 3, f.s3SeekGets.toFixed(2)],
    [
      "merged replay from S3, warm cache, ≥ 0.8x the local replay",
      f.s3WarmVsLocal >= 0.8,
      `${f.s3WarmVsLocal.toFixed(2)}x`,
    ],
  ];
}

export function s3Markdown(f: S3Figures): string[] {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  return [
    "",
    "From S3 (the fauxqs emulator on 127.0.0.1: no network latency, so these are our requests and CPU):",
    "",
    `- A random minute of the 1-hour object (${mib(f.s3SeekObjectBytes)}), every symbol and kind, opening included, ${f.s3SeekMinutes} minutes:`,
    `  ${f.s3SeekGets.toFixed(2)} GETs and ${(f.s3SeekBytes / 1024).toFixed(0)} KiB fetched on average (${(100 * f.s3SeekBytesRatio).toFixed(1)}% of the object).`,
    `- The merged replay (${f.rows.toLocaleString("en-US")} records, row objects): local files ${rate(f.localRowsPerSec)};`,
    `  from S3 cold ${rate(f.coldRowsPerSec)} (${f.coldGets} GETs, ${mib(f.coldBytes)}); with a warm cache ${rate(f.warmRowsPerSec)}`,
    `  (${f.warmGets} GETs, ${f.warmHeads} HEADs): ${f.s3WarmVsLocal.toFixed(2)}x the local replay.`,
  ];
}
