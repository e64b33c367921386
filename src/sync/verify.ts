/**
 * Proves that a day's S3 copy equals its source without downloading it: every source file has an object, of the
 * same size, whose checksum — the one S3 computed over the bytes it received and keeps with the object — equals
 * the same algorithm over the source file (part by part for a multipart object with a composite checksum); then
 * the tape's own digest and trailer, read by one small ranged GET, equal the source's. Cheapest first: a file
 * stops at its first failed check. Only an object with no stored checksum is read in full; `deep` reads every
 * object in full and checks every block CRC and the file digest.
 */
import { TapeError } from "../format/errors.js";
import {
  type ChecksumAlgorithm,
  compositeChecksum,
  createHasher,
  fileChecksums,
  toBase64,
} from "../s3/checksums.js";
import { headObject, type ObjectHead, objectParts, streamObject } from "../s3/object-ops.js";
import type { S3Options, S3Stats } from "../s3/storage.js";
import { S3Storage } from "../s3/storage.js";
import { s3Url } from "../s3/url.js";
import { listDay, type SourceFile } from "./day-files.js";
import { StreamingTapeCheck, type TapeLayout, tapeLayout } from "./deep-check.js";
import { type Destination, MANIFEST_NAME, objectOf, parseDestination } from "./destination.js";
import { mapConcurrent } from "./pool.js";
import { defaultStateDir, SourceChecksums } from "./source-checksums.js";
import { digestOfTail, readLocalTail, TAPE_TAIL_BYTES } from "./tape-tail.js";

export interface VerifyOptions {
  /** The source root (the EFS mount). */
  root: string;
  /** `s3://bucket/prefix` that mirrors the root. */
  destination: string;
  date: string;
  s3?: S3Options;
  /** A client to share (else one is made from `s3` and closed at the end). */
  storage?: S3Storage;
  /** Read every object in full: checksum, every block CRC and the file digest. */
  deep?: boolean;
  /** Where source checksums are kept (default `<root>/.ticktape-sync`). */
  stateDir?: string;
  /** Files checked at once (default 16). */
  concurrency?: number;
  /** Aborting stops before the next file (E_TAPE_SYNC). */
  signal?: AbortSignal;
  /** Check only these files (relative paths), e.g. after a repair. */
  only?: readonly string[];
  onProgress?: (done: number, total: number) => void;
}

export const VERDICTS = [
  "ok",
  "missing",
  "size-differs",
  "checksum-differs",
  "tape-differs",
  "corrupt",
] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface FileCheck {
  /** `<date>/<exchange>/<name>`. */
  file: string;
  object: string;
  verdict: Verdict;
  size: number;
  objectSize: number | null;
  /** How the content was proven (or disproven). */
  method: "checksum" | "part-checksums" | "full-read" | "deep" | null;
  algorithm: ChecksumAlgorithm | null;
  /** Why, for anything but ok. */
  detail: string;
}

export interface VerifyReport {
  date: string;
  source: string;
  destination: string;
  deep: boolean;
  /** True when every sealed file's copy is proven, the day has no `.open` file and S3 holds nothing extra. */
  ok: boolean;
  files: FileCheck[];
  counts: Record<Verdict, number>;
  /** `.open` files of the day on the source: a finished day must have none (a recorder fault). */
  open: string[];
  /** Objects under the day's prefix that have no source file (the manifest excepted). */
  extra: { key: string; size: number }[];
  /** Files of the day that are not tapes (checked like the tapes, by their checksums; not in the manifest). */
  other: string[];
  objectBytes: number;
  /** Bytes read from S3, and the requests made. */
  s3: S3Stats;
  /** Source bytes read to compute checksums not kept before. */
  sourceBytesHashed: number;
  durationMs: number;
}

export async function verifyDay(options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const dest = parseDestination(options.destination);
  const storage = options.storage ?? (await S3Storage.create(options.s3 ?? {}));
  const before = { ...storage.stats };
  const listing = await listDay(options.root, options.date);
  const checksums = await SourceChecksums.load(
    options.stateDir ?? defaultStateDir(options.root),
    options.date,
  );
  const only = options.only === undefined ? null : new Set(options.only);
  // Every file DataSync copies with the day: the tapes and any other file (checked by its checksums alone).
  const files = [...listing.sealed, ...listing.other].filter((f) => only === null || only.has(f.relative));
  const tapes = new Set(listing.sealed);
  try {
    let done = 0;
    const checks = await mapConcurrent(files, options.concurrency ?? 16, async (file) => {
      if (options.signal?.aborted) {
        throw new TapeError("E_TAPE_SYNC", "verify stopped", { file: file.relative, field: "signal" });
      }
      const check = await checkFile(storage, dest, file, tapes.has(file), checksums, options.deep === true);
      options.onProgress?.(++done, files.length);
      return check;
    });
    await checksums.save();
    // A copied file, a folder (DataSync may keep one as an empty `…/` object) or the manifest has a source.
    const known = new Set(
      [...files, ...listing.folders.map((relative) => ({ relative }))].map(
        (f) => objectOf(dest, f.relative).key,
      ),
    );
    known.add(objectOf(dest, `${options.date}/${MANIFEST_NAME}`).key);
    const extra =
      only === null
        ? (
            await storage.list(dest.bucket, `${dest.prefix}${options.date}/`, { recursive: true })
          ).objects.filter((o) => !known.has(o.key))
        : [];
    const open = listing.open.map((f) => f.relative);
    return {
      date: options.date,
      source: options.root,
      destination: options.destination,
      deep: options.deep === true,
      ...summarize(checks, open, extra),
      files: checks,
      open,
      extra,
      other: listing.other.map((f) => f.relative),
      s3: combineStats(storage.stats, before, -1),
      sourceBytesHashed: checksums.bytesHashed,
      durationMs: performance.now() - started,
    };
  } finally {
    if (options.storage === undefined) storage.close();
  }
}

/**
 * The report with some files checked again (after a repair): their new checks replace the old ones, and the costs
 * add up.
 */
export function withRechecked(report: VerifyReport, again: VerifyReport): VerifyReport {
  const rechecked = new Map(again.files.map((f) => [f.file, f]));
  const files = report.files.map((f) => rechecked.get(f.file) ?? f);
  return {
    ...report,
    ...summarize(files, report.open, report.extra),
    files,
    s3: combineStats(report.s3, again.s3, 1),
    sourceBytesHashed: report.sourceBytesHashed + again.sourceBytesHashed,
    durationMs: report.durationMs + again.durationMs,
  };
}

function summarize(
  checks: readonly FileCheck[],
  open: readonly string[],
  extra: readonly unknown[],
): Pick<VerifyReport, "ok" | "counts" | "objectBytes"> {
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const c of checks) counts[c.verdict]++;
  return {
    ok: counts.ok === checks.length && open.length === 0 && extra.length === 0,
    counts,
    objectBytes: checks.reduce((n, c) => n + (c.objectSize ?? 0), 0),
  };
}

/** `a + sign·b`, field by field. */
function combineStats(a: S3Stats, b: S3Stats, sign: 1 | -1): S3Stats {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof S3Stats)[]) out[k] += sign * b[k];
  return out;
}

async function checkFile(
  storage: S3Storage,
  dest: Destination,
  file: SourceFile,
  /** A sealed tape of the day (else another file: its bytes alone are compared). */
  isTape: boolean,
  checksums: SourceChecksums,
  deep: boolean,
): Promise<FileCheck> {
  const loc = objectOf(dest, file.relative);
  const result = (verdict: Verdict, detail: string, more: Partial<FileCheck> = {}): FileCheck => ({
    file: file.relative,
    object: s3Url(loc),
    verdict,
    size: file.size,
    objectSize: null,
    method: null,
    algorithm: null,
    detail,
    ...more,
  });
  const head = await headObject(storage, loc);
  if (head === null) return result("missing", "no object");
  const base = { objectSize: head.size };
  if (head.size !== file.size) {
    return result("size-differs", `object has ${head.size} bytes, source ${file.size}`, base);
  }
  if (deep) return deepCheck(storage, loc, head, file, isTape, checksums);
  const content = await contentCheck(storage, loc, head, file, checksums);
  if (content.verdict !== "ok") return result(content.verdict, content.detail, { ...base, ...content.how });
  const tape = await tapeTailCheck(storage, loc, head, file);
  return result(tape === null ? "ok" : "tape-differs", tape ?? "", { ...base, ...content.how });
}

interface ContentResult {
  verdict: "ok" | "checksum-differs";
  detail: string;
  how: Pick<FileCheck, "method" | "algorithm">;
}

/** Compares the object's stored checksum with the source's, or reads the object when it has none. */
async function contentCheck(
  storage: S3Storage,
  loc: { bucket: string; key: string },
  head: ObjectHead,
  file: SourceFile,
  checksums: SourceChecksums,
): Promise<ContentResult> {
  const stored = head.checksum;
  if (stored !== null && stored.type === "FULL_OBJECT") {
    const source = await checksums.get(file, stored.algorithm);
    const how = { method: "checksum", algorithm: stored.algorithm } as const;
    return source === stored.value
      ? { verdict: "ok", detail: "", how }
      : {
          verdict: "checksum-differs",
          detail: `${stored.algorithm} of the object ${stored.value}, of the source ${source}`,
          how,
        };
  }
  if (stored !== null) {
    const parts = await objectParts(storage, loc);
    const usable =
      parts.length > 0 &&
      parts.every((p) => p.checksum !== null) &&
      parts.reduce((n, p) => n + p.size, 0) === file.size;
    if (usable) {
      const how = { method: "part-checksums", algorithm: stored.algorithm } as const;
      const sizes = parts.map((p) => p.size);
      const source = (await fileChecksums(file.path, [stored.algorithm], { partSizes: sizes })).parts[
        stored.algorithm
      ]!;
      const bad = parts.findIndex((p, i) => p.checksum !== source[i]);
      if (bad >= 0) {
        const p = parts[bad]!;
        const at = sizes.slice(0, bad).reduce((a, b) => a + b, 0);
        return {
          verdict: "checksum-differs",
          detail: `part ${p.number} (bytes ${at}–${at + p.size - 1}): ${stored.algorithm} of the object ${p.checksum}, of the source ${source[bad]}`,
          how,
        };
      }
      const composite = compositeChecksum(stored.algorithm, source);
      return composite === stored.value
        ? { verdict: "ok", detail: "", how }
        : {
            verdict: "checksum-differs",
            detail: `composite ${stored.algorithm} of the object ${stored.value}, of the source parts ${composite}`,
            how,
          };
    }
  }
  // No checksum to compare: read the object in full.
  const objectCrc = await readChecked(storage, loc, head, null);
  const source = await checksums.get(file, "CRC64NVME");
  const how = { method: "full-read", algorithm: "CRC64NVME" } as const;
  return objectCrc.crc === source
    ? { verdict: "ok", detail: "", how }
    : {
        verdict: "checksum-differs",
        detail: `object read in full: CRC64NVME ${objectCrc.crc}, source ${source}`,
        how,
      };
}

/** The tape's digest section and trailer, object against source; null when equal (or the source is no tape). */
async function tapeTailCheck(
  storage: S3Storage,
  loc: { bucket: string; key: string },
  head: ObjectHead,
  file: SourceFile,
): Promise<string | null> {
  const sourceTail = await readLocalTail(file.path, file.size);
  const sourceDigest = digestOfTail(sourceTail, file.size);
  if (sourceDigest === null) return null;
  const objectTail = await storage.getRange(loc, head, head.size - TAPE_TAIL_BYTES, TAPE_TAIL_BYTES);
  if (Buffer.compare(objectTail, sourceTail) === 0) return null;
  const objectDigest = digestOfTail(objectTail, head.size);
  return objectDigest === null
    ? "the object does not end in a tape trailer"
    : `tape digest or trailer differs: object ${objectDigest.slice(0, 16)}…, source ${sourceDigest.slice(0, 16)}…`;
}

/**
 * Reads the whole object once: its CRC64NVME against the source's, and for a tape, as the bytes stream in, every
 * block CRC and the file digest at the places the source's footer gives.
 */
async function deepCheck(
  storage: S3Storage,
  loc: { bucket: string; key: string },
  head: ObjectHead,
  file: SourceFile,
  isTape: boolean,
  checksums: SourceChecksums,
): Promise<FileCheck> {
  const base = {
    file: file.relative,
    object: s3Url(loc),
    size: file.size,
    objectSize: head.size,
    method: "deep",
    algorithm: "CRC64NVME",
  } as const;
  const layout = isTape ? await tapeLayout(file.path) : null;
  if (typeof layout === "string")
    return { ...base, verdict: "corrupt", detail: `the source is no sealed tape: ${layout}` };
  const read = await readChecked(storage, loc, head, layout);
  const source = await checksums.get(file, "CRC64NVME");
  if (read.crc !== source) {
    return {
      ...base,
      verdict: "checksum-differs",
      detail: `CRC64NVME of the object ${read.crc}, source ${source}`,
    };
  }
  return read.problem === null
    ? { ...base, verdict: "ok", detail: "" }
    : { ...base, verdict: "corrupt", detail: read.problem };
}

/** Streams the whole object: its CRC64NVME, and with a layout, the tape's block CRCs and digest. */
async function readChecked(
  storage: S3Storage,
  loc: { bucket: string; key: string },
  head: ObjectHead,
  layout: TapeLayout | null,
): Promise<{ crc: string; problem: string | null }> {
  let hasher = createHasher("CRC64NVME");
  let tape: StreamingTapeCheck | null = null;
  await streamObject(storage, loc, head, () => {
    hasher = createHasher("CRC64NVME");
    tape = layout === null ? null : new StreamingTapeCheck(layout);
    const check = tape;
    return (bytes) => {
      hasher.update(bytes);
      check?.update(bytes);
    };
  });
  return { crc: toBase64(hasher.digest()), problem: (tape as StreamingTapeCheck | null)?.problem() ?? null };
}
