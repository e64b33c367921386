/**
 * S3 access shared by the readers and the sync: one client with the options a deployment needs (endpoint,
 * region, credentials, path-style addressing, checksum behaviour), ranged GETs that retry what is worth retrying
 * and check what came back, listings, a bound on concurrent requests, and counters of what it cost.
 *
 * The AWS SDK is loaded on first use, so that local-only work never pays for it.
 */
import type { GetObjectCommandInput, GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { readAtMost } from "../common/read-at-most.js";
import { TapeError } from "../format/errors.js";
import { backoffMs, httpStatusOf, isRetryable, ShortBodyError } from "./retry.js";
import { type S3Location, s3Url } from "./url.js";

export interface S3Options {
  /** Another S3-compatible endpoint (e.g. `http://127.0.0.1:4566`); default: AWS for the region. */
  endpoint?: string;
  /** Default: the SDK's (AWS_REGION, the profile), else us-east-1. */
  region?: string;
  /** Path-style addresses (`endpoint/bucket/key`), which most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Default: the SDK's chain (environment, profile, instance or task role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** `WHEN_REQUIRED` for servers that do not support the SDK's default checksums. */
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  responseChecksumValidation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /** Tries per request, the first included (default 5). */
  maxAttempts?: number;
  /** Deadline of one try, body included, in ms (default 30000): a stalled response is abandoned and retried. */
  requestTimeoutMs?: number;
  /** Base of the exponential backoff between tries, ms (default 100). */
  retryBaseMs?: number;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
}

/** What an object is: enough to notice that it changed. */
export interface S3ObjectInfo {
  size: number;
  etag: string;
  versionId: string | undefined;
}

/** Requests made and bytes fetched, for reports. */
export interface S3Stats {
  gets: number;
  heads: number;
  lists: number;
  retries: number;
  bytesFetched: number;
}

export class S3Storage {
  readonly stats: S3Stats = { gets: 0, heads: 0, lists: 0, retries: 0, bytesFetched: 0 };
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly retryBaseMs: number;
  private readonly concurrency: number;

  private constructor(
    private readonly client: S3Client,
    private readonly sdk: typeof import("@aws-sdk/client-s3"),
    options: S3Options,
  ) {
    this.maxAttempts = positive(options.maxAttempts, 5, "maxAttempts");
    this.timeoutMs = positive(options.requestTimeoutMs, 30_000, "requestTimeoutMs");
    this.retryBaseMs = positive(options.retryBaseMs, 100, "retryBaseMs");
    this.concurrency = positive(options.concurrency, 16, "concurrency");
  }

  static async create(options: S3Options = {}): Promise<S3Storage> {
    const sdk = await import("@aws-sdk/client-s3");
    const client = new sdk.S3Client({
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(options.requestChecksumCalculation !== undefined
        ? { requestChecksumCalculation: options.requestChecksumCalculation }
        : {}),
      ...(options.responseChecksumValidation !== undefined
        ? { responseChecksumValidation: options.responseChecksumValidation }
        : {}),
      // Retries are ours (below): one policy, counted, and applied to bodies cut short too.
      maxAttempts: 1,
    });
    return new S3Storage(client, sdk, options);
  }

  /** Size and identity of an object. */
  async head(loc: S3Location): Promise<S3ObjectInfo> {
    const out = await this.request(loc, "HEAD", (signal) =>
      this.client.send(new this.sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), {
        abortSignal: signal,
      }),
    );
    this.stats.heads++;
    if (out.ContentLength === undefined || out.ETag === undefined) {
      throw new TapeError("E_TAPE_S3", "HEAD gave no size or ETag", { file: s3Url(loc) });
    }
    return { size: out.ContentLength, etag: out.ETag, versionId: out.VersionId };
  }

  /**
   * Exactly `length` bytes at `offset` of the object as it was when `info` was taken: a body cut short is
   * fetched again; an object replaced since is `E_TAPE_CHANGED`.
   */
  async getRange(loc: S3Location, info: S3ObjectInfo, offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    if (offset < 0 || offset + length > info.size) {
      throw new TapeError("E_TAPE_TRUNCATED", `object ends before ${offset + length}`, {
        file: s3Url(loc),
        offset,
      });
    }
    const asked = `bytes ${offset}-${offset + length - 1}`;
    return this.request(loc, `GET ${asked}`, async (signal) => {
      const { bytes } = await this.get(
        loc,
        {
          Bucket: loc.bucket,
          Key: loc.key,
          Range: `bytes=${offset}-${offset + length - 1}`,
          ...pinned(info),
        },
        signal,
        length,
        (out) => {
          checkIdentity(out, info, loc);
          const answered = parseContentRange(out.ContentRange);
          if (out.ContentRange === undefined) {
            // Without a Content-Range the body is the whole object (the server ignored the range): right only when
            // the whole object was asked for, and no retry would change that.
            if (offset !== 0 || length !== info.size || (out.ContentLength ?? length) !== length)
              throw new TapeError(
                "E_TAPE_S3",
                `the server ignored the byte range: it answered ${out.ContentLength ?? "an unknown number of"} bytes with no Content-Range for ${asked}`,
                { file: s3Url(loc), offset },
              );
          } else if (answered !== null && answered.start === offset && answered.end < offset + length - 1) {
            // Fewer bytes than asked for, where they were asked for: cut short, as a body can be; tried again.
            throw new ShortBodyError(`${out.ContentRange} for ${asked}`);
          } else if (answered === null || answered.start !== offset || answered.end !== offset + length - 1) {
            // Bytes from elsewhere in the object would pass for the block asked for (and be cached as it).
            throw new TapeError(
              "E_TAPE_S3",
              `the server answered Content-Range "${out.ContentRange}" for ${asked}`,
              { file: s3Url(loc), offset },
            );
          } else if (answered.size !== null && answered.size !== info.size) {
            throw new TapeError(
              "E_TAPE_CHANGED",
              `object changed since it was opened: it has ${answered.size} bytes, not ${info.size}`,
              { file: s3Url(loc), offset },
            );
          }
        },
      );
      if (bytes.length !== length) throw new ShortBodyError(`${bytes.length} of ${length} bytes`);
      return bytes;
    });
  }

  /**
   * The last `length` bytes of an object (all of it when smaller), with its size and identity: one GET instead of
   * a HEAD and a GET, since a `.tape` file is opened at its end (trailer and footer).
   */
  async getTail(
    loc: S3Location,
    length: number,
  ): Promise<{ info: S3ObjectInfo; offset: number; bytes: Uint8Array }> {
    try {
      return await this.request(loc, `GET last ${length} bytes`, async (signal) => {
        const { out, bytes } = await this.get(
          loc,
          { Bucket: loc.bucket, Key: loc.key, Range: `bytes=-${length}` },
          signal,
          length,
          (out) => {
            // Every later read is pinned to the ETag: without one the object cannot be read consistently.
            if (out.ETag === undefined)
              throw new TapeError("E_TAPE_S3", "the answer has no ETag, to which reads are pinned", {
                file: s3Url(loc),
              });
            // A whole object (no Content-Range) is right when it is smaller than the tail asked for.
            const partial = out.$metadata.httpStatusCode === 206 || out.ContentRange !== undefined;
            const range = parseContentRange(out.ContentRange);
            if (partial && (range === null || range.size === null || range.end !== range.size - 1))
              throw new TapeError(
                "E_TAPE_S3",
                `the server answered Content-Range ${JSON.stringify(out.ContentRange ?? null)} for the last ${length} bytes`,
                { file: s3Url(loc) },
              );
          },
        );
        const range = parseContentRange(out.ContentRange);
        const size = range?.size ?? bytes.length;
        const offset = range?.start ?? 0;
        if (offset + bytes.length !== size)
          throw new ShortBodyError(`${bytes.length} bytes at ${offset} of ${size}`);
        // The ETag was checked before the body was read.
        return { info: { size, etag: out.ETag!, versionId: out.VersionId }, offset, bytes };
      });
    } catch (err) {
      // An empty object has no range to give (416): its size comes from a HEAD.
      if (!(err instanceof TapeError && httpStatusOf(err.cause) === 416)) throw err;
      const info = await this.head(loc);
      return { info, offset: info.size, bytes: new Uint8Array(0) };
    }
  }

  /**
   * One GetObject and its body, counted; `check` sees the answer's headers before the body is read. A body longer
   * than `maxBytes` (a server that ignored the range, or a runaway answer) is not read further.
   */
  private async get(
    loc: S3Location,
    input: GetObjectCommandInput,
    signal: AbortSignal,
    maxBytes: number,
    check: (out: GetObjectCommandOutput) => void,
  ): Promise<{ out: GetObjectCommandOutput; bytes: Uint8Array }> {
    const out = await this.client.send(new this.sdk.GetObjectCommand(input), { abortSignal: signal });
    this.stats.gets++;
    if (out.Body === undefined) throw new ShortBodyError("no body");
    const body = out.Body as unknown as AsyncIterable<Uint8Array> & { destroy?: () => void };
    let bytes: Uint8Array | null;
    try {
      check(out);
      bytes = await readAtMost(body, maxBytes, (n) => {
        this.stats.bytesFetched += n;
      });
    } catch (err) {
      body.destroy?.();
      throw err;
    }
    if (bytes === null)
      throw new TapeError(
        "E_TAPE_S3",
        `the server sent more than the ${maxBytes} bytes asked for (${input.Range}): it ignored the byte range`,
        { file: s3Url(loc) },
      );
    return { out, bytes };
  }

  /**
   * Every object key and every folder (common prefix, `/` included) directly under `prefix`; with `recursive`,
   * every object at any depth (and no folders).
   */
  async list(
    bucket: string,
    prefix: string,
    options: { recursive?: boolean } = {},
  ): Promise<{ folders: string[]; objects: { key: string; size: number }[] }> {
    const folders: string[] = [];
    const objects: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const out = await this.request({ bucket, key: prefix }, "LIST", (signal) =>
        this.client.send(
          new this.sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ...(options.recursive ? {} : { Delimiter: "/" }),
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      this.stats.lists++;
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix !== undefined) folders.push(p.Prefix);
      for (const o of out.Contents ?? [])
        if (o.Key !== undefined) objects.push({ key: o.Key, size: o.Size ?? 0 });
      if (out.IsTruncated === true) {
        // A listing said to go on must say where, and somewhere new: else it would end short, or never.
        const next = out.NextContinuationToken;
        if (next === undefined || next === token) {
          throw new TapeError(
            "E_TAPE_S3",
            `LIST: the server said the listing goes on but gave ${next === undefined ? "no" : "the same"} continuation token`,
            { file: s3Url({ bucket, key: prefix }) },
          );
        }
        token = next;
      } else token = undefined;
    } while (token !== undefined);
    return { folders, objects };
  }

  /** Stops the client's connections. */
  close(): void {
    this.client.destroy();
  }

  /**
   * Runs one SDK call with this storage's policy (concurrency bound, deadline per try, retries with backoff,
   * typed errors naming the object): for operations that live beside this class (src/s3/object-ops.ts).
   */
  call<T>(
    loc: S3Location,
    what: string,
    send: (client: S3Client, sdk: typeof import("@aws-sdk/client-s3"), signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return this.request(loc, what, (signal) => send(this.client, this.sdk, signal));
  }

  /**
   * `call` for a request that streams a whole object, which may take longer than any fixed deadline: a try is
   * abandoned after `requestTimeoutMs` without a byte, however long it has run. `send` calls `progress` at each
   * chunk.
   */
  callStreaming<T>(
    loc: S3Location,
    what: string,
    send: (
      client: S3Client,
      sdk: typeof import("@aws-sdk/client-s3"),
      signal: AbortSignal,
      progress: () => void,
    ) => Promise<T>,
  ): Promise<T> {
    return this.request(loc, what, (signal, progress) => send(this.client, this.sdk, signal, progress), true);
  }

  /**
   * Runs one request within the concurrency bound, with a deadline per try (for the whole try, or with `idle` for
   * the silence since the last `progress`) and retries with backoff.
   */
  private async request<T>(
    loc: S3Location,
    what: string,
    send: (signal: AbortSignal, progress: () => void) => Promise<T>,
    idle = false,
  ): Promise<T> {
    await this.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        const silence = idle ? new SilenceDeadline(this.timeoutMs) : null;
        try {
          return await send(
            silence?.signal ?? AbortSignal.timeout(this.timeoutMs),
            silence?.progress ?? noop,
          );
        } catch (err) {
          if (attempt + 1 < this.maxAttempts && isRetryable(err)) {
            this.stats.retries++;
            await sleep(backoffMs(attempt, this.retryBaseMs));
            continue;
          }
          throw toTapeError(err, loc, what, attempt + 1);
        } finally {
          silence?.clear();
        }
      }
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter.
    if (next !== undefined) next();
    else this.active--;
  }
}

const noop = () => {};

/** An abort signal that fires after `ms` without a call to `progress` (as `AbortSignal.timeout` does, named so). */
class SilenceDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly signal = this.controller.signal;
  readonly progress = () => this.timer.refresh();

  constructor(ms: number) {
    this.timer = setTimeout(
      () => this.controller.abort(new DOMException(`no data for ${ms} ms`, "TimeoutError")),
      ms,
    );
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** `bytes START-END/SIZE` (SIZE null for `*`), or null when the header is absent or not that. */
export function parseContentRange(
  header: string | undefined,
): { start: number; end: number; size: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header ?? "");
  if (m === null) return null;
  const [start, end] = [Number(m[1]), Number(m[2])];
  const size = m[3] === "*" ? null : Number(m[3]);
  if (
    !Number.isSafeInteger(end) ||
    start > end ||
    (size !== null && (!Number.isSafeInteger(size) || end >= size))
  )
    return null;
  return { start, end, size };
}

/**
 * An answer for another object than the one reads are pinned to: a server that does not honour If-Match (or a
 * version id) would otherwise mix two objects' bytes.
 */
export function checkIdentity(out: GetObjectCommandOutput, info: S3ObjectInfo, loc: S3Location): void {
  const etag = out.ETag !== undefined && out.ETag !== info.etag ? `ETag ${out.ETag}, not ${info.etag}` : null;
  const version =
    info.versionId !== undefined && out.VersionId !== undefined && out.VersionId !== info.versionId
      ? `version ${out.VersionId}, not ${info.versionId}`
      : null;
  if (etag !== null || version !== null)
    throw new TapeError("E_TAPE_CHANGED", `object changed since it was opened: ${etag ?? version}`, {
      file: s3Url(loc),
    });
}

/**
 * Request fields that read the object as `info` saw it. A version pins the bytes; the ETag detects a replaced
 * object, without versioning and also with it: in a bucket whose versioning is suspended, the version "null" is
 * overwritten in place by the next PUT.
 */
export function pinned(info: S3ObjectInfo): { VersionId?: string; IfMatch: string } {
  return { ...(info.versionId !== undefined ? { VersionId: info.versionId } : {}), IfMatch: info.etag };
}

function toTapeError(err: unknown, loc: S3Location, what: string, attempts: number): TapeError {
  // Our own checks of an answer say what is wrong already.
  if (err instanceof TapeError) return err;
  const status = httpStatusOf(err);
  const name = (err as { name?: string }).name ?? "Error";
  const detail = `${what}: ${name}${status !== undefined ? ` (HTTP ${status})` : ""}: ${(err as Error).message}`;
  const tries = attempts > 1 ? ` after ${attempts} tries` : "";
  const file = s3Url(loc);
  if (status === 412 || name === "PreconditionFailed") {
    return new TapeError("E_TAPE_CHANGED", `object changed since it was opened (${detail})`, {
      file,
      cause: err,
    });
  }
  if (err instanceof ShortBodyError) {
    // The connection failed, not the object: a transfer error like any other that outlasted its retries.
    return new TapeError("E_TAPE_S3", `response cut short${tries} (${detail})`, { file, cause: err });
  }
  return new TapeError("E_TAPE_S3", `${detail}${tries}`, { file, cause: err });
}

function positive(v: number | undefined, fallback: number, field: string): number {
  if (v === undefined) return fallback;
  if (!(Number.isInteger(v) && v > 0))
    throw new TapeError("E_TAPE_VALUE", `${field} must be a positive integer`, { field });
  return v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
