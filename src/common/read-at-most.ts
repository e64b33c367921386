import { concatBytes } from "./concat-bytes.js";

/**
 * A response body read whole but bounded: its chunks joined into one plain Uint8Array, or null as soon as they
 * pass `max` bytes (the rest is not read). `onChunk` is told each chunk's length as it arrives (for counters).
 */
export async function readAtMost(
  body: AsyncIterable<Uint8Array>,
  max: number,
  onChunk?: (bytes: number) => void,
): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    onChunk?.(chunk.length);
    if (length > max) return null;
    chunks.push(chunk);
  }
  // A plain Uint8Array, as callers slice it (a Buffer's `slice` would share memory where theirs copies).
  const only = chunks.length === 1 ? chunks[0]! : null;
  if (only !== null) return new Uint8Array(only.buffer, only.byteOffset, only.length);
  return concatBytes(chunks);
}
