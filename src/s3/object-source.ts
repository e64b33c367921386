/**
 * A `.tape` object in S3 as a random-access source: every read is a ranged GET of the object as first seen.
 * Opening fetches the object's tail (trailer and footer, and its size and ETag) in one GET. Small reads (a header,
 * a block) fetch the aligned 64 KiB pages around them, kept for the reads that follow: the header brings the
 * first blocks, and the neighbouring blocks of a seek come in one GET even when they are asked for one by one.
 */
import type { RangeSource } from "../format/source.js";
import type { S3ObjectInfo, S3Storage } from "./storage.js";
import { parseS3Url, type S3Location } from "./url.js";

/** Bytes fetched at the end of an object when it is opened: the footer of an hour of blocks fits. */
export const TAIL_BYTES = 128 * 1024;
/** Reads smaller than this go through pages of this size. */
export const PAGE_BYTES = 64 * 1024;
/** Pages kept per object (least recently used dropped first). */
const MAX_PAGES = 32;

export class S3ObjectSource implements RangeSource {
  /** Page number → its bytes (fetched or being fetched), in order of last use. */
  private readonly pages = new Map<number, Promise<Uint8Array>>();

  private constructor(
    readonly name: string,
    private readonly storage: S3Storage,
    private readonly location: S3Location,
    readonly info: S3ObjectInfo,
    private readonly tail: { offset: number; bytes: Uint8Array },
  ) {}

  get size(): number {
    return this.info.size;
  }

  /** Opens `s3://bucket/key` (one GET, of the object's tail). */
  static async open(url: string, storage: S3Storage): Promise<S3ObjectSource> {
    const location = parseS3Url(url);
    const { info, offset, bytes } = await storage.getTail(location, TAIL_BYTES);
    return new S3ObjectSource(url, storage, location, info, { offset, bytes });
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const tail = this.tail;
    if (offset >= tail.offset && offset + length <= tail.offset + tail.bytes.length)
      return tail.bytes.subarray(offset - tail.offset, offset - tail.offset + length);
    if (length >= PAGE_BYTES || offset < 0 || offset + length > this.info.size)
      return this.storage.getRange(this.location, this.info, offset, length);
    const first = Math.floor(offset / PAGE_BYTES);
    const last = Math.floor((offset + length - 1) / PAGE_BYTES);
    this.fetchMissing(first, last);
    const parts = await Promise.all(Array.from({ length: last - first + 1 }, (_, i) => this.page(first + i)));
    const out = new Uint8Array(length);
    for (let i = 0; i < parts.length; i++) {
      const pageStart = (first + i) * PAGE_BYTES;
      const from = Math.max(offset, pageStart) - pageStart;
      const to = Math.min(offset + length, pageStart + parts[i]!.length) - pageStart;
      out.set(parts[i]!.subarray(from, to), pageStart + from - offset);
    }
    return out;
  }

  async close(): Promise<void> {
    this.pages.clear();
  }

  /** Starts one GET for the run of missing pages among first..last. */
  private fetchMissing(first: number, last: number): void {
    let lo = first;
    while (lo <= last && this.pages.has(lo)) lo++;
    if (lo > last) return;
    let hi = last;
    while (this.pages.has(hi)) hi--;
    const start = lo * PAGE_BYTES;
    const end = Math.min(this.info.size, (hi + 1) * PAGE_BYTES);
    const run = this.storage.getRange(this.location, this.info, start, end - start);
    for (let p = lo; p <= hi; p++) {
      const at = (p - lo) * PAGE_BYTES;
      const page = run.then((bytes) => bytes.subarray(at, Math.min(bytes.length, at + PAGE_BYTES)));
      // A failed fetch is not kept: the next read tries again.
      page.catch(() => this.pages.delete(p));
      this.pages.set(p, page);
    }
    while (this.pages.size > MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
  }

  /** A page, marked as the most recently used. */
  private page(p: number): Promise<Uint8Array> {
    let page = this.pages.get(p);
    if (page === undefined) {
      this.fetchMissing(p, p);
      page = this.pages.get(p)!;
    }
    this.pages.delete(p);
    this.pages.set(p, page);
    return page;
  }
}
