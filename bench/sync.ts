/**
 * The sync's figures, against the S3 emulator on 127.0.0.1 (fauxqs; loopback, so they measure our requests and
 * CPU, not a network):
 * - verifying a day of 1,000 files whose source checksums are already kept: files/s and the share of the objects'
 *   bytes read from S3;
 * - `--deep` (every object read in full, every block CRC and the digest checked): MB/s;
 * - a source file's CRC64NVME: MB/s, native (aws-crt) and, as the peer, the JS implementation in the same run.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { encodeTape, type RecordInput } from "../src/index.js";
import { crc64Implementation, createHasher, fileChecksums } from "../src/s3/checksums.js";
import { uploadFile } from "../src/s3/object-ops.js";
import { S3Storage } from "../src/s3/storage.js";
import { listDay, verifyDay } from "../src/sync/index.js";
import { mapConcurrent } from "../src/sync/pool.js";
import { S3Emulator } from "../test/support/s3-emulator.js";

const DATE = "2026-11-24";
const DAY_NS = BigInt(Date.parse(`${DATE}T00:00:00Z`)) * 1_000_000n;
const HOUR_NS = 3_600_000_000_000n;

export interface SyncFigures {
  files: number;
  objectBytes: number;
  verifyFilesPerSec: number;
  verifyBytesRead: number;
  verifyBytesReadRatio: number;
  verifyHeads: number;
  verifyGets: number;
  deepFiles: number;
  deepBytes: number;
  verifyDeepMBps: number;
  sourceChecksumMBps: number;
  sourceChecksumJsMBps: number;
  sourceChecksumImplementation: "native" | "js";
}

/** A sealed hour of one exchange, about `records` × 6 bytes. */
function hourTape(exchange: string, hour: bigint, seed: number, records: number): Uint8Array {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const rows: RecordInput[] = [];
  let price = 60000;
  for (let i = 0; i < records; i++) {
    price += Math.floor(random() * 5) - 2;
    rows.push({
      kind: "trade",
      symbol: "BTC-USDT",
      ts: hour + BigInt(i) * 20_000_000n + BigInt(Math.floor(random() * 1e6)),
      price: `${price}.${Math.floor(random() * 100)}`,
      size: `0.${Math.floor(random() * 1e8)}`,
      side: random() < 0.5 ? "buy" : "sell",
    });
  }
  return encodeTape(rows, { exchange, captureId: "pod-a", periodStart: hour, periodEnd: hour + HOUR_NS });
}

export async function measureSync(log: (m: string) => void, files = 1000): Promise<SyncFigures> {
  const root = await mkdtemp(join(tmpdir(), "ticktape-bench-sync-"));
  const s3 = await S3Emulator.start();
  const storage = await S3Storage.create({ ...s3.options(), concurrency: 32 });
  try {
    // 1,000 hourly files: 42 exchanges × 24 hours (the last one short), made from 8 distinct tapes.
    log(`sync: writing a day of ${files} files and copying it to the S3 emulator`);
    const tapes = Array.from({ length: 8 }, (_, i) => hourTape("x", DAY_NS, i + 1, 150_000));
    for (let i = 0; i < files; i++) {
      const exchange = `venue${String(Math.floor(i / 24)).padStart(2, "0")}`;
      const hour = String(i % 24).padStart(2, "0");
      const path = join(root, DATE, exchange, `${exchange}-${DATE}T${hour}.pod-a.tape`);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, tapes[i % tapes.length]!);
    }
    await s3.createBucket("bench-sync");
    const day = (await listDay(root, DATE)).sealed;
    const dest = "s3://bench-sync/ticks";
    await mapConcurrent(day, 8, (f) =>
      uploadFile(
        storage,
        f.path,
        { bucket: "bench-sync", key: `ticks/${f.relative}` },
        {
          algorithm: "CRC32",
          partBytes: 64 << 20,
        },
      ),
    );
    // The first verify computes and keeps the source checksums (as the sync run does); the second is timed.
    log("sync: verify (source checksums kept by a first pass)");
    await verifyDay({ root, destination: dest, date: DATE, storage });
    const report = await verifyDay({ root, destination: dest, date: DATE, storage });
    if (!report.ok) throw new Error(`bench day did not verify: ${JSON.stringify(report.counts)}`);
    const deepFiles = day.slice(0, Math.min(200, day.length)).map((f) => f.relative);
    log(`sync: verify --deep of ${deepFiles.length} files`);
    const deep = await verifyDay({
      root,
      destination: dest,
      date: DATE,
      storage,
      deep: true,
      only: deepFiles,
    });
    if (!deep.ok) throw new Error("bench day did not verify deeply");

    log("sync: CRC64NVME of a 256 MiB source file, native and JS");
    const big = join(root, "big.bin");
    await writeFile(big, randomBytes(256 << 20));
    await fileChecksums(big, ["CRC64NVME"]); // page cache warm
    let best = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const sum = await fileChecksums(big, ["CRC64NVME"]);
      best = Math.max(best, sum.size / 1e6 / ((performance.now() - t) / 1000));
    }
    const js = createHasher("CRC64NVME", { js: true });
    const chunk = randomBytes(64 << 20);
    const t = performance.now();
    js.update(chunk);
    js.digest();
    const jsMBps = chunk.length / 1e6 / ((performance.now() - t) / 1000);
    return {
      files: report.files.length,
      objectBytes: report.objectBytes,
      verifyFilesPerSec: report.files.length / (report.durationMs / 1000),
      verifyBytesRead: report.s3.bytesFetched,
      verifyBytesReadRatio: report.s3.bytesFetched / report.objectBytes,
      verifyHeads: report.s3.heads,
      verifyGets: report.s3.gets,
      deepFiles: deep.files.length,
      deepBytes: deep.objectBytes,
      verifyDeepMBps: deep.objectBytes / 1e6 / (deep.durationMs / 1000),
      sourceChecksumMBps: best,
      sourceChecksumJsMBps: jsMBps,
      sourceChecksumImplementation: crc64Implementation(),
    };
  } finally {
    storage.close();
    await s3.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export function syncKeys(f: SyncFigures): Record<string, number> {
  return {
    verifyFilesPerSec: f.verifyFilesPerSec,
    verifyBytesReadRatio: f.verifyBytesReadRatio,
    verifyDeepMBps: f.verifyDeepMBps,
    sourceChecksumMBps: f.sourceChecksumMBps,
  };
}

export function syncTargets(f: SyncFigures): [string, boolean, string][] {
  return [
    [
      "verify a day of 1,000 files reads ≤ 1% of the objects' bytes",
      f.verifyBytesReadRatio <= 0.01,
      `${(f.verifyBytesReadRatio * 100).toFixed(4)}%`,
    ],
    ["verify ≥ 200 files/s", f.verifyFilesPerSec >= 200, `${f.verifyFilesPerSec.toFixed(0)} files/s`],
    ["verify --deep ≥ 200 MB/s", f.verifyDeepMBps >= 200, `${f.verifyDeepMBps.toFixed(0)} MB/s`],
    [
      "source checksum (CRC64NVME) ≥ 1 GB/s",
      f.sourceChecksumMBps >= 1000,
      `${f.sourceChecksumMBps.toFixed(0)} MB/s (${f.sourceChecksumImplementation})`,
    ],
  ];
}

export function syncMarkdown(f: SyncFigures | null): string[] {
  const lines = ["## Sync (`ticktape sync verify`)", ""];
  if (f === null) return [...lines, "Not measured (`--no-sync`)."];
  const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
  return [
    ...lines,
    `A day of ${f.files.toLocaleString("en-US")} sealed files (${mb(f.objectBytes)}) copied to the S3 emulator on 127.0.0.1 with CRC32`,
    "checksums (the emulator keeps CRC32, SHA-1 and SHA-256), verified with the source checksums already kept.",
    "",
    "| what | figure |",
    "|---|---:|",
    `| verify: files/s | ${f.verifyFilesPerSec.toFixed(0)} |`,
    `| verify: bytes read from S3 / object bytes | ${(f.verifyBytesReadRatio * 100).toFixed(4)}% (${f.verifyBytesRead.toLocaleString("en-US")} B; ${f.verifyHeads} HEADs, ${f.verifyGets} GETs) |`,
    `| verify --deep (${f.deepFiles} files, ${mb(f.deepBytes)}): MB/s | ${f.verifyDeepMBps.toFixed(0)} |`,
    `| source CRC64NVME, ${f.sourceChecksumImplementation}, 256 MiB file from the page cache: MB/s | ${f.sourceChecksumMBps.toFixed(0)} |`,
    `| source CRC64NVME, JS (slicing by 8) on the same machine: MB/s | ${f.sourceChecksumJsMBps.toFixed(0)} |`,
  ];
}
