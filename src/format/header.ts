/** The file header: magic, version, and what the file holds (exchange, capture id, period, metadata). */
import { ByteReader, ByteWriter, hasLoneSurrogate, utf8 } from "./bytes.js";
import { crc32c } from "./crc32c.js";
import { TapeError, TapeValueError } from "./errors.js";

export const FILE_MAGIC = "TICKTAPE";
export const FORMAT_MAJOR = 1;
/** The newest minor version this library reads and writes (1.1 adds book checkpoints). */
export const FORMAT_MINOR = 1;
export const HEADER_FIXED = 36;
/** Fixed part, two empty strings, an empty metadata count and the CRC. */
const MIN_HEADER = HEADER_FIXED + 2 + 2 + 2 + 4;
export const MAX_HEADER_BYTES = 64 * 1024;
const MAX_FIELD = 1024;
const MAX_META = 256;
const MAX_META_VALUE = 16 * 1024;

/** The writer enforces the reader's limits, so that it never writes a header it could not read. */
function checkField(v: unknown, field: string, max: number): void {
  if (typeof v !== "string") throw new TapeValueError("expected a string", field);
  if (utf8(v).length > max) throw new TapeValueError(`longer than ${max} bytes`, field);
  if (hasLoneSurrogate(v)) throw new TapeValueError("not well-formed Unicode (lone surrogate)", field);
}

export interface FileHeader {
  major: number;
  minor: number;
  exchange: string;
  captureId: string;
  /** Start and end (exclusive) of the period the file covers, ns since the epoch; 0 when not set. */
  periodStart: bigint;
  periodEnd: bigint;
  meta: Record<string, string>;
  /** Bytes of the header, CRC included: where the first block starts. */
  length: number;
}

export type HeaderInput = Omit<FileHeader, "major" | "minor" | "length">;

/** `minor`: the minor version of the features the file uses (§11 of docs/FORMAT.md). */
export function encodeHeader(h: HeaderInput, minor = FORMAT_MINOR): Uint8Array {
  const w = new ByteWriter(256);
  for (let i = 0; i < 8; i++) w.u8(FILE_MAGIC.charCodeAt(i));
  w.u16(FORMAT_MAJOR);
  w.u16(minor);
  w.u32(0); // header length, patched below
  w.u32(0); // flags
  w.i64(h.periodStart);
  w.i64(h.periodEnd);
  checkField(h.exchange, "exchange", MAX_FIELD);
  checkField(h.captureId, "captureId", MAX_FIELD);
  w.string16(h.exchange);
  w.string16(h.captureId);
  // By the keys' UTF-8 bytes (code point order), which any language can reproduce; JavaScript's own string order
  // (UTF-16 units) differs for characters beyond U+FFFF.
  const entries = Object.entries(h.meta).sort(([a], [b]) => Buffer.compare(utf8(a), utf8(b)));
  if (entries.length > MAX_META)
    throw new TapeError("E_TAPE_LIMIT", `more than ${MAX_META} metadata entries`);
  w.u16(entries.length);
  for (const [k, v] of entries) {
    checkField(k, "meta key", MAX_FIELD);
    checkField(v, `meta.${k}`, MAX_META_VALUE);
    w.string16(k);
    w.string16(v);
  }
  const length = w.pos + 4;
  if (length > MAX_HEADER_BYTES) throw new TapeError("E_TAPE_LIMIT", `header of ${length} bytes`);
  new DataView(w.buf.buffer).setUint32(12, length, true);
  w.u32(crc32c(w.buf.subarray(0, w.pos)));
  return w.finish();
}

/** Checks the magic and version of the first bytes of a file (at least 16 bytes). */
export function checkPreamble(buf: Uint8Array): { major: number; minor: number; length: number } {
  if (buf.length < 16)
    throw new TapeError("E_TAPE_NOT_A_TAPE", "file too short for a tape header", { offset: 0 });
  for (let i = 0; i < 8; i++) {
    if (buf[i] !== FILE_MAGIC.charCodeAt(i)) {
      throw new TapeError("E_TAPE_NOT_A_TAPE", "not a tape file (bad magic)", { offset: 0, field: "magic" });
    }
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const major = v.getUint16(8, true);
  const minor = v.getUint16(10, true);
  if (major !== FORMAT_MAJOR) {
    throw new TapeError(
      "E_TAPE_VERSION",
      `format version ${major}.${minor} is not supported (this reader reads ${FORMAT_MAJOR}.x)`,
      { offset: 8, field: "version" },
    );
  }
  const length = v.getUint32(12, true);
  if (length < MIN_HEADER || length > MAX_HEADER_BYTES) {
    throw new TapeError("E_TAPE_CORRUPT", `implausible header length ${length}`, {
      offset: 12,
      field: "headerLength",
    });
  }
  return { major, minor, length };
}

/** Decodes the header from the first `length` bytes of the file (see checkPreamble). */
export function decodeHeader(buf: Uint8Array): FileHeader {
  const { major, minor, length } = checkPreamble(buf);
  if (buf.length < length)
    throw new TapeError("E_TAPE_TRUNCATED", "header cut short", { offset: 0, field: "header" });
  const stored = new DataView(buf.buffer, buf.byteOffset + length - 4, 4).getUint32(0, true);
  if (crc32c(buf.subarray(0, length - 4)) !== stored) {
    throw new TapeError("E_TAPE_CRC", "header CRC32C mismatch", { offset: length - 4, field: "header.crc" });
  }
  const r = new ByteReader(buf, 20, length - 4);
  const periodStart = r.i64("periodStart");
  const periodEnd = r.i64("periodEnd");
  const exchange = r.string16("exchange", MAX_FIELD);
  const captureId = r.string16("captureId", MAX_FIELD);
  const count = r.u16("meta.count");
  if (count > MAX_META) r.fail(`${count} metadata entries`, "meta.count", "E_TAPE_LIMIT");
  const meta: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const k = r.string16("meta.key", MAX_FIELD);
    if (Object.hasOwn(meta, k)) r.fail(`metadata key ${JSON.stringify(k)} appears twice`, "meta.key");
    // Defined, not assigned: a key `__proto__` is an entry like any other.
    Object.defineProperty(meta, k, {
      value: r.string16("meta.value", MAX_META_VALUE),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  // A later minor version may append fields before the CRC: they are skipped.
  return { major, minor, exchange, captureId, periodStart, periodEnd, meta, length };
}
