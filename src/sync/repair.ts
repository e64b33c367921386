/**
 * Copies again the files whose S3 copy is missing or different: through a DataSync execution limited to exactly
 * those files (every one transferred, whatever the destination holds), or by direct uploads whose checksums S3
 * checks on receipt.
 */
import type { ChecksumAlgorithm } from "../s3/checksums.js";
import { uploadFile } from "../s3/object-ops.js";
import type { S3Storage } from "../s3/storage.js";
import type { DataSyncRunner } from "./datasync.js";
import type { SourceFile } from "./day-files.js";
import { type Destination, objectOf } from "./destination.js";
import { mapConcurrent } from "./pool.js";

export type RepairMethod = "datasync" | "upload";

export interface RepairOptions {
  method: RepairMethod;
  storage: S3Storage;
  destination: Destination;
  /** Needed for the `datasync` method. */
  runner?: DataSyncRunner | null;
  /** Upload checksum (default CRC64NVME, a full-object checksum even for multipart uploads). */
  algorithm?: ChecksumAlgorithm;
  /** Upload part size (default 64 MiB). */
  partBytes?: number;
}

export async function repairFiles(files: readonly SourceFile[], options: RepairOptions): Promise<void> {
  if (files.length === 0) return;
  if (options.method === "datasync") {
    if (!options.runner) throw new Error("repair by DataSync needs a DataSync task");
    // DataSync filter paths are relative to the source location, which is the dataset root.
    await options.runner.run({
      includes: files.map((f) => `/${f.relative}`),
      excludes: [],
      transferAll: true,
    });
    return;
  }
  await mapConcurrent(files, 4, (f) =>
    uploadFile(options.storage, f.path, objectOf(options.destination, f.relative), {
      algorithm: options.algorithm ?? "CRC64NVME",
      partBytes: options.partBytes ?? 64 * 1024 * 1024,
      metadata: { "source-mtime": String(Math.round(f.mtimeMs)) },
    }),
  );
}
