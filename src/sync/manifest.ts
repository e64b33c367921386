/**
 * The day's manifest, `<prefix>/<date>/_MANIFEST.json` (docs/SYNC.md): written as the day's last object once
 * every file's copy is proven, it lists each file with its size, checksums, tape digest, format version, record
 * counts, time range and the integrity events (gaps, checksum failures, …) its records hold. A dataset opened
 * with `requireManifest` reads only days that have one and checks every file against it.
 */

import { isObject } from "../common/is-object.js";
import { TapeError } from "../format/errors.js";
import { TapeReader } from "../format/reader.js";
import type { EventRecord } from "../format/records.js";
import { blockRecords } from "../format/rows.js";
import type { ChecksumAlgorithm } from "../s3/checksums.js";
import type { SourceFile } from "./day-files.js";
import { KEPT_ALGORITHMS } from "./source-checksums.js";

export const MANIFEST_SCHEMA = "ticktape.manifest/1";
/** Integrity events kept per file; more are counted, not listed. */
export const MAX_EVENTS_PER_FILE = 1000;
/** A manifest larger than this is refused rather than read (a day of 100k files is about 60 MB). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

/** Event types that say data is missing or was doubted. */
const INTEGRITY_EVENTS = new Set([
  "gap",
  "resync",
  "checksum_failure",
  "disconnect",
  "stall",
  "crossed_book",
]);

export interface ManifestEvent {
  type: string;
  symbol: string;
  /** Exchange time, ns, as a decimal string. */
  ts: string;
  seqBefore?: string;
  seqAfter?: string;
  message: string;
}

export interface ManifestFile {
  /** `<date>/<exchange>/<name>`, also the key below the prefix. */
  path: string;
  size: number;
  /** base64, as S3 presents them. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** SHA-256 of the bytes before the footer (the tape's own digest), hex. */
  digest: string;
  format: { major: number; minor: number };
  exchange: string;
  captureId: string;
  symbols: string[];
  /** Rows per record kind. */
  records: Record<string, number>;
  /** Exchange-time range of the rows, ns as decimal strings (null for a file without rows). */
  minTs: string | null;
  maxTs: string | null;
  events: ManifestEvent[];
  /** Integrity events in the file, including any not listed beyond `MAX_EVENTS_PER_FILE`. */
  eventCount: number;
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  date: string;
  createdAt: string;
  createdBy: string;
  source: string;
  destination: string;
  /** How the copies were proven. */
  verification: { deep: boolean; methods: Record<string, number> };
  totals: { files: number; bytes: number; records: Record<string, number>; events: number };
  files: ManifestFile[];
}

/** What a file's entry holds, read from the source file (its footer and its event blocks). */
export async function describeFile(
  file: SourceFile,
  checksums: Partial<Record<ChecksumAlgorithm, string>>,
): Promise<ManifestFile> {
  const reader = await TapeReader.open(file.path, { recover: false });
  try {
    const footer = reader.footer!;
    const records: Record<string, number> = {};
    for (const [kind, s] of Object.entries(footer.stats)) records[kind] = s.rows;
    let minTs: bigint | null = null;
    let maxTs: bigint | null = null;
    for (const b of reader.blocks) {
      if (b.kind === null || b.rowCount === 0) continue;
      if (minTs === null || b.minTs < minTs) minTs = b.minTs;
      if (maxTs === null || b.maxTs > maxTs) maxTs = b.maxTs;
    }
    const events: ManifestEvent[] = [];
    let eventCount = 0;
    for (const b of reader.selectBlocks({ kinds: ["event"] })) {
      for (const r of blockRecords(await reader.readBlock(b)) as EventRecord[]) {
        if (!INTEGRITY_EVENTS.has(r.type)) continue;
        eventCount++;
        if (events.length >= MAX_EVENTS_PER_FILE) continue;
        events.push({
          type: r.type,
          symbol: r.symbol,
          ts: r.ts.toString(),
          ...(r.seqBefore !== undefined ? { seqBefore: r.seqBefore.toString() } : {}),
          ...(r.seqAfter !== undefined ? { seqAfter: r.seqAfter.toString() } : {}),
          message: r.message,
        });
      }
    }
    return {
      path: file.relative,
      size: file.size,
      checksums,
      digest: Buffer.from(footer.digest).toString("hex"),
      format: { major: reader.header.major, minor: reader.header.minor },
      exchange: reader.header.exchange,
      captureId: reader.header.captureId,
      symbols: reader.symbols.filter((s) => s !== ""),
      records,
      minTs: minTs?.toString() ?? null,
      maxTs: maxTs?.toString() ?? null,
      events,
      eventCount,
    };
  } finally {
    await reader.close();
  }
}

export function buildManifest(
  fields: Pick<Manifest, "date" | "source" | "destination" | "createdBy" | "verification">,
  files: ManifestFile[],
): Manifest {
  const records: Record<string, number> = {};
  for (const f of files) for (const [k, n] of Object.entries(f.records)) records[k] = (records[k] ?? 0) + n;
  return {
    schema: MANIFEST_SCHEMA,
    date: fields.date,
    createdAt: new Date().toISOString(),
    createdBy: fields.createdBy,
    source: fields.source,
    destination: fields.destination,
    verification: fields.verification,
    totals: {
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      records,
      events: files.reduce((n, f) => n + f.eventCount, 0),
    },
    files,
  };
}

/** The base64 form of each kept checksum (8-byte CRC64NVME, 4-byte CRC32C and CRC32). */
const BASE64_OF_LENGTH: Partial<Record<ChecksumAlgorithm, RegExp>> = {
  CRC64NVME: /^[A-Za-z0-9+/]{11}=$/,
  CRC32C: /^[A-Za-z0-9+/]{6}==$/,
  CRC32: /^[A-Za-z0-9+/]{6}==$/,
};

/** Parses and checks a manifest's text; a manifest that is not one is `E_TAPE_MANIFEST`, never trusted. */
export function parseManifest(text: string, where: string, date?: string): Manifest {
  const fail = (why: string): never => {
    throw new TapeError("E_TAPE_MANIFEST", why, { file: where });
  };
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (err) {
    return fail(`not JSON: ${(err as Error).message}`);
  }
  if (typeof m !== "object" || m === null || m.schema !== MANIFEST_SCHEMA)
    fail(`schema is not ${MANIFEST_SCHEMA}`);
  if (date !== undefined && m.date !== date) fail(`manifest of ${m.date}, expected ${date}`);
  if (!Array.isArray(m.files)) fail("no files list");
  const paths = new Set<string>();
  m.files.forEach((f, i) => {
    if (
      typeof f?.path !== "string" ||
      !Number.isSafeInteger(f.size) ||
      f.size < 0 ||
      typeof f.digest !== "string" ||
      !/^[0-9a-f]{64}$/.test(f.digest) ||
      !isObject(f.checksums) ||
      Object.values(f.checksums).some((c) => typeof c !== "string")
    ) {
      fail(`files[${i}] lacks a path, size, digest or checksums`);
    }
    // The day's own files, each once: a path elsewhere would be compared with nothing.
    const [day, exchange, name, ...rest] = f.path.split("/");
    if (day !== m.date || !exchange || !name || rest.length > 0 || exchange === ".." || name === "..")
      fail(`files[${i}].path ${JSON.stringify(f.path)} is not ${m.date}/<exchange>/<name>`);
    if (paths.has(f.path)) fail(`files[${i}].path ${f.path} is listed twice`);
    paths.add(f.path);
    // CRC64NVME, which a file is compared with (not with its size alone), and the other kept checksums when
    // present, each of its algorithm's length.
    for (const a of KEPT_ALGORITHMS) {
      const c = f.checksums[a];
      if ((c === undefined && a === "CRC64NVME") || (c !== undefined && !BASE64_OF_LENGTH[a]!.test(c)))
        fail(`files[${i}].checksums.${a} missing or malformed`);
    }
  });
  const t = m.totals;
  if (
    !isObject(t) ||
    !Number.isSafeInteger(t.files) ||
    !Number.isSafeInteger(t.bytes) ||
    !Number.isSafeInteger(t.events) ||
    !isObject(t.records)
  )
    fail("totals lacks files, bytes, events or records");
  return m;
}
