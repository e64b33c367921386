/** `s3://bucket/key` addresses. */
import { TapeError } from "../format/errors.js";

export interface S3Location {
  bucket: string;
  /** The key, or a prefix (no leading `/`; may be empty). */
  key: string;
}

export function isS3Url(s: string): boolean {
  return s.startsWith("s3://");
}

/** Parses `s3://bucket/key`; the key may be empty (`s3://bucket`). */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  // Bucket names: 3–63 characters of lower-case letters, digits, '.' and '-'.
  if (m === null || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) {
    throw new TapeError("E_TAPE_VALUE", `not an S3 address (s3://bucket/key): ${JSON.stringify(url)}`, {
      field: "url",
    });
  }
  return { bucket: m[1]!, key: m[2]! };
}

export function s3Url(location: S3Location): string {
  return `s3://${location.bucket}/${location.key}`;
}
