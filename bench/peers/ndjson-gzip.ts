/** NDJSON compressed with gzip level 6 (the zlib default), the most common way market data is archived. */
import { gunzipSync, gzipSync } from "node:zlib";
import { ndjsonPeer } from "./ndjson.js";

export const ndjsonGzipPeer = ndjsonPeer("NDJSON + gzip-6", {
  compress: (data) => gzipSync(data, { level: 6 }),
  decompress: (data) => gunzipSync(data),
});
