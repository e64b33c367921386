/**
 * Opens the files of datasets: local paths (a directory tree or an EFS mount) as files, `s3://bucket/key` as S3
 * objects read by ranged GETs. The S3 client is made on the first S3 address and shared by every file.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { FileSource, type RangeSource, TapeError, TapeReader } from "../format/index.js";
import {
  BlockCache,
  type BlockCacheOptions,
  type BlockCacheStats,
  isS3Url,
  parseS3Url,
  S3ObjectSource,
  type S3Options,
  type S3Stats,
  S3Storage,
} from "../s3/index.js";
import { getSmallObject } from "../s3/object-ops.js";
import type { DatasetFile } from "./dataset.js";

/** What a file must be when opened: from the day's manifest (datasets opened with `requireManifest`). */
export interface ExpectedFile {
  size: number;
  /** The tape's SHA-256 digest, hex. */
  digest: string;
  /** Where the expectation comes from, for messages. */
  manifest: string;
}

export class Sources {
  private storage: Promise<S3Storage> | null = null;
  /** The local cache of S3 pages, made with the S3 client when one was asked for. */
  private cache: BlockCache | null = null;
  private readonly expected = new Map<string, ExpectedFile>();

  constructor(
    readonly s3Options: S3Options = {},
    readonly cacheOptions: BlockCacheOptions | null = null,
  ) {}

  /** The S3 client, made on first use. */
  s3(): Promise<S3Storage> {
    if (this.storage === null) {
      this.storage = S3Storage.create(this.s3Options);
      if (this.cacheOptions !== null) this.cache = new BlockCache(this.cacheOptions);
    }
    return this.storage;
  }

  async open(path: string): Promise<RangeSource> {
    if (!isS3Url(path)) return FileSource.open(path);
    const storage = await this.s3();
    return S3ObjectSource.open(path, storage, this.cache);
  }

  /**
   * The entries (folders and files) directly in the folder `dir`, with their bytes where the listing gives them
   * (S3; null for local files and for folders); none when it does not exist. In S3 a folder is a key prefix
   * ending in `/`.
   */
  async list(dir: string): Promise<{ name: string; size: number | null }[]> {
    if (isS3Url(dir)) {
      const { bucket, key } = parseS3Url(dir);
      const prefix = key === "" || key.endsWith("/") ? key : `${key}/`;
      const { folders, objects } = await (await this.s3()).list(bucket, prefix);
      return [
        ...folders.map((f) => ({ name: f.slice(prefix.length, -1), size: null })),
        ...objects.map((o) => ({ name: o.key.slice(prefix.length), size: o.size })),
      ].filter((e) => e.name !== "");
    }
    try {
      return (await readdir(dir)).map((name) => ({ name, size: null }));
    } catch (err) {
      // Absent, or a stray file where a folder was expected (a README in a day folder): nothing to list.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return [];
      throw new TapeError("E_TAPE_IO", `cannot list: ${(err as Error).message}`, { file: dir, cause: err });
    }
  }

  /** `dir/name` as a path or an S3 address. */
  join(dir: string, ...names: string[]): string {
    return isS3Url(dir) ? [dir.replace(/\/+$/, ""), ...names].join("/") : join(dir, ...names);
  }

  /**
   * A dataset's file, and the file actually opened: a `.open` file sealed since the dataset was listed (renamed to
   * its final name by its writer) is read under that name, whole and sealed.
   */
  async openFile(f: DatasetFile): Promise<{ reader: TapeReader; file: DatasetFile }> {
    try {
      return { reader: await this.openTape(f.path), file: f };
    } catch (err) {
      const sealed = f.open && f.path.endsWith(".open") ? f.path.slice(0, -".open".length) : null;
      const gone =
        err instanceof TapeError && (err.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
      if (sealed === null || isS3Url(f.path) || !gone) throw err;
      const reader = await this.openTape(sealed).catch(() => {
        throw err;
      });
      return { reader, file: { ...f, path: sealed, open: false } };
    }
  }

  /** A `TapeReader` over the file or object at `path`, checked against its manifest entry when it has one. */
  async openTape(path: string): Promise<TapeReader> {
    const reader = await TapeReader.open(await this.open(path));
    const want = this.expected.get(path);
    if (want === undefined) return reader;
    const digest = reader.footer === null ? null : Buffer.from(reader.footer.digest).toString("hex");
    if (reader.size !== want.size || digest !== want.digest) {
      await reader.close();
      const got = digest === null ? "no footer" : `digest ${digest.slice(0, 16)}…`;
      throw new TapeError(
        "E_TAPE_MANIFEST",
        `does not match ${want.manifest}: ${reader.size} bytes, ${got}; the manifest says ${want.size} bytes, digest ${want.digest.slice(0, 16)}…`,
        { file: path },
      );
    }
    return reader;
  }

  /** Checks the file at `path` against this when it is opened. */
  expect(path: string, file: ExpectedFile): void {
    this.expected.set(path, file);
  }

  /** Every expectation, to hand to another `Sources` (a worker thread's). */
  expectations(): [string, ExpectedFile][] {
    return [...this.expected];
  }

  /** A whole small file or object as text, or null when there is none. */
  async readText(path: string, maxBytes: number): Promise<string | null> {
    if (isS3Url(path)) {
      const bytes = await getSmallObject(await this.s3(), parseS3Url(path), maxBytes);
      return bytes === null ? null : Buffer.from(bytes).toString("utf8");
    }
    try {
      const { size } = await stat(path);
      if (size > maxBytes) {
        throw new TapeError("E_TAPE_LIMIT", `file of ${size} bytes, more than the ${maxBytes} expected`, {
          file: path,
        });
      }
      return await readFile(path, "utf8");
    } catch (err) {
      if (err instanceof TapeError) throw err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new TapeError("E_TAPE_IO", `cannot read: ${(err as Error).message}`, { file: path, cause: err });
    }
  }

  /** What S3 cost so far (null when nothing was read from S3). */
  async s3Stats(): Promise<S3Stats | null> {
    return this.storage === null ? null : { ...(await this.storage).stats };
  }

  /** What the cache served and stored so far (null without a cache). */
  cacheStats(): BlockCacheStats | null {
    return this.cache === null ? null : { ...this.cache.stats };
  }

  /** Closes the S3 client's connections, if one was made. */
  async close(): Promise<void> {
    if (this.storage !== null) (await this.storage).close();
  }
}

/**
 * Opens one `.tape` file: a local path, or `s3://bucket/key` (read by ranged GETs; `s3` says how to reach S3).
 * Closing the reader closes the file; an S3 client made here is closed with it.
 */
export async function openTape(
  target: string | RangeSource,
  options: { s3?: S3Options; cache?: BlockCacheOptions; sources?: Sources } = {},
): Promise<TapeReader> {
  if (typeof target !== "string") return TapeReader.open(target);
  if (!isS3Url(target) || options.sources !== undefined)
    return (options.sources ?? new Sources()).openTape(target);
  const sources = new Sources(options.s3, options.cache ?? null);
  try {
    const source = await sources.open(target);
    return await TapeReader.open({
      name: source.name,
      size: source.size,
      ...(source.joinGapBytes !== undefined ? { joinGapBytes: source.joinGapBytes } : {}),
      read: (offset, length) => source.read(offset, length),
      close: async () => {
        await source.close();
        await sources.close();
      },
    });
  } catch (err) {
    await sources.close();
    throw err;
  }
}
