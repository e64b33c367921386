/**
 * Writing all of a buffer to a file. A write may store fewer bytes than asked (a disk filling up, a file-size
 * limit) and still succeed: the rest must be written again, and it is then that the failure is reported.
 */
import type { FileHandle } from "node:fs/promises";

/**
 * Writes `data` at file offset `at` (or, with `at` null, at the file's position), from byte `progress.done` on,
 * until all of it is written; `progress` says how far it got when a write throws.
 */
export async function writeFully(
  fh: FileHandle,
  data: Uint8Array,
  at: number | null,
  progress = { done: 0 },
): Promise<void> {
  while (progress.done < data.length) {
    const { done } = progress;
    const { bytesWritten } = await fh.write(data, done, data.length - done, at === null ? null : at + done);
    // A write that stores nothing and reports no error would be asked again forever.
    if (bytesWritten === 0) throw Object.assign(new Error("the write stored no byte"), { code: "EIO" });
    progress.done += bytesWritten;
  }
}
