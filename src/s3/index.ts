/** S3 access shared by the readers (replay from S3) and the sync. */
export { BlockCache, type BlockCacheOptions, type BlockCacheStats } from "./block-cache.js";
export {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumOf,
  compositeChecksum,
  crc64Implementation,
  createHasher,
  type FileChecksums,
  fileChecksums,
  type Hasher,
} from "./checksums.js";
export type { ObjectHead, ObjectPart, StoredChecksum } from "./object-ops.js";
export { S3ObjectSource } from "./object-source.js";
export { type S3ObjectInfo, type S3Options, type S3Stats, S3Storage } from "./storage.js";
export { isS3Url, parseS3Url, type S3Location, s3Url } from "./url.js";
