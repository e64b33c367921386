/**
 * A local-disk cache of S3 object bytes (an EC2 instance's NVMe in production), so that a second back-test over
 * the same day does not fetch its blocks again.
 *
 * - Content-addressed: an entry is one page (1 MiB) or the tail of one object as identified by bucket, key,
 *   ETag, version and size; a replaced object has another identity, so a stale entry can never be served.
 * - Safe to share between the processes of a host: entries are written to a temporary file and renamed into
 *   place (atomic), so a reader sees a whole entry or none, also after a crash; a deleted entry is a miss.
 * - Verified on every read: each entry carries its length and a CRC-32C of its name and bytes; a bad entry (or one
 *   moved under another name) is deleted and counts as a miss (the blocks in it are checked by their own CRC again
 *   when decoded).
 * - Size-bounded, least recently used first out: a hit refreshes the entry's time; when the cache grows past its
 *   bound, the oldest entries go until it is at 90% of it. Each process counts the others' entries by scanning
 *   the folder after writing 5% of the bound, so N processes overshoot it by at most about N × 5%.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "../format/crc32c.js";
import { TapeError } from "../format/errors.js";
import type { S3ObjectInfo } from "./storage.js";
import type { S3Location } from "./url.js";

export interface BlockCacheOptions {
  /** The cache folder (made if absent). */
  dir: string;
  /** Bound on the bytes of all entries (default 10 GiB). */
  maxBytes?: number;
}

export interface BlockCacheStats {
  hits: number;
  misses: number;
  /** Bytes served from the cache. */
  bytesHit: number;
  /** Bytes written to the cache. */
  bytesStored: number;
  /** Entries found damaged (and deleted). */
  bad: number;
  evicted: number;
}

const MAGIC = 0x32505454; // "TTP2" little-endian (entries of the first layout, "TTPC", read as bad)
const ENTRY_HEADER = 12; // magic, length, CRC-32C of the entry's name then its bytes
/**
 * Share of the bound a process writes before it looks at the folder again: the others' entries count only from
 * a scan, so with N processes the folder exceeds the bound by at most about N times this share.
 */
const RESCAN_SHARE = 0.05;
/** Temporary files older than this were left by a process that died while writing. */
const STALE_TEMP_MS = 3_600_000;

/** The CRC of an entry covers its name too: bytes of another object or page never pass for this one's. */
function entryCrc(identity: string, part: number | "tail", data: Uint8Array): number {
  return crc32c(data, crc32c(Buffer.from(`${identity}.${part}`)));
}

export class BlockCache {
  readonly stats: BlockCacheStats = { hits: 0, misses: 0, bytesHit: 0, bytesStored: 0, bad: 0, evicted: 0 };
  readonly dir: string;
  readonly maxBytes: number;
  /** Bytes of the entries, as of the last scan plus what this process wrote since. */
  private usedBytes = 0;
  /** Bytes this process wrote since its last scan. */
  private writtenSinceScan = 0;
  /** The first scan of the folder, made at the first write: a run that only reads never walks it. */
  private scanned: Promise<void> | null = null;
  /** While the first count runs: the entries this process wrote (the count must not add them twice). */
  private writtenDuringScan: Set<string> | null = null;
  private evicting: Promise<void> | null = null;
  /** Evictions finished (each recounts the folder). */
  private evictions = 0;

  constructor(options: BlockCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? 10 * 1024 ** 3;
    if (!(Number.isSafeInteger(this.maxBytes) && this.maxBytes > 0))
      throw new TapeError("E_TAPE_VALUE", "cache size must be a positive number of bytes", {
        field: "maxBytes",
      });
  }

  /** The object's identity: a replaced object (new ETag or version, other size) gets other entries. */
  static identity(loc: S3Location, info: S3ObjectInfo): string {
    const text = [loc.bucket, loc.key, info.etag, info.versionId ?? "", String(info.size)].join("\u0000");
    return createHash("sha256").update(text).digest("hex");
  }

  /** The bytes of an entry (`part` = page number or `tail`), or null. */
  async get(identity: string, part: number | "tail"): Promise<Uint8Array | null> {
    const path = this.pathOf(identity, part);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      this.stats.misses++;
      return null;
    }
    const length = bytes.length >= ENTRY_HEADER ? bytes.readUInt32LE(4) : -1;
    if (
      bytes.length < ENTRY_HEADER ||
      bytes.readUInt32LE(0) !== MAGIC ||
      length !== bytes.length - ENTRY_HEADER ||
      entryCrc(identity, part, bytes.subarray(ENTRY_HEADER)) !== bytes.readUInt32LE(8)
    ) {
      this.stats.bad++;
      this.stats.misses++;
      await unlink(path).catch(() => {});
      return null;
    }
    this.stats.hits++;
    this.stats.bytesHit += length;
    // Least recently used: a hit makes the entry young again.
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
    return bytes.subarray(ENTRY_HEADER);
  }

  /** Stores an entry; a failure to write (a full disk) only means the next run fetches it again. */
  async put(identity: string, part: number | "tail", data: Uint8Array): Promise<void> {
    const path = this.pathOf(identity, part);
    const entry = Buffer.allocUnsafe(ENTRY_HEADER + data.length);
    entry.writeUInt32LE(MAGIC, 0);
    entry.writeUInt32LE(data.length, 4);
    entry.writeUInt32LE(entryCrc(identity, part, data), 8);
    entry.set(data, ENTRY_HEADER);
    const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    // The first put counts what the folder holds, in the background: a cache of many entries takes seconds to
    // count, which no read should wait for. Entries this process writes meanwhile are counted once, by the writes.
    if (this.scanned === null) {
      const mine = new Set<string>();
      this.writtenDuringScan = mine;
      this.scanned = this.scan()
        .then(
          (entries) => {
            // An eviction's own count, finished first, is the newer one.
            if (this.evictions > 0) return;
            for (const e of entries) if (!mine.has(e.path)) this.usedBytes += e.size;
          },
          // A folder that cannot be read: the writes fail too, and nothing is stored.
          () => {},
        )
        .finally(() => {
          this.writtenDuringScan = null;
        });
    }
    try {
      await mkdir(join(this.dir, identity.slice(0, 2)), { recursive: true });
      await writeFile(temp, entry);
      this.writtenDuringScan?.add(path);
      await rename(temp, path);
    } catch {
      await unlink(temp).catch(() => {});
      return;
    }
    this.stats.bytesStored += data.length;
    this.usedBytes += entry.length;
    this.writtenSinceScan += entry.length;
    // Over the bound by this process's count, or time to count what the other processes wrote.
    if (this.usedBytes > this.maxBytes || this.writtenSinceScan > this.maxBytes * RESCAN_SHARE)
      await this.evict();
  }

  /** Counts every entry, and drops the oldest until the cache holds at most 90% of its bound. */
  async evict(): Promise<void> {
    this.evicting ??= (async () => {
      try {
        this.writtenSinceScan = 0;
        const entries = await this.scan();
        entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
        let used = entries.reduce((n, e) => n + e.size, 0);
        const target = Math.floor(this.maxBytes * 0.9);
        for (const e of entries) {
          if (used <= target) break;
          // Another process may have removed it first: either way it is gone, but only this one's count it.
          const removed = await unlink(e.path).then(
            () => true,
            () => false,
          );
          used -= e.size;
          if (removed) this.stats.evicted++;
        }
        this.usedBytes = used;
        this.evictions++;
      } finally {
        this.evicting = null;
      }
    })();
    return this.evicting;
  }

  private pathOf(identity: string, part: number | "tail"): string {
    return join(this.dir, identity.slice(0, 2), `${identity}.${part}`);
  }

  /** Every entry with its size and time; temporary files of dead writers are removed on the way. */
  private async scan(): Promise<{ path: string; size: number; mtimeMs: number }[]> {
    await mkdir(this.dir, { recursive: true });
    const out: { path: string; size: number; mtimeMs: number }[] = [];
    for (const sub of await readdir(this.dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of await readdir(join(this.dir, sub)).catch(() => [] as string[])) {
        const path = join(this.dir, sub, name);
        const s = await stat(path).catch(() => null);
        if (s === null || !s.isFile()) continue;
        if (name.includes(".tmp-")) {
          if (Date.now() - s.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => {});
          continue;
        }
        out.push({ path, size: s.size, mtimeMs: s.mtimeMs });
      }
    }
    return out;
  }
}
