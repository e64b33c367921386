/**
 * Sealing what is valid in an unsealed (`.open`) or damaged file: the header and every whole block with a valid
 * CRC are copied, a new footer and trailer are written, and the result is renamed into place atomically.
 */
import { createHash } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32c } from "./crc32c.js";
import { TapeError } from "./errors.js";
import { encodeFooter, encodeTrailer, statsOf, TRAILER_BYTES } from "./footer.js";
import { TapeReader } from "./reader.js";
import { syncDirectory } from "./writer.js";

export interface RepairResult {
  source: string;
  /** The sealed file written (null when the source was already sealed and intact). */
  output: string | null;
  blocks: number;
  rows: number;
  /** Bytes of the source that held no valid block and were not copied. */
  droppedBytes: number;
  /** Why the scan stopped, if it stopped before the end. */
  stop: string | null;
}

/** Default output for `X.tape.open` is `X.tape`; for any other name, `NAME.repaired.tape`. */
export function repairedPath(path: string): string {
  return path.endsWith(".tape.open") ? path.slice(0, -".open".length) : `${path.replace(/\.tape$/, "")}.repaired.tape`;
}

export async function repairTape(
  path: string,
  options: { output?: string; keepSource?: boolean } = {},
): Promise<RepairResult> {
  const reader = await TapeReader.open(path);
  try {
    const rows = reader.blocks.reduce((n, b) => n + b.rowCount, 0);
    if (reader.recovery === null) {
      return { source: path, output: null, blocks: reader.blocks.length, rows, droppedBytes: 0, stop: null };
    }
    const output = options.output ?? repairedPath(path);
    const tmp = `${output}.repair-${process.pid}`;
    const fh = await open(tmp, "wx");
    try {
      const hash = createHash("sha256");
      let at = 0;
      const put = async (bytes: Uint8Array) => {
        await fh.write(bytes, 0, bytes.length, at);
        at += bytes.length;
      };
      // The body is copied verbatim: blocks keep their offsets, so the index stays as scanned.
      const bodyEnd = reader.recovery.validEnd;
      for (let pos = 0; pos < bodyEnd; pos += 8 << 20) {
        const chunk = await reader.source.read(pos, Math.min(8 << 20, bodyEnd - pos));
        hash.update(chunk);
        await put(chunk);
      }
      const symbols: string[] = [];
      for (const b of reader.blocks) symbols[b.symbolId] = b.symbol;
      const footer = encodeFooter({
        symbols: Array.from(symbols, (s) => s ?? ""),
        blocks: reader.blocks,
        stats: statsOf(reader.blocks),
        digest: new Uint8Array(hash.digest()),
      });
      await put(footer);
      await put(
        encodeTrailer({
          footerOffset: bodyEnd,
          footerLength: footer.length,
          footerCrc: crc32c(footer),
          fileLength: bodyEnd + footer.length + TRAILER_BYTES,
        }),
      );
      await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw new TapeError("E_TAPE_IO", `repair failed: ${(err as Error).message}`, { file: path, cause: err });
    }
    await fh.close();
    await rename(tmp, output);
    await syncDirectory(dirname(output));
    if (!options.keepSource && output !== path) await rm(path);
    return {
      source: path,
      output,
      blocks: reader.blocks.length,
      rows,
      droppedBytes: reader.recovery.droppedBytes,
      stop: reader.recovery.stop?.message ?? null,
    };
  } finally {
    await reader.close();
  }
}
