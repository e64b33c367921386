/**
 * Typed errors of the tape format. Every error has a stable `code` that callers can switch on, and its message
 * names the file, the byte offset and the field where that is known.
 */
export type TapeErrorCode =
  | "E_TAPE_NOT_A_TAPE"
  | "E_TAPE_VERSION"
  | "E_TAPE_CRC"
  | "E_TAPE_TRUNCATED"
  | "E_TAPE_CORRUPT"
  | "E_TAPE_LIMIT"
  | "E_TAPE_DIGEST"
  | "E_TAPE_NO_TRAILER"
  | "E_TAPE_VALUE"
  | "E_TAPE_STATE"
  | "E_TAPE_IO"
  /** A dataset has no file for an hour of the range (reader). */
  | "E_TAPE_MISSING"
  /** A file holds records too far before its hour for an ordered replay (reader). */
  | "E_TAPE_ORDER"
  /** An exchange message that is not valid JSON or lacks a field of the right type (recorder). */
  | "E_TAPE_FRAME"
  /** A line of a capture file that is not one of the capture forms (recorder). */
  | "E_TAPE_CAPTURE"
  /** A recorder configuration that names an unknown key or holds a bad value. */
  | "E_TAPE_CONFIG"
  /** An S3 request failed for good: denied, no such bucket or key, or still failing after every retry. */
  | "E_TAPE_S3"
  /** An S3 object changed (another ETag) between opening it and reading a range of it. */
  | "E_TAPE_CHANGED"
  /** A day's manifest is unreadable, or a file does not match it (sync, datasets opened with requireManifest). */
  | "E_TAPE_MANIFEST"
  /** A day cannot be synced yet or a sync step failed for good (DataSync error, day not closed). */
  | "E_TAPE_SYNC";

export interface TapeErrorDetails {
  file?: string | undefined;
  offset?: number | undefined;
  field?: string | undefined;
  cause?: unknown;
}

export class TapeError extends Error {
  override readonly name: string = "TapeError";
  readonly code: TapeErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly field: string | undefined;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(code: TapeErrorCode, message: string, details: TapeErrorDetails = {}) {
    super(TapeError.describe(message, details), details.cause === undefined ? {} : { cause: details.cause });
    this.code = code;
    this.reason = message;
    this.file = details.file;
    this.offset = details.offset;
    this.field = details.field;
  }

  private static describe(message: string, d: TapeErrorDetails): string {
    const where: string[] = [];
    if (d.file !== undefined) where.push(d.file);
    if (d.offset !== undefined) where.push(`offset ${d.offset}`);
    if (d.field !== undefined) where.push(`field ${d.field}`);
    return where.length > 0 ? `${where.join(", ")}: ${message}` : message;
  }

  /** The same error located in a file (decoders work on bytes and do not know the file name). */
  inFile(file: string, baseOffset = 0): TapeError {
    if (this.file !== undefined) return this;
    return new TapeError(this.code, this.reason, {
      file,
      offset: this.offset === undefined ? undefined : this.offset + baseOffset,
      field: this.field,
      cause: this.cause,
    });
  }
}

/** A value handed to the writer cannot be stored exactly. */
export class TapeValueError extends TapeError {
  override readonly name = "TapeValueError";
  constructor(message: string, field: string) {
    super("E_TAPE_VALUE", message, { field });
  }
}

/**
 * Whether `err` is about the file's own bytes (damage a reader may recover from or skip), as opposed to the bytes
 * not being fetched at all (a local I/O error, an S3 request that failed for good, an object replaced while read):
 * those say nothing about the file, and always stop the read.
 */
export function isFileDamage(err: unknown): err is TapeError {
  return (
    err instanceof TapeError &&
    err.code !== "E_TAPE_IO" &&
    err.code !== "E_TAPE_S3" &&
    err.code !== "E_TAPE_CHANGED"
  );
}
