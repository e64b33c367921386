/**
 * The end of a sealed `.tape` file as the reference writer lays it out: the footer's digest section (the SHA-256
 * of every byte before the footer, FORMAT.md §8.5) followed by the trailer (§8.6). Its 71 bytes name the file's
 * content, so comparing them between a source file and its S3 copy is a format-level check that costs one small
 * ranged GET.
 */
import { open } from "node:fs/promises";
import { DIGEST_SHA256, SECTION, TRAILER_BYTES, TRAILER_MAGIC } from "../format/footer.js";

/** Digest section (tag, length, algorithm, digest length, 32 bytes) + trailer. */
export const TAPE_TAIL_BYTES = 1 + 4 + 1 + 1 + 32 + TRAILER_BYTES;

/** The SHA-256 file digest (hex) a tape tail carries, or null when the bytes are not one. */
export function digestOfTail(tail: Uint8Array, fileSize: number): string | null {
  if (tail.length !== TAPE_TAIL_BYTES) return null;
  const v = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const t = TAPE_TAIL_BYTES - TRAILER_BYTES;
  for (let i = 0; i < 8; i++) if (tail[t + 24 + i] !== TRAILER_MAGIC.charCodeAt(i)) return null;
  const fileLength = Number(v.getBigUint64(t + 16, true));
  // The digest section: its tag, a 34-byte payload, the algorithm and a 32-byte SHA-256.
  if (
    fileLength !== fileSize ||
    tail[0] !== SECTION.digest ||
    v.getUint32(1, true) !== 34 ||
    tail[5] !== DIGEST_SHA256 ||
    tail[6] !== 32
  )
    return null;
  return Buffer.from(tail.subarray(7, 39)).toString("hex");
}

/** The last `TAPE_TAIL_BYTES` of a local file (fewer when the file is shorter). */
export async function readLocalTail(path: string, size: number): Promise<Uint8Array> {
  const length = Math.min(size, TAPE_TAIL_BYTES);
  const file = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    await file.read(buf, 0, length, size - length);
    return buf;
  } finally {
    await file.close();
  }
}
