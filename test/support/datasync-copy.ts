/**
 * The copy that the local DataSync emulator performs: lists an EFS stand-in directory, tells which files
 * TransferMode CHANGED would leave alone, and uploads a file to S3 as DataSync does (mtime in the object's
 * metadata, one PUT or a multipart upload) with the checksum of the bytes actually sent, faults included.
 */
import { createHash } from "node:crypto";
import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { crc32 } from "@node-rs/crc32";

export type ChecksumAlgorithm = "CRC32" | "SHA256";

/** A regular file below the source location. */
export interface SourceFile {
  /** Relative to the source location, `/`-separated, no leading slash. */
  readonly path: string;
  readonly abs: string;
  readonly size: number;
  readonly mtimeNs: bigint;
}

export interface Destination {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix ("" or ending in "/"). */
  readonly prefix: string;
}

/** What goes wrong with one file on its way to S3. */
export interface UploadFaults {
  /** Send this many bytes fewer than the file has (the end is cut off). */
  truncateBytes?: number;
  /** Flip every bit of the byte at this offset of the bytes sent (negative: from the end). */
  flipOffset?: number;
}

export interface UploadedFile {
  readonly path: string;
  readonly key: string;
  readonly sourceBytes: number;
  readonly uploadedBytes: number;
  readonly algorithm: ChecksumAlgorithm;
  /** The checksum sent with the PUT, or the per-part checksums of a multipart upload, base64. */
  readonly partChecksums: readonly string[];
  readonly multipart: boolean;
  readonly faults: UploadFaults;
}

/** The user-metadata key DataSync keeps a file's modification time under; CHANGED mode compares it. */
export const MTIME_METADATA_KEY = "file-mtime";

function mtimeValue(file: SourceFile): string {
  return `${file.mtimeNs}ns`;
}

/** Every regular file below `root`, in path order. */
export async function listFiles(root: string): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const abs = join(dir, entry.name);
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(abs, path);
      else if (entry.isFile()) {
        const st = await stat(abs, { bigint: true });
        out.push({ path, abs, size: Number(st.size), mtimeNs: st.mtimeNs });
      }
    }
  };
  await walk(root, "");
  return out;
}

/** The file as it is now (it may have grown since it was listed), or null when it is gone. */
export async function restat(file: SourceFile): Promise<SourceFile | null> {
  try {
    const st = await stat(file.abs, { bigint: true });
    return { ...file, size: Number(st.size), mtimeNs: st.mtimeNs };
  } catch {
    return null;
  }
}

/** True when the destination already holds an object of the same size and modification time (CHANGED mode). */
export async function isUnchanged(dest: Destination, file: SourceFile): Promise<boolean> {
  try {
    const head = await dest.s3.send(
      new HeadObjectCommand({ Bucket: dest.bucket, Key: dest.prefix + file.path }),
    );
    return head.ContentLength === file.size && head.Metadata?.[MTIME_METADATA_KEY] === mtimeValue(file);
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return false;
    throw e;
  }
}

function checksumOf(algorithm: ChecksumAlgorithm, bytes: Uint8Array): string {
  if (algorithm === "SHA256") return createHash("sha256").update(bytes).digest("base64");
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(bytes) >>> 0);
  return out.toString("base64");
}

function checksumField(algorithm: ChecksumAlgorithm, value: string) {
  return algorithm === "SHA256" ? { ChecksumSHA256: value } : { ChecksumCRC32: value };
}

export interface UploadOptions {
  readonly partBytes: number;
  readonly algorithm: ChecksumAlgorithm;
  readonly signal: AbortSignal;
}

/**
 * Uploads one file. The checksum sent is computed over the bytes sent, after any fault, because real S3
 * computes it on receipt while the S3 emulator stores whatever it is given. A cancelled or failed multipart
 * upload is aborted, so no half-written object is ever left behind.
 */
export async function uploadFile(
  dest: Destination,
  file: SourceFile,
  faults: UploadFaults,
  options: UploadOptions,
): Promise<UploadedFile> {
  const { s3, bucket } = dest;
  const key = dest.prefix + file.path;
  const length = Math.max(0, file.size - (faults.truncateBytes ?? 0));
  let flipAt: number | undefined;
  if (faults.flipOffset !== undefined && length > 0) {
    const at = faults.flipOffset < 0 ? length + faults.flipOffset : faults.flipOffset;
    flipAt = Math.min(Math.max(at, 0), length - 1);
  }
  const metadata = { [MTIME_METADATA_KEY]: mtimeValue(file), "user-agent": "aws-datasync" };
  const sendOptions = { abortSignal: options.signal };
  const handle = await open(file.abs, "r");
  const read = async (at: number, len: number): Promise<Buffer> => {
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await handle.read(buf, got, len - got, at + got);
      if (bytesRead === 0) throw new Error(`${file.path} shrank while it was being copied`);
      got += bytesRead;
    }
    if (flipAt !== undefined && flipAt >= at && flipAt < at + len)
      buf[flipAt - at] = buf[flipAt - at]! ^ 0xff;
    return buf;
  };
  const result = (partChecksums: string[], multipart: boolean): UploadedFile => ({
    path: file.path,
    key,
    sourceBytes: file.size,
    uploadedBytes: length,
    algorithm: options.algorithm,
    partChecksums,
    multipart,
    faults,
  });
  try {
    if (length <= options.partBytes) {
      const body = await read(0, length);
      const checksum = checksumOf(options.algorithm, body);
      options.signal.throwIfAborted();
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: length,
          Metadata: metadata,
          ...checksumField(options.algorithm, checksum),
        }),
        sendOptions,
      );
      return result([checksum], false);
    }
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        Metadata: metadata,
        ChecksumAlgorithm: options.algorithm,
      }),
      sendOptions,
    );
    const parts: { ETag: string; PartNumber: number; ChecksumCRC32?: string; ChecksumSHA256?: string }[] = [];
    const checksums: string[] = [];
    try {
      for (let at = 0, n = 1; at < length; at += options.partBytes, n++) {
        options.signal.throwIfAborted();
        const body = await read(at, Math.min(options.partBytes, length - at));
        const checksum = checksumOf(options.algorithm, body);
        const { ETag } = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: n,
            Body: body,
            ContentLength: body.length,
            ...checksumField(options.algorithm, checksum),
          }),
          sendOptions,
        );
        parts.push({ ETag: ETag!, PartNumber: n, ...checksumField(options.algorithm, checksum) });
        checksums.push(checksum);
      }
      options.signal.throwIfAborted();
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      // Not under the abort signal: the abort must reach S3 even when the execution was cancelled.
      await s3
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
        .catch(() => undefined);
      throw e;
    }
    return result(checksums, true);
  } finally {
    await handle.close();
  }
}
