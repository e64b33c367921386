/**
 * Frames in one buffer, for handing the frames of one turn of the socket thread to a feed thread (feed-thread.ts)
 * in one message whose buffer is transferred, not copied. Each frame: connection (u32), socket (u32), receive time
 * (i64 ns), length (u32), then its bytes as received.
 */

const HEADER = 20;

export class FrameBatchWriter {
  private buf: Buffer;
  private at = 0;
  private count = 0;

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  get frames(): number {
    return this.count;
  }

  add(connection: number, socket: number, recvNs: bigint, bytes: Uint8Array): void {
    const need = this.at + HEADER + bytes.length;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, need));
      this.buf.copy(grown, 0, 0, this.at);
      this.buf = grown;
    }
    const b = this.buf;
    b.writeUInt32LE(connection, this.at);
    b.writeUInt32LE(socket, this.at + 4);
    b.writeBigInt64LE(recvNs, this.at + 8);
    b.writeUInt32LE(bytes.length, this.at + 16);
    b.set(bytes, this.at + HEADER);
    this.at = need;
    this.count++;
  }

  /**
   * The batch so far, its buffer handed over (to be transferred): the next frames go into a new buffer as large as
   * this batch was, so that a steady stream settles on one size.
   */
  take(): { buffer: ArrayBuffer; length: number; frames: number } {
    const out = { buffer: this.buf.buffer as ArrayBuffer, length: this.at, frames: this.count };
    this.buf = Buffer.allocUnsafeSlow(Math.max(this.initialBytes, this.at + (this.at >> 2)));
    this.at = 0;
    this.count = 0;
    return out;
  }
}

/** Calls `each` for every frame of a batch, in order; `bytes` is a view into `buffer`. */
export function readFrames(
  buffer: ArrayBuffer,
  length: number,
  each: (connection: number, socket: number, recvNs: bigint, bytes: Buffer) => void,
): void {
  const b = Buffer.from(buffer, 0, length);
  let at = 0;
  while (at < length) {
    if (at + HEADER > length) throw new Error(`frame batch: a header past the end at byte ${at}`);
    const n = b.readUInt32LE(at + 16);
    const end = at + HEADER + n;
    if (end > length) throw new Error(`frame batch: a frame past the end at byte ${at}`);
    each(b.readUInt32LE(at), b.readUInt32LE(at + 4), b.readBigInt64LE(at + 8), b.subarray(at + HEADER, end));
    at = end;
  }
}
