/** NDJSON compressed with zstd level 3 (zstd's default speed/size balance). */
import { compress, decompress } from "zstd-napi";
import { ndjsonPeer } from "./ndjson.js";

export const ndjsonZstdPeer = ndjsonPeer("NDJSON + zstd-3", {
  compress: (data) => compress(data, { compressionLevel: 3 }),
  decompress: (data) => decompress(data),
});
