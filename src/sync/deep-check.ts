/**
 * The deep check of a downloaded copy: every block's CRC32C over its stored bytes (no decompression: the CRC
 * covers the stored bytes) and the file digest (SHA-256 of every byte before the footer), as the footer lists
 * them. Faster than `TapeReader.verify`, which also decodes every block, and enough to prove the bytes intact.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { checkBlockCrc } from "../format/block.js";
import { TapeError } from "../format/errors.js";
import { TapeReader } from "../format/reader.js";

const READ_BYTES = 4 * 1024 * 1024;

/** Null when the file is a sealed tape whose blocks and digest check; else what is wrong, with its offset. */
export async function deepCheckFile(path: string): Promise<string | null> {
  let reader: TapeReader;
  try {
    reader = await TapeReader.open(path, { recover: false });
  } catch (err) {
    return err instanceof TapeError ? `${err.code}: ${err.reason}` : (err as Error).message;
  }
  try {
    const footer = reader.footer!;
    for (const b of reader.blocks) {
      try {
        checkBlockCrc(await reader.fetchBlock(b), b);
      } catch (err) {
        if (err instanceof TapeError) return `${err.code} at offset ${b.offset}: ${err.reason}`;
        throw err;
      }
    }
    const hash = createHash("sha256");
    const file = await open(path, "r");
    try {
      const buf = Buffer.allocUnsafe(READ_BYTES);
      for (let at = 0; at < reader.footerOffset; ) {
        const { bytesRead } = await file.read(buf, 0, Math.min(READ_BYTES, reader.footerOffset - at), at);
        if (bytesRead === 0) return `E_TAPE_TRUNCATED at offset ${at}`;
        hash.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
    } finally {
      await file.close();
    }
    return Buffer.compare(hash.digest(), footer.digest) === 0
      ? null
      : "E_TAPE_DIGEST: file digest (SHA-256) mismatch";
  } finally {
    await reader.close();
  }
}
