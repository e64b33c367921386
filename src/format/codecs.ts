/**
 * Block codecs. The codec id is stored in every block header; every codec stays readable forever.
 * - 0 `none`: the body as is.
 * - 1 `lz4`: u32 LE uncompressed length, then one LZ4 block (the LZ4 block format, no frame).
 * - 2 `zstd`: one Zstandard frame (RFC 8878) whose header carries the content size.
 * Before decompressing, the size a payload claims is checked against the block header, so a corrupt or
 * hostile block cannot make the reader allocate more than the block header's limit.
 */

import { createRequire } from "node:module";
import { compressSync as lz4Compress, uncompressSync as lz4Uncompress } from "lz4-napi";
import { TapeError } from "./errors.js";

export const CODECS = ["none", "lz4", "zstd"] as const;
export type Codec = (typeof CODECS)[number];
export const CODEC_ID: Record<Codec, number> = { none: 0, lz4: 1, zstd: 2 };
/** The zstd level the writer uses: measured (docs/benchmarks.md) as the best size for the encode speed. */
export const DEFAULT_ZSTD_LEVEL = 3;

// The native binding is CommonJS without named exports for ESM: loaded through require.
const { CCtx, CParameter, DCtx, EndDirective, ResetDirective, compressBound } = createRequire(
  import.meta.url,
)("zstd-napi/binding.js") as typeof import("zstd-napi/binding.js");

/**
 * One compression context and one output buffer, reused by every block, as for decompression below: a fresh
 * output buffer per block costs its page faults, and a copy to trim it.
 */
const cctx = new CCtx();
let cctxLevel: number | null = null;
let zstdCompressed = Buffer.allocUnsafe(1 << 20);

/**
 * The stored form of a block body. The result is valid until the next call (it may be a shared buffer).
 *
 * `parts`: where parts of the body end (its columns: docs/FORMAT.md §12.3). With zstd each part ends a zstd
 * block of the frame, so that each column's bytes get entropy tables of their own instead of one set for all;
 * matches still reach across parts. Trade blocks come out about 5% smaller, book blocks 2–4%, for about 4% more
 * time to encode and 3% more to decode (docs/FORMAT.md §12.3).
 */
export function compressBody(
  codec: Codec,
  body: Uint8Array,
  zstdLevel = DEFAULT_ZSTD_LEVEL,
  parts: readonly number[] = [],
): Uint8Array {
  switch (codec) {
    case "none":
      return body;
    case "lz4":
      return lz4Compress(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    case "zstd": {
      // A flushed block costs at most a few bytes more than the bound of its part.
      const bound = compressBound(body.length) + 8 * parts.length;
      if (zstdCompressed.length < bound)
        zstdCompressed = Buffer.allocUnsafe(Math.max(bound, 2 * zstdCompressed.length));
      if (parts.length === 0)
        return zstdCompressed.subarray(0, cctx.compress(zstdCompressed, body, zstdLevel));
      return zstdCompressed.subarray(0, compressInParts(body, zstdLevel, parts));
    }
  }
}

/** One zstd frame (content size in its header) whose blocks end where the parts do; returns its length. */
function compressInParts(body: Uint8Array, level: number, parts: readonly number[]): number {
  cctx.reset(ResetDirective.sessionOnly);
  if (cctxLevel !== level) {
    cctx.setParameter(CParameter.compressionLevel, level);
    cctxLevel = level;
  }
  cctx.setPledgedSrcSize(body.length);
  let written = 0;
  let from = 0;
  for (let i = 0; i <= parts.length; i++) {
    const last = i === parts.length;
    const to = last ? body.length : parts[i]!;
    let input = body.subarray(from, to);
    from = to;
    for (;;) {
      const [left, out, used] = cctx.compressStream2(
        zstdCompressed.subarray(written),
        input,
        last ? EndDirective.end : EndDirective.flush,
      );
      written += out;
      input = input.subarray(used);
      if (left === 0 && input.length === 0) break;
      // The output buffer is sized for the whole frame: a call that moves nothing would repeat forever.
      if (out === 0 && used === 0)
        throw new TapeError("E_TAPE_STATE", "zstd made no progress compressing a block");
    }
  }
  return written;
}

function corrupt(message: string, offset: number): never {
  throw new TapeError("E_TAPE_CORRUPT", message, { offset, field: "body" });
}

/** Frame_Content_Size of a zstd frame, or -1 when the frame does not carry it. */
function zstdContentSize(b: Uint8Array, offset: number): number {
  if (b.length < 6) corrupt("zstd frame too short", offset);
  const magic = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  if (magic >>> 0 !== 0xfd2fb528) corrupt("not a zstd frame", offset);
  const fhd = b[4]!;
  const fcsFlag = fhd >>> 6;
  const singleSegment = (fhd >>> 5) & 1;
  const dictIdFlag = fhd & 3;
  let p = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictIdFlag]!;
  const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  if (fcsSize === 0) return -1;
  if (b.length < p + fcsSize) corrupt("zstd frame header truncated", offset);
  let size = 0;
  let mul = 1;
  for (let i = 0; i < fcsSize; i++, mul *= 256) size += b[p++]! * mul;
  return fcsSize === 2 ? size + 256 : size;
}

/**
 * One decompression context and one output buffer, reused by every block: a fresh buffer per block costs a
 * page fault per 4 KiB on first touch, as much as the decompression itself. Decoding is synchronous and copies
 * what it keeps, so one buffer serves every call.
 */
const dctx = new DCtx();
let zstdOut = Buffer.allocUnsafe(1 << 20);

/**
 * Decompresses a stored body that must expand to exactly `rawLength` bytes. The result is valid until the next
 * call (it may be a shared buffer): callers copy what they keep.
 */
export function decompressBody(
  codecId: number,
  stored: Uint8Array,
  rawLength: number,
  offset: number,
): Uint8Array {
  let out: Uint8Array;
  try {
    switch (codecId) {
      case 0:
        out = stored;
        break;
      case 1: {
        if (stored.length < 4) corrupt("lz4 payload too short", offset);
        const claimed = (stored[0]! | (stored[1]! << 8) | (stored[2]! << 16) | (stored[3]! << 24)) >>> 0;
        if (claimed !== rawLength)
          corrupt(`lz4 payload claims ${claimed} bytes, header says ${rawLength}`, offset);
        out = lz4Uncompress(Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength));
        break;
      }
      case 2: {
        const claimed = zstdContentSize(stored, offset);
        if (claimed !== rawLength)
          corrupt(`zstd frame claims ${claimed} bytes, header says ${rawLength}`, offset);
        if (zstdOut.length < rawLength) zstdOut = Buffer.allocUnsafe(Math.max(rawLength, 2 * zstdOut.length));
        const n = dctx.decompress(zstdOut, stored);
        out = zstdOut.subarray(0, n);
        break;
      }
      default:
        throw new TapeError("E_TAPE_CORRUPT", `unknown codec id ${codecId}`, { offset, field: "codec" });
    }
  } catch (err) {
    if (err instanceof TapeError) throw err;
    throw new TapeError("E_TAPE_CORRUPT", `cannot decompress: ${(err as Error).message}`, {
      offset,
      field: "body",
      cause: err,
    });
  }
  if (out.length !== rawLength)
    corrupt(`body expands to ${out.length} bytes, header says ${rawLength}`, offset);
  return out;
}
