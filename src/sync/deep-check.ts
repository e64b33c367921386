/**
 * The deep check of an S3 copy, made while its bytes stream in (no temporary file, one pass): every block's
 * CRC32C over its stored bytes (no decompression: the CRC covers the stored bytes) and the file digest (SHA-256
 * of every byte before the footer). Block boundaries and the digest come from the source file's footer: once the
 * copy's CRC64NVME equals the source's, the copy's footer is the same bytes, so checking against it is checking
 * the copy as its own footer describes it.
 */
import { createHash, type Hash } from "node:crypto";
import { crc32c } from "../format/crc32c.js";
import { TapeError } from "../format/errors.js";
import { TapeReader } from "../format/reader.js";

/** Where a sealed tape's blocks are, and its digest. */
export interface TapeLayout {
  blocks: readonly { offset: number; length: number }[];
  footerOffset: number;
  digest: Uint8Array;
}

/** The layout of a local sealed tape, or the reason it has none. */
export async function tapeLayout(path: string): Promise<TapeLayout | string> {
  let reader: TapeReader;
  try {
    reader = await TapeReader.open(path, { recover: false });
  } catch (err) {
    return err instanceof TapeError ? `${err.code}: ${err.reason}` : (err as Error).message;
  }
  try {
    return { blocks: reader.blocks, footerOffset: reader.footerOffset, digest: reader.footer!.digest };
  } finally {
    await reader.close();
  }
}

/** Fed the object's bytes in order; `problem()` at the end says what is wrong, or null. */
export class StreamingTapeCheck {
  private position = 0;
  private block = 0;
  private crc = 0;
  /** The block's stored CRC (its last 4 bytes), gathered across chunks. */
  private readonly stored = new Uint8Array(4);
  private firstProblem: string | null = null;
  private readonly sha: Hash = createHash("sha256");

  constructor(private readonly layout: TapeLayout) {}

  update(chunk: Uint8Array): void {
    const start = this.position;
    const end = start + chunk.length;
    const { footerOffset, blocks } = this.layout;
    if (start < footerOffset)
      this.sha.update(chunk.subarray(0, Math.min(chunk.length, footerOffset - start)));
    let at = start;
    while (at < end && this.block < blocks.length) {
      const b = blocks[this.block]!;
      if (at < b.offset) {
        at = Math.min(end, b.offset);
        continue;
      }
      const bodyEnd = b.offset + b.length - 4;
      if (at < bodyEnd) {
        const upto = Math.min(end, bodyEnd);
        this.crc = crc32c(chunk.subarray(at - start, upto - start), this.crc);
        at = upto;
        continue;
      }
      const upto = Math.min(end, b.offset + b.length);
      this.stored.set(chunk.subarray(at - start, upto - start), at - bodyEnd);
      at = upto;
      if (at === b.offset + b.length) this.endBlock(b.offset);
    }
    this.position = end;
  }

  problem(): string | null {
    if (this.firstProblem !== null) return this.firstProblem;
    if (this.block < this.layout.blocks.length || this.position < this.layout.footerOffset) {
      return `E_TAPE_TRUNCATED: the object ends at ${this.position}, before its blocks do`;
    }
    return Buffer.compare(this.sha.digest(), this.layout.digest) === 0
      ? null
      : "E_TAPE_DIGEST: file digest (SHA-256) mismatch";
  }

  private endBlock(offset: number): void {
    const stored = new DataView(this.stored.buffer).getUint32(0, true);
    if (stored !== this.crc >>> 0 && this.firstProblem === null) {
      this.firstProblem = `E_TAPE_CRC at offset ${offset}: block CRC32C mismatch (stored 0x${stored.toString(16).padStart(8, "0")}, computed 0x${(this.crc >>> 0).toString(16).padStart(8, "0")})`;
    }
    this.block++;
    this.crc = 0;
  }
}
