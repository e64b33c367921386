/**
 * Sealing what is valid in an unsealed (`.open`) or damaged file: the header and every block that reads back
 * whole (CRC, codec, columns) are copied, a new footer and trailer are written, and the result is renamed into
 * place atomically. The source is removed only once the sealed copy is on disk (unless kept).
 */
import { createHash } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFully } from "../common/write-fully.js";
import type { BlockHeader } from "./block.js";
import { crc32c } from "./crc32c.js";
import { TapeError } from "./errors.js";
import { encodeFooter, encodeTrailer, statsOf, TRAILER_BYTES } from "./footer.js";
import { TapeReader } from "./reader.js";
import { exists, syncDirectory } from "./writer.js";

export interface RepairResult {
  source: string;
  /** The sealed file written (null when the source was already sealed and intact). */
  output: string | null;
  blocks: number;
  rows: number;
  /** Bytes of the source's body that held no valid block and were not copied. */
  droppedBytes: number;
  /** Blocks that were damaged and left out. */
  droppedBlocks: number;
  /** Why reading stopped early or what was damaged, if anything. */
  stop: string | null;
}

/** Default output for `X.tape.open` is `X.tape`; for any other name, `NAME.repaired.tape`. */
export function repairedPath(path: string): string {
  return path.endsWith(".tape.open")
    ? path.slice(0, -".open".length)
    : `${path.replace(/\.tape$/, "")}.repaired.tape`;
}

export async function repairTape(
  path: string,
  options: { output?: string; keepSource?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<RepairResult> {
  const reader = await TapeReader.open(path);
  try {
    const report = await reader.verify(
      options.onProgress === undefined ? {} : { onProgress: options.onProgress },
    );
    if (report.ok) {
      return {
        source: path,
        output: null,
        blocks: reader.blocks.length,
        rows: report.rows,
        droppedBytes: 0,
        droppedBlocks: 0,
        stop: null,
      };
    }
    const good: BlockHeader[] = [];
    for (const b of reader.blocks) {
      try {
        // As verify checks it: what is copied, the repaired file's verify accepts.
        await reader.checkBlock(b);
        good.push(b);
      } catch (err) {
        if (!(err instanceof TapeError)) throw err;
      }
    }
    const output = options.output ?? repairedPath(path);
    if (output !== path && (await exists(output))) {
      throw new TapeError("E_TAPE_IO", "the repaired file exists already; remove it or pass another output", {
        file: output,
      });
    }
    const tmp = `${output}.repair-${process.pid}`;
    const fh = await open(tmp, "wx");
    const kept: BlockHeader[] = [];
    let at = 0;
    try {
      const hash = createHash("sha256");
      const put = async (bytes: Uint8Array) => {
        hash.update(bytes);
        await writeFully(fh, bytes, at);
        at += bytes.length;
      };
      await put(await reader.source.read(0, reader.header.length));
      // Blocks are self-contained: each is copied and indexed at its new offset. Symbol ids are numbered again
      // in order of first use, as a writer numbers them: a scanned file's ids are any u32, and the dictionary
      // is as long as the largest. A writer's own ids are unchanged, and so are its blocks' bytes.
      const ids = new Map<string, number>();
      for (const b of good) {
        if (!ids.has(b.symbol)) ids.set(b.symbol, ids.size);
        const symbolId = ids.get(b.symbol)!;
        kept.push({ ...b, offset: at, symbolId });
        const bytes = await reader.source.read(b.offset, b.length);
        await put(symbolId === b.symbolId ? bytes : withSymbolId(bytes, symbolId));
      }
      const footer = encodeFooter({
        symbols: [...ids.keys()],
        blocks: kept,
        stats: statsOf(kept),
        digest: new Uint8Array(hash.digest()),
      });
      const footerOffset = at;
      await writeFully(fh, footer, at);
      at += footer.length;
      const trailer = encodeTrailer({
        footerOffset,
        footerLength: footer.length,
        footerCrc: crc32c(footer),
        fileLength: at + TRAILER_BYTES,
      });
      await writeFully(fh, trailer, at);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw new TapeError("E_TAPE_IO", `repair failed: ${(err as Error).message}`, {
        file: path,
        cause: err,
      });
    }
    await fh.close();
    await rename(tmp, output);
    await syncDirectory(dirname(output));
    if (!options.keepSource && output !== path) await rm(path);
    const bodyEnd = reader.recovery === null ? reader.footerOffset : reader.size;
    const keptBytes = kept.reduce((n, b) => n + b.length, 0);
    return {
      source: path,
      output,
      blocks: kept.length,
      rows: kept.reduce((n, b) => n + b.rowCount, 0),
      droppedBytes: bodyEnd - reader.header.length - keptBytes,
      droppedBlocks: reader.blocks.length - good.length,
      // A missing trailer is what a .open file is; report only real damage.
      stop: report.issues.find((i) => i.code !== "E_TAPE_NO_TRAILER")?.message ?? null,
    };
  } finally {
    await reader.close();
  }
}

/** A copy of a block's bytes with another symbol id (block header offset 12, §4.1) and the CRC that goes with it. */
function withSymbolId(block: Uint8Array, symbolId: number): Uint8Array {
  const out = Uint8Array.from(block);
  const view = new DataView(out.buffer);
  view.setUint32(12, symbolId, true);
  view.setUint32(out.length - 4, crc32c(out.subarray(0, out.length - 4)), true);
  return out;
}
