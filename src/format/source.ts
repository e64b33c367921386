/** Random-access byte sources: a local file, or bytes in memory. (S3 objects implement the same interface.) */
import { type FileHandle, open } from "node:fs/promises";
import { TapeError } from "./errors.js";

export interface RangeSource {
  /** For error messages: a path or URL. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset` (throws E_TAPE_TRUNCATED when the source is shorter). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * How many bytes of blocks not asked for a read may span to join its neighbours into one request (default
   * 128 KiB): more where a request costs more than the bytes (S3).
   */
  readonly joinGapBytes?: number;
  /** The same into `target` (its first `length` bytes), when the source can avoid a new buffer. */
  readInto?(offset: number, length: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export class FileSource implements RangeSource {
  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let fh: FileHandle | null = null;
    try {
      fh = await open(path, "r");
      const stat = await fh.stat();
      // A folder opens for reading on Linux, and fails at the first read.
      if (!stat.isFile()) throw new Error("not a file");
      return new FileSource(path, stat.size, fh);
    } catch (err) {
      await fh?.close();
      throw new TapeError("E_TAPE_IO", `cannot open: ${(err as Error).message}`, { file: path, cause: err });
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(offset, length, buf);
    return buf;
  }

  async readInto(offset: number, length: number, buf: Uint8Array): Promise<void> {
    let done = 0;
    while (done < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(buf, done, length - done, offset + done));
      } catch (err) {
        throw new TapeError("E_TAPE_IO", `cannot read: ${(err as Error).message}`, {
          file: this.name,
          offset: offset + done,
          cause: err,
        });
      }
      if (bytesRead === 0) {
        throw new TapeError("E_TAPE_TRUNCATED", `file ends before ${offset + length}`, {
          file: this.name,
          offset: offset + done,
        });
      }
      done += bytesRead;
    }
  }

  private closed = false;

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

export class BytesSource implements RangeSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = "<memory>",
  ) {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.size) {
      throw new TapeError("E_TAPE_TRUNCATED", `source ends before ${offset + length}`, {
        file: this.name,
        offset,
      });
    }
    return this.bytes.subarray(offset, offset + length);
  }
  async close(): Promise<void> {}
}
