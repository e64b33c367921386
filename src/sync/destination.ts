/** Where a day's files go in S3: `s3://bucket/prefix` + `<date>/<exchange>/<name>`. */
import { parseS3Url, type S3Location } from "../s3/url.js";

export interface Destination {
  bucket: string;
  /** The key prefix, empty or ending in `/`. */
  prefix: string;
}

export function parseDestination(url: string): Destination {
  const { bucket, key } = parseS3Url(url);
  return { bucket, prefix: key === "" || key.endsWith("/") ? key : `${key}/` };
}

/** The object of a file at `relative` (`<date>/<exchange>/<name>`). */
export function objectOf(dest: Destination, relative: string): S3Location {
  return { bucket: dest.bucket, key: `${dest.prefix}${relative}` };
}

export const MANIFEST_NAME = "_MANIFEST.json";

export function manifestLocation(dest: Destination, date: string): S3Location {
  return objectOf(dest, `${date}/${MANIFEST_NAME}`);
}
