/** The `.tape` format: bytes in, records and columns out, with thin file wrappers. */
export type { BlockHeader, DecodedBlock } from "./block.js";
export { MAX_BLOCK_ROWS } from "./block.js";
export { BlockIndex } from "./block-index.js";
export { type Checkpoint, type CheckpointLevel, decodeCheckpoint } from "./checkpoint.js";
export { CODECS, type Codec, DEFAULT_ZSTD_LEVEL } from "./codecs.js";
export type { BytesColumn, Column, IntColumn, StringColumn, U8Column } from "./columns.js";
export { crc32c } from "./crc32c.js";
export { type Decimal, formatDecimal, type Mantissa, parseDecimal } from "./decimal.js";
export { isFileDamage, TapeError, type TapeErrorCode, TapeValueError } from "./errors.js";
export type { Footer, KindStats } from "./footer.js";
export { type FileHeader, FORMAT_MAJOR, FORMAT_MINOR } from "./header.js";
export { type JsonRecord, recordFromJson, recordToJson } from "./json.js";
export type { BookBatch, MantissasInput, OffsetsInput, TradeBatch } from "./kind-buffer.js";
export {
  type OnDamagedBlock,
  type OpenOptions,
  type Recovery,
  recoveryLoss,
  type TapeFilter,
  TapeReader,
  type VerifyIssue,
  type VerifyReport,
} from "./reader.js";
export * from "./records.js";
export { type RepairResult, repairedPath, repairTape } from "./repair.js";
export { blockRecords, blockRows, recordReader, rowReader } from "./rows.js";
export { CHECKPOINT_KIND_ID } from "./schema.js";
export { BytesSource, FileSource, type RangeSource } from "./source.js";
export { type KindSummary, type SymbolSummary, summarize, type TapeSummary } from "./summary.js";
export {
  type BlockPolicy,
  DEFAULT_BLOCK_POLICY,
  DEFAULT_CODEC,
  encodeTape,
  type SealSummary,
  TapeEncoder,
  TapeWriter,
  type TapeWriterOptions,
} from "./writer.js";

import { TapeReader } from "./reader.js";
/** Opens a tape file (or any RangeSource). */
export const openTape = TapeReader.open;
