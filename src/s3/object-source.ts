/**
 * A `.tape` object in S3 as a random-access source: every read is a ranged GET of the object as first seen.
 * Opening fetches the object's tail (trailer and footer, and its size and ETag) in one GET. Reads go through the
 * aligned pages around them (16 KiB), kept for the reads that follow, and the missing pages of a read are fetched
 * in one GET: the header's page, then one GET for the neighbouring blocks of a seek even when they are asked for
 * one by one. With a `BlockCache`, pages (1 MiB then) and the tail are looked up on local disk first and stored
 * there after a fetch; opening then costs a HEAD (for the object's identity) instead of a GET.
 */
import type { RangeSource } from "../format/source.js";
import { BlockCache } from "./block-cache.js";
import type { S3ObjectInfo, S3Storage } from "./storage.js";
import { parseS3Url, type S3Location } from "./url.js";

/** Bytes fetched at the end of an object when it is opened: the footer of an hour of 3000 blocks fits. */
export const TAIL_BYTES = 128 * 1024;
/**
 * Reads go through pages of this size: small, so that a seek fetches little more than its blocks; with a cache,
 * big, so that a month in the cache is thousands of entries, not millions.
 */
export const PAGE_BYTES = 16 * 1024;
export const CACHED_PAGE_BYTES = 1024 * 1024;
/**
 * A GET costs tens of milliseconds before its first byte; half a megabyte more of it, a few. So the read-ahead may
 * read through this many bytes of blocks not asked for to join two runs of blocks into one GET.
 */
const JOIN_GAP_BYTES = 512 * 1024;
/** Bytes of pages kept in memory per object (least recently used dropped first). */
const MAX_PAGE_MEMORY = 2 * 1024 * 1024;

export class S3ObjectSource implements RangeSource {
  /** Page number → its bytes (fetched or being fetched), in order of last use. */
  private readonly pages = new Map<number, Promise<Uint8Array>>();
  /** Pages being fetched, kept or not, until their GET (or cache read) ends. */
  private readonly fetching = new Map<number, Promise<Uint8Array>>();
  private readonly pageBytes: number;
  private readonly maxPages: number;
  readonly joinGapBytes = JOIN_GAP_BYTES;

  private constructor(
    readonly name: string,
    private readonly storage: S3Storage,
    private readonly location: S3Location,
    readonly info: S3ObjectInfo,
    private readonly tail: { offset: number; bytes: Uint8Array },
    private readonly cache: BlockCache | null,
    private readonly identity: string,
  ) {
    this.pageBytes = cache === null ? PAGE_BYTES : CACHED_PAGE_BYTES;
    this.maxPages = Math.max(2, MAX_PAGE_MEMORY / this.pageBytes);
  }

  get size(): number {
    return this.info.size;
  }

  /** Opens `s3://bucket/key`: one GET of the object's tail, or with a cache that holds it, one HEAD. */
  static async open(
    url: string,
    storage: S3Storage,
    cache: BlockCache | null = null,
  ): Promise<S3ObjectSource> {
    const location = parseS3Url(url);
    if (cache === null) {
      const { info, offset, bytes } = await storage.getTail(location, TAIL_BYTES);
      return new S3ObjectSource(url, storage, location, info, { offset, bytes }, null, "");
    }
    const info = await storage.head(location);
    const identity = BlockCache.identity(location, info);
    const offset = Math.max(0, info.size - TAIL_BYTES);
    let bytes = await cache.get(identity, "tail");
    if (bytes === null || bytes.length !== info.size - offset) {
      bytes = await storage.getRange(location, info, offset, info.size - offset);
      await cache.put(identity, "tail", bytes);
    }
    return new S3ObjectSource(url, storage, location, info, { offset, bytes }, cache, identity);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const tail = this.tail;
    if (offset >= tail.offset && offset + length <= tail.offset + tail.bytes.length)
      return tail.bytes.subarray(offset - tail.offset, offset - tail.offset + length);
    if (length === 0 || offset < 0 || offset + length > this.info.size)
      return this.storage.getRange(this.location, this.info, offset, length);
    const first = Math.floor(offset / this.pageBytes);
    const last = Math.floor((offset + length - 1) / this.pageBytes);
    const parts = await Promise.all(this.pagesOf(first, last));
    if (parts.length === 1) {
      const from = offset - first * this.pageBytes;
      return parts[0]!.subarray(from, from + length);
    }
    const out = new Uint8Array(length);
    for (let i = 0; i < parts.length; i++) {
      const pageStart = (first + i) * this.pageBytes;
      const from = Math.max(offset, pageStart) - pageStart;
      const to = Math.min(offset + length, pageStart + parts[i]!.length) - pageStart;
      out.set(parts[i]!.subarray(from, to), pageStart + from - offset);
    }
    return out;
  }

  async close(): Promise<void> {
    this.pages.clear();
    this.fetching.clear();
  }

  /**
   * The pages first..last: those in memory (marked as recently used), the others started now, from the cache
   * where it has them and by one GET per run of consecutive pages.
   */
  private pagesOf(first: number, last: number): Promise<Uint8Array>[] {
    const need: number[] = [];
    for (let p = first; p <= last; p++) if (!this.pages.has(p) && !this.fetching.has(p)) need.push(p);
    const got = need.length > 0 ? this.load(need) : null;
    // Pages are views of the GET's buffer: those of a big read are not kept, or one page would keep it all alive.
    const keep = need.length <= Math.max(1, this.maxPages / 4);
    const out: Promise<Uint8Array>[] = [];
    for (let p = first; p <= last; p++) {
      let page = this.pages.get(p);
      if (page === undefined) {
        // Being fetched for another read (a neighbour's, sharing this page at its edge): not fetched twice.
        const pending = this.fetching.get(p);
        if (pending !== undefined) {
          out.push(pending);
          continue;
        }
        const own = got!.then((pages) => pages.get(p)!);
        this.fetching.set(p, own);
        const settled = () => {
          if (this.fetching.get(p) === own) this.fetching.delete(p);
        };
        own.then(settled, settled);
        // A failed fetch is not kept: the next read tries again.
        own.catch(() => {
          if (this.pages.get(p) === own) this.pages.delete(p);
        });
        page = own;
        if (!keep) {
          out.push(page);
          continue;
        }
      }
      this.pages.delete(p);
      this.pages.set(p, page);
      out.push(page);
    }
    while (this.pages.size > this.maxPages) this.pages.delete(this.pages.keys().next().value!);
    return out;
  }

  private async load(need: number[]): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    const cache = this.cache;
    if (cache !== null) {
      const cached = await Promise.all(need.map((p) => cache.get(this.identity, p)));
      need.forEach((p, i) => {
        const bytes = cached[i];
        if (bytes !== null && bytes !== undefined && bytes.length === this.pageLength(p)) out.set(p, bytes);
      });
    }
    const runs: [number, number][] = [];
    for (const p of need) {
      if (out.has(p)) continue;
      const run = runs[runs.length - 1];
      if (run !== undefined && run[1] === p - 1) run[1] = p;
      else runs.push([p, p]);
    }
    await Promise.all(
      runs.map(async ([lo, hi]) => {
        const start = lo * this.pageBytes;
        const bytes = await this.storage.getRange(
          this.location,
          this.info,
          start,
          Math.min(this.info.size, (hi + 1) * this.pageBytes) - start,
        );
        const stored: Promise<void>[] = [];
        for (let p = lo; p <= hi; p++) {
          const at = (p - lo) * this.pageBytes;
          const page = bytes.subarray(at, Math.min(bytes.length, at + this.pageBytes));
          out.set(p, page);
          if (cache !== null) stored.push(cache.put(this.identity, p, page));
        }
        await Promise.all(stored);
      }),
    );
    return out;
  }

  private pageLength(p: number): number {
    return Math.min(this.info.size, (p + 1) * this.pageBytes) - p * this.pageBytes;
  }
}
