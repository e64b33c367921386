/**
 * The deep check of a downloaded copy: every block's CRC32C over its stored bytes (no decompression: the CRC
 * covers the stored bytes) and the file digest (SHA-256 of every byte before the footer), as the footer lists
 * them. Faster than `TapeReader.verify`, which also decodes every block, and enough to prove the bytes intact.
 */
import { checkBlockCrc } from "../format/block.js";
import { TapeError } from "../format/errors.js";
import { sha256, TapeReader } from "../format/reader.js";

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
    return Buffer.compare(await sha256(reader.source, reader.footerOffset), footer.digest) === 0
      ? null
      : "E_TAPE_DIGEST: file digest (SHA-256) mismatch";
  } finally {
    await reader.close();
  }
}
