/**
 * `ticktape sync run`: one UTC day from EFS to S3, proven. The day must be over and closed (every file sealed);
 * DataSync copies it; verify proves every copy; what is missing or different is copied again and verified again;
 * and only when every file is proven is the manifest written, as the day's last object. A day that already has a
 * manifest matching its files is left alone.
 */
import { TapeError } from "../format/errors.js";
import type { ChecksumAlgorithm } from "../s3/checksums.js";
import { deleteObject, getSmallObject, headObject, putObject } from "../s3/object-ops.js";
import { type S3Options, S3Storage } from "../s3/storage.js";
import { s3Url } from "../s3/url.js";
import { type DataSyncOptions, type DataSyncResult, DataSyncRunner } from "./datasync.js";
import { checkDate, type DayListing, listDay } from "./day-files.js";
import { manifestLocation, parseDestination } from "./destination.js";
import {
  buildManifest,
  describeFile,
  MAX_MANIFEST_BYTES,
  type Manifest,
  type ManifestFile,
  parseManifest,
} from "./manifest.js";
import { type RepairMethod, repairFiles } from "./repair.js";
import { defaultStateDir, KEPT_ALGORITHMS, SourceChecksums } from "./source-checksums.js";
import { type VerifyReport, verifyDay, withRechecked } from "./verify.js";

export interface SyncOptions {
  root: string;
  destination: string;
  date: string;
  s3?: S3Options;
  storage?: S3Storage;
  /** The DataSync task; without it the copy is made (and repaired) by direct uploads. */
  datasync?: DataSyncOptions;
  /** How to copy again what verify finds bad (default: DataSync when configured, else upload). */
  repair?: RepairMethod;
  /** Repair-then-verify rounds before giving up (default 2). */
  repairRounds?: number;
  uploadAlgorithm?: ChecksumAlgorithm;
  partBytes?: number;
  /** How long to wait for `.open` files of the day to be sealed, ms (default 0: report them at once). */
  graceMs?: number;
  deep?: boolean;
  stateDir?: string;
  concurrency?: number;
  /**
   * Run even when the day has a manifest: the old manifest is deleted first (the day has none until it is proven
   * again), then its files are proven and a new manifest written.
   */
  force?: boolean;
  /** Prove and write a manifest for a day with no files (default: a day without files fails the run). */
  allowEmpty?: boolean;
  /** "now", for tests: the day must be over before it is synced. */
  now?: () => number;
  /** Aborting stops the run between steps and files, and cancels a DataSync execution under way (SIGTERM). */
  signal?: AbortSignal;
  log?: (line: string) => void;
  createdBy?: string;
}

export type SyncStatus = "verified" | "already-verified" | "not-closed" | "failed";

export interface SyncResult {
  date: string;
  status: SyncStatus;
  /** Why, for anything but verified. */
  detail: string;
  files: number;
  bytes: number;
  datasync: DataSyncResult | null;
  /** The final verification (after repairs), null when it did not run. */
  verify: VerifyReport | null;
  /** Each repair round: the files copied again and what verify had found wrong with each. */
  repairs: {
    round: number;
    method: RepairMethod;
    files: string[];
    found: { file: string; verdict: string; detail: string }[];
  }[];
  /** `.open` files the day still had (a recorder fault). */
  stragglers: string[];
  manifest: string | null;
  durationMs: number;
}

export async function syncDay(options: SyncOptions): Promise<SyncResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const date = checkDate(options.date);
  const now = options.now?.() ?? Date.now();
  if (Date.parse(`${date}T00:00:00Z`) + 86_400_000 > now) {
    throw new TapeError("E_TAPE_SYNC", `${date} is not over yet (UTC): a day is synced after its end`, {
      field: "date",
    });
  }
  const dest = parseDestination(options.destination);
  const storage = options.storage ?? (await S3Storage.create(options.s3 ?? {}));
  const signal = options.signal;
  const runner = options.datasync
    ? await DataSyncRunner.create({ ...(signal !== undefined ? { signal } : {}), ...options.datasync })
    : null;
  const stopIfAsked = (step: string) => {
    if (signal?.aborted) throw new TapeError("E_TAPE_SYNC", `stopped before ${step}`, { field: "signal" });
  };
  const result: SyncResult = {
    date,
    status: "failed",
    detail: "",
    files: 0,
    bytes: 0,
    datasync: null,
    verify: null,
    repairs: [],
    stragglers: [],
    manifest: null,
    durationMs: 0,
  };
  const done = (status: SyncStatus, detail: string): SyncResult => {
    result.status = status;
    result.detail = detail;
    result.durationMs = performance.now() - started;
    return result;
  };
  try {
    let listing = await listDay(options.root, date);
    const stateDir = options.stateDir ?? defaultStateDir(options.root);
    const manifestLoc = manifestLocation(dest, date);
    const existing = await getSmallObject(storage, manifestLoc, MAX_MANIFEST_BYTES);
    if (existing !== null && options.force) {
      // The copies are about to change: until they are proven again, no manifest may vouch for them.
      await deleteObject(storage, manifestLoc);
      log(
        `${date}: --force: deleted the manifest ${s3Url(manifestLoc)}; the day has none until it is proven`,
      );
    } else if (existing !== null) {
      const manifest = parseManifest(Buffer.from(existing).toString("utf8"), s3Url(manifestLoc), date);
      const differences = await compareWithManifest(manifest, listing, stateDir, date);
      result.files = manifest.files.length;
      result.bytes = manifest.totals.bytes;
      result.manifest = s3Url(manifestLoc);
      if (differences.length === 0) {
        log(`${date}: already verified (manifest of ${manifest.createdAt}); nothing to do`);
        return done("already-verified", "the day's manifest exists and its files match it");
      }
      return done(
        "failed",
        `the day changed after its manifest was written: ${differences.slice(0, 5).join("; ")}` +
          `${differences.length > 5 ? ` (and ${differences.length - 5} more)` : ""}; run with --force to prove it again`,
      );
    }

    // The day must be closed: every file sealed.
    const graceEnd = performance.now() + (options.graceMs ?? 0);
    while (listing.open.length > 0 && performance.now() < graceEnd) {
      log(`${date}: waiting for ${listing.open.length} .open file(s) to be sealed`);
      await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(0, graceEnd - performance.now()))));
      listing = await listDay(options.root, date);
    }
    result.files = listing.sealed.length;
    result.bytes = listing.sealed.reduce((n, f) => n + f.size, 0);
    if (listing.open.length > 0) {
      result.stragglers = listing.open.map((f) => f.relative);
      log(
        `RECORDER FAULT: ${date} is over but ${listing.open.length} file(s) are still .open: ` +
          `${result.stragglers.join(", ")} (a recorder crashed or is stuck; see docs/OPERATIONS.md)`,
      );
      return done("not-closed", `${listing.open.length} file(s) of the finished day are not sealed`);
    }
    if (listing.sealed.length + listing.other.length === 0 && !options.allowEmpty) {
      return done(
        "failed",
        `no files for ${date} under ${options.root}: is the file system mounted and the root right? ` +
          "(a day that truly has none: --allow-empty)",
      );
    }

    stopIfAsked("the copy");
    if (runner !== null) {
      log(`${date}: DataSync execution for /${date} (excluding *.open)`);
      result.datasync = await runner.run({ includes: [`/${date}`], excludes: ["*.open"] });
      log(
        `${date}: DataSync ${result.datasync.executionArn} SUCCESS: ${result.datasync.filesTransferred} files, ` +
          `${result.datasync.bytesTransferred} bytes`,
      );
    }
    const method: RepairMethod = options.repair ?? (runner !== null ? "datasync" : "upload");
    const verifyOptions = {
      root: options.root,
      destination: options.destination,
      date,
      storage,
      stateDir,
      ...(options.deep !== undefined ? { deep: options.deep } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(signal !== undefined ? { signal } : {}),
    };
    let report = await verifyDay(verifyOptions);
    let bad = report.files.filter((f) => f.verdict !== "ok");
    log(`${date}: verified ${report.counts.ok} of ${report.files.length} files`);
    const rounds = options.repairRounds ?? 2;
    for (let round = 1; bad.length > 0 && round <= rounds; round++) {
      stopIfAsked(`repair round ${round}`);
      // Verify lists the day itself: a file sealed since the first listing is repaired too.
      listing = await listDay(options.root, date);
      const files = [...listing.sealed, ...listing.other].filter((f) =>
        bad.some((b) => b.file === f.relative),
      );
      log(`${date}: repair round ${round} by ${method}: ${files.map((f) => f.relative).join(", ")}`);
      result.repairs.push({
        round,
        method,
        files: files.map((f) => f.relative),
        found: bad.map((b) => ({ file: b.file, verdict: b.verdict, detail: b.detail })),
      });
      await repairFiles(files, {
        method,
        storage,
        destination: dest,
        runner,
        ...(options.uploadAlgorithm !== undefined ? { algorithm: options.uploadAlgorithm } : {}),
        ...(options.partBytes !== undefined ? { partBytes: options.partBytes } : {}),
      });
      report = withRechecked(
        report,
        await verifyDay({ ...verifyOptions, only: files.map((f) => f.relative) }),
      );
      bad = report.files.filter((f) => f.verdict !== "ok");
    }
    result.verify = report;
    if (!report.ok) {
      const reasons = [
        ...bad.map((f) => `${f.file}: ${f.verdict}${f.detail ? ` (${f.detail})` : ""}`),
        ...report.extra.map((o) => `s3://${dest.bucket}/${o.key}: in S3 but not on the source`),
      ];
      return done(
        "failed",
        reasons.slice(0, 5).join("; ") + (reasons.length > 5 ? ` (+${reasons.length - 5})` : ""),
      );
    }

    // Every file is proven: the manifest, last, of the files as they are now, which must be those proven.
    stopIfAsked("the manifest");
    const final = await listDay(options.root, date);
    const changed = changesSince(report, final);
    if (changed.length > 0) {
      return done(
        "failed",
        `the day changed while it was synced: ${changed.slice(0, 5).join("; ")}` +
          `${changed.length > 5 ? ` (and ${changed.length - 5} more)` : ""}; run again`,
      );
    }
    const checksums = await SourceChecksums.load(stateDir, date);
    const entries: ManifestFile[] = [];
    for (const f of final.sealed) {
      const sums: ManifestFile["checksums"] = {};
      for (const a of KEPT_ALGORITHMS) sums[a] = await checksums.get(f, a);
      entries.push(await describeFile(f, sums));
    }
    await checksums.save();
    const methods: Record<string, number> = {};
    for (const f of report.files) if (f.method !== null) methods[f.method] = (methods[f.method] ?? 0) + 1;
    const manifest = buildManifest(
      {
        date,
        source: options.root,
        destination: options.destination,
        createdBy: options.createdBy ?? "ticktape",
        verification: { deep: options.deep === true, methods },
      },
      entries,
    );
    await putObject(storage, manifestLoc, Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`), {
      contentType: "application/json",
    });
    if ((await headObject(storage, manifestLoc)) === null) {
      throw new TapeError("E_TAPE_SYNC", "the manifest was written but cannot be found", {
        file: s3Url(manifestLoc),
      });
    }
    result.manifest = s3Url(manifestLoc);
    log(`${date}: manifest written: ${result.manifest} (${entries.length} files)`);
    return done("verified", "");
  } finally {
    runner?.close();
    if (options.storage === undefined) storage.close();
  }
}

/** How the day's files now differ from those verify proved (added, gone, resized, or still being written). */
function changesSince(report: VerifyReport, now: DayListing): string[] {
  const proven = new Map(report.files.map((f) => [f.file, f.size]));
  const changes: string[] = [];
  for (const f of [...now.sealed, ...now.other]) {
    const size = proven.get(f.relative);
    proven.delete(f.relative);
    if (size === undefined) changes.push(`${f.relative} appeared`);
    else if (size !== f.size) changes.push(`${f.relative} has ${f.size} bytes, ${size} when verified`);
  }
  for (const f of now.open) changes.push(`${f.relative} is being written`);
  for (const file of proven.keys()) changes.push(`${file} is gone`);
  return changes;
}

/**
 * How the day's files differ from its manifest: files added, gone, resized, or whose kept CRC64NVME differs
 * (computed now when not kept). Empty when they match.
 */
export async function compareWithManifest(
  manifest: Manifest,
  listing: DayListing,
  stateDir: string,
  date: string,
): Promise<string[]> {
  const differences: string[] = [];
  const byPath = new Map(manifest.files.map((f) => [f.path, f]));
  const checksums = await SourceChecksums.load(stateDir, date);
  for (const f of listing.sealed) {
    const m = byPath.get(f.relative);
    byPath.delete(f.relative);
    if (m === undefined) differences.push(`${f.relative} is not in the manifest`);
    else if (m.size !== f.size) differences.push(`${f.relative} has ${f.size} bytes, the manifest ${m.size}`);
    else if (
      m.checksums.CRC64NVME !== undefined &&
      (await checksums.get(f, "CRC64NVME")) !== m.checksums.CRC64NVME
    )
      differences.push(`${f.relative}: CRC64NVME differs from the manifest's`);
  }
  for (const f of listing.open) differences.push(`${f.relative} is not sealed`);
  for (const path of byPath.keys()) differences.push(`${path} is in the manifest but not on the source`);
  await checksums.save();
  return differences;
}
