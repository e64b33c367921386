/**
 * The S3 operations of the sync, on top of `S3Storage`'s policy (bounded concurrency, retries, typed errors):
 * an object's stored checksum and parts, small PUTs, a file uploaded with checksums, a whole object read as a
 * stream, and deletes.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { ChecksumAlgorithm as SdkChecksumAlgorithm } from "@aws-sdk/client-s3";
import { TapeError } from "../format/errors.js";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumOf,
  createHasher,
  toBase64,
} from "./checksums.js";
import { httpStatusOf, ShortBodyError } from "./retry.js";
import { checkIdentity, pinned, type S3ObjectInfo, type S3Storage } from "./storage.js";
import { type S3Location, s3Url } from "./url.js";

/** The checksum S3 keeps with an object. */
export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64; a composite value ends in `-<part count>`. */
  value: string;
  /** FULL_OBJECT: over all the bytes; COMPOSITE: over the parts' checksums (multipart uploads). */
  type: "FULL_OBJECT" | "COMPOSITE";
}

export interface ObjectHead extends S3ObjectInfo {
  checksum: StoredChecksum | null;
  metadata: Record<string, string>;
}

export interface ObjectPart {
  number: number;
  size: number;
  /** The part's own checksum, when the object keeps one per part. */
  checksum: string | null;
}

/** HEAD with the stored checksum (checksum mode), or null when there is no such object. */
export async function headObject(storage: S3Storage, loc: S3Location): Promise<ObjectHead | null> {
  try {
    const out = await storage.call(loc, "HEAD", (client, sdk, signal) =>
      client.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key, ChecksumMode: "ENABLED" }), {
        abortSignal: signal,
      }),
    );
    storage.stats.heads++;
    if (out.ContentLength === undefined || out.ETag === undefined) {
      throw new TapeError("E_TAPE_S3", "HEAD gave no size or ETag", { file: s3Url(loc) });
    }
    return {
      size: out.ContentLength,
      etag: out.ETag,
      versionId: out.VersionId,
      checksum: storedChecksum(out),
      metadata: out.Metadata ?? {},
    };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Whether the object at `loc` is the one these uploaded parts make: its size, and its ETag, which S3 makes for a
 * multipart upload from the parts' (the MD5 of their MD5s, then "-" and their count).
 */
async function madeOf(
  storage: S3Storage,
  loc: S3Location,
  size: number,
  parts: readonly { ETag: string }[],
): Promise<boolean> {
  const head = await headObject(storage, loc).catch(() => null);
  if (head === null || head.size !== size) return false;
  const md5 = createHash("md5");
  for (const p of parts) md5.update(Buffer.from(p.ETag.replaceAll('"', ""), "hex"));
  return head.etag.replaceAll('"', "") === `${md5.digest("hex")}-${parts.length}`;
}

/** The parts of a multipart object with their sizes and checksums (GetObjectAttributes, every page). */
export async function objectParts(storage: S3Storage, loc: S3Location): Promise<ObjectPart[]> {
  const parts: ObjectPart[] = [];
  let marker: string | undefined;
  for (;;) {
    const out = await storage.call(loc, "GetObjectAttributes", (client, sdk, signal) =>
      client.send(
        new sdk.GetObjectAttributesCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          ObjectAttributes: ["ObjectParts", "Checksum", "ObjectSize"],
          MaxParts: 1000,
          ...(marker !== undefined ? { PartNumberMarker: marker } : {}),
        }),
        { abortSignal: signal },
      ),
    );
    storage.stats.heads++;
    for (const p of out.ObjectParts?.Parts ?? []) {
      if (p.PartNumber === undefined || p.Size === undefined) continue;
      parts.push({ number: p.PartNumber, size: p.Size, checksum: storedChecksum(p)?.value ?? null });
    }
    if (!out.ObjectParts?.IsTruncated) break;
    const next = out.ObjectParts.NextPartNumberMarker;
    if (next === undefined || String(next) === marker) break;
    marker = String(next);
  }
  return parts.sort((a, b) => a.number - b.number);
}

/** A whole small object, or null when there is none. */
export async function getSmallObject(
  storage: S3Storage,
  loc: S3Location,
  maxBytes: number,
): Promise<Uint8Array | null> {
  const head = await headObject(storage, loc);
  if (head === null) {
    // A HEAD answers 404 without saying what is missing: the object, or its whole bucket (a mistyped name must
    // not read as "no such object", e.g. a day without its manifest).
    if (!(await bucketExists(storage, loc))) {
      throw new TapeError("E_TAPE_S3", `no such bucket: ${loc.bucket}`, { file: s3Url(loc) });
    }
    return null;
  }
  if (head.size > maxBytes) {
    throw new TapeError("E_TAPE_LIMIT", `object of ${head.size} bytes, more than the ${maxBytes} expected`, {
      file: s3Url(loc),
    });
  }
  return storage.getRange(loc, head, 0, head.size);
}

/** Whether the bucket of `loc` exists (HEAD of the bucket). */
async function bucketExists(storage: S3Storage, loc: S3Location): Promise<boolean> {
  try {
    await storage.call(loc, "HEAD bucket", (client, sdk, signal) =>
      client.send(new sdk.HeadBucketCommand({ Bucket: loc.bucket }), { abortSignal: signal }),
    );
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** PUTs an object in one request, with its checksum. */
export async function putObject(
  storage: S3Storage,
  loc: S3Location,
  body: Uint8Array,
  options: { algorithm?: ChecksumAlgorithm; contentType?: string; metadata?: Record<string, string> } = {},
): Promise<void> {
  const algorithm = options.algorithm ?? "CRC32";
  await storage.call(loc, "PUT", (client, sdk, signal) =>
    client.send(
      new sdk.PutObjectCommand({
        Bucket: loc.bucket,
        Key: loc.key,
        Body: body,
        ContentLength: body.length,
        ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
        ...(options.metadata !== undefined ? { Metadata: options.metadata } : {}),
        ...checksumField(algorithm, checksumOf(algorithm, body)),
      }),
      { abortSignal: signal },
    ),
  );
}

export async function deleteObject(storage: S3Storage, loc: S3Location): Promise<void> {
  await storage.call(loc, "DELETE", (client, sdk, signal) =>
    client.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: signal }),
  );
}

/**
 * Uploads a local file with a checksum S3 checks on receipt: one PUT up to `partBytes`, else a multipart upload
 * whose parts each carry their checksum (CRC64NVME as a full-object checksum, the others as composite). An upload
 * that fails is aborted, so no partial object is left.
 */
export async function uploadFile(
  storage: S3Storage,
  path: string,
  loc: S3Location,
  options: { algorithm: ChecksumAlgorithm; partBytes: number; metadata?: Record<string, string> },
): Promise<void> {
  const { algorithm, partBytes } = options;
  const file = await open(path, "r");
  try {
    const size = (await file.stat()).size;
    const read = async (offset: number, length: number) => {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.read(buf, 0, length, offset);
      if (bytesRead !== length) {
        throw new TapeError("E_TAPE_TRUNCATED", `file shrank while uploaded`, { file: path, offset });
      }
      return buf;
    };
    if (size <= partBytes) {
      const body = await read(0, size);
      await putObject(storage, loc, body, {
        algorithm,
        ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      });
      return;
    }
    const metadata = options.metadata !== undefined ? { Metadata: options.metadata } : {};
    // CRC64NVME is a full-object checksum, taken over the parts as they are read.
    const whole = algorithm === "CRC64NVME" ? createHasher(algorithm) : null;
    const created = await storage.call(loc, "CreateMultipartUpload", (client, sdk, signal) =>
      client.send(
        new sdk.CreateMultipartUploadCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          ChecksumAlgorithm: algorithm as SdkChecksumAlgorithm,
          ChecksumType: whole !== null ? "FULL_OBJECT" : "COMPOSITE",
          ...metadata,
        }),
        { abortSignal: signal },
      ),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new TapeError("E_TAPE_S3", "no upload id", { file: s3Url(loc) });
    try {
      const parts: { PartNumber: number; ETag: string; [k: string]: unknown }[] = [];
      for (let offset = 0, n = 1; offset < size; offset += partBytes, n++) {
        const body = await read(offset, Math.min(partBytes, size - offset));
        whole?.update(body);
        const sum = checksumOf(algorithm, body);
        const out = await storage.call(loc, `UploadPart ${n}`, (client, sdk, signal) =>
          client.send(
            new sdk.UploadPartCommand({
              Bucket: loc.bucket,
              Key: loc.key,
              UploadId: uploadId,
              PartNumber: n,
              Body: body,
              ContentLength: body.length,
              ...checksumField(algorithm, sum),
            }),
            { abortSignal: signal },
          ),
        );
        if (out.ETag === undefined)
          throw new TapeError("E_TAPE_S3", `part ${n} has no ETag`, { file: s3Url(loc) });
        parts.push({ PartNumber: n, ETag: out.ETag, ...checksumField(algorithm, sum) });
      }
      await storage
        .call(loc, "CompleteMultipartUpload", (client, sdk, signal) =>
          client.send(
            new sdk.CompleteMultipartUploadCommand({
              Bucket: loc.bucket,
              Key: loc.key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts },
              ...(whole !== null
                ? { ChecksumType: "FULL_OBJECT", ...checksumField(algorithm, toBase64(whole.digest())) }
                : {}),
            }),
            { abortSignal: signal },
          ),
        )
        .catch(async (err: unknown) => {
          // A try whose answer was lost may have completed the upload; the next one then finds no upload.
          if (!(await madeOf(storage, loc, size, parts))) throw err;
        });
    } catch (err) {
      await storage
        .call(loc, "AbortMultipartUpload", (client, sdk, signal) =>
          client.send(
            new sdk.AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId }),
            { abortSignal: signal },
          ),
        )
        .catch(() => {});
      throw err;
    }
  } finally {
    await file.close();
  }
}

/**
 * Reads a whole object as a stream, handing each chunk to what `startTry` returns. Each try starts with
 * `startTry` (a fresh checksum: a retried read starts again from the first byte). Nothing is kept in memory
 * beyond a chunk.
 */
export async function streamObject(
  storage: S3Storage,
  loc: S3Location,
  info: S3ObjectInfo,
  startTry: () => (bytes: Uint8Array) => void,
): Promise<void> {
  // However big the object, a try is given up only when the data stops coming.
  await storage.callStreaming(loc, "GET", async (client, sdk, signal, progress) => {
    const onChunk = startTry();
    const out = await client.send(
      new sdk.GetObjectCommand({
        Bucket: loc.bucket,
        Key: loc.key,
        ...pinned(info),
      }),
      { abortSignal: signal },
    );
    storage.stats.gets++;
    if (out.Body === undefined) throw new TapeError("E_TAPE_S3", "GET gave no body", { file: s3Url(loc) });
    checkIdentity(out, info, loc);
    let received = 0;
    for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
      progress();
      received += chunk.length;
      storage.stats.bytesFetched += chunk.length;
      if (received > info.size)
        throw new TapeError(
          "E_TAPE_CHANGED",
          `object changed since it was opened: more than its ${info.size} bytes`,
          {
            file: s3Url(loc),
          },
        );
      onChunk(chunk);
    }
    if (received !== info.size) throw new ShortBodyError(`GET gave ${received} of ${info.size} bytes`);
  });
}

/** The checksum field of a request (`ChecksumCRC32: …`). */
function checksumField(algorithm: ChecksumAlgorithm, value: string): Record<string, string> {
  return { [`Checksum${algorithm}`]: value };
}

function storedChecksum(response: object): StoredChecksum | null {
  const out = response as Record<string, unknown>;
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = out[`Checksum${algorithm}`];
    if (typeof value !== "string" || value === "") continue;
    const declared = out.ChecksumType;
    const type =
      declared === "COMPOSITE" || declared === "FULL_OBJECT"
        ? declared
        : /-\d+$/.test(value)
          ? "COMPOSITE"
          : "FULL_OBJECT";
    return { algorithm, value, type };
  }
  return null;
}

function isNotFound(err: unknown): boolean {
  const cause = err instanceof TapeError ? err.cause : err;
  const name = (cause as { name?: string } | undefined)?.name;
  return httpStatusOf(cause) === 404 || name === "NotFound" || name === "NoSuchKey";
}
