/**
 * `ticktape prune --keep-days N`: deletes from EFS the days older than N days whose copy is proven — the day has
 * a manifest in S3, the files on EFS are exactly those of the manifest (same sizes and CRC64NVME), and every S3
 * object still matches its source (verify's checks). Anything else is kept and reported with the reason.
 */
import { readdir, rm, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { TapeError } from "../format/errors.js";
import { getSmallObject } from "../s3/object-ops.js";
import { type S3Options, S3Storage } from "../s3/storage.js";
import { s3Url } from "../s3/url.js";
import { listDay } from "./day-files.js";
import { manifestLocation, parseDestination } from "./destination.js";
import { MAX_MANIFEST_BYTES, parseManifest } from "./manifest.js";
import { defaultStateDir } from "./source-checksums.js";
import { compareWithManifest } from "./sync-day.js";
import { verifyDay } from "./verify.js";

export interface PruneOptions {
  root: string;
  destination: string;
  /** Days kept on EFS, counting today (UTC): with 7, today and the 6 days before are kept. */
  keepDays: number;
  s3?: S3Options;
  storage?: S3Storage;
  stateDir?: string;
  /** Say what would be deleted, delete nothing. */
  dryRun?: boolean;
  now?: () => number;
  log?: (line: string) => void;
}

export interface PruneDay {
  date: string;
  action: "deleted" | "would-delete" | "kept";
  /** Why a day was kept. */
  reason: string;
  files: number;
  bytes: number;
}

export async function prune(options: PruneOptions): Promise<PruneDay[]> {
  if (!Number.isInteger(options.keepDays) || options.keepDays < 1) {
    throw new TapeError("E_TAPE_VALUE", "keep-days must be a whole number ≥ 1", { field: "keepDays" });
  }
  const log = options.log ?? (() => {});
  const today = new Date(options.now?.() ?? Date.now()).toISOString().slice(0, 10);
  const oldestKept = new Date(Date.parse(`${today}T00:00:00Z`) - (options.keepDays - 1) * 86_400_000)
    .toISOString()
    .slice(0, 10);
  const days = (await readdir(options.root).catch(() => [] as string[]))
    .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && d < oldestKept)
    .sort();
  const dest = parseDestination(options.destination);
  const storage = options.storage ?? (await S3Storage.create(options.s3 ?? {}));
  const stateDir = options.stateDir ?? defaultStateDir(options.root);
  const out: PruneDay[] = [];
  try {
    for (const date of days) {
      const listing = await listDay(options.root, date);
      const files = listing.sealed.length;
      const bytes = listing.sealed.reduce((n, f) => n + f.size, 0);
      const keep = (reason: string) => {
        out.push({ date, action: "kept", reason, files, bytes });
        log(`${date}: kept: ${reason}`);
      };
      const loc = manifestLocation(dest, date);
      const text = await getSmallObject(storage, loc, MAX_MANIFEST_BYTES);
      if (text === null) {
        keep(`no manifest at ${s3Url(loc)} (the day was never verified)`);
        continue;
      }
      let differences: string[];
      try {
        const manifest = parseManifest(Buffer.from(text).toString("utf8"), s3Url(loc), date);
        differences = await compareWithManifest(manifest, listing, stateDir, date);
      } catch (err) {
        keep((err as Error).message);
        continue;
      }
      if (listing.other.length > 0)
        differences.push(`not tape files: ${listing.other.map((f) => f.relative).join(", ")}`);
      if (differences.length > 0) {
        keep(`files differ from the manifest: ${differences.slice(0, 3).join("; ")}`);
        continue;
      }
      const report = await verifyDay({
        root: options.root,
        destination: options.destination,
        date,
        storage,
        stateDir,
      });
      if (!report.ok) {
        const bad = report.files.filter((f) => f.verdict !== "ok").map((f) => `${f.file}: ${f.verdict}`);
        keep(
          `the S3 copy no longer matches: ${[...bad, ...report.extra.map((e) => `extra ${e.key}`)].slice(0, 3).join("; ")}`,
        );
        continue;
      }
      if (options.dryRun) {
        out.push({ date, action: "would-delete", reason: "", files, bytes });
        log(`${date}: would delete ${files} files (${bytes} bytes)`);
        continue;
      }
      for (const f of listing.sealed) await unlink(f.path);
      await removeEmptyFolders(join(options.root, date));
      await rm(join(stateDir, `${date}.checksums.json`), { force: true });
      out.push({ date, action: "deleted", reason: "", files, bytes });
      log(`${date}: deleted ${files} files (${bytes} bytes); the copy in S3 is proven by its manifest`);
    }
    return out;
  } finally {
    if (options.storage === undefined) storage.close();
  }
}

/** Removes `dir` and its subfolders when they are empty (a folder with anything in it stays). */
async function removeEmptyFolders(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    await removeEmptyFolders(join(dir, name)).catch(() => {});
  }
  await rmdir(dir).catch(() => {});
}
