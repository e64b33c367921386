/** Export: Arrow record batches and IPC streams, Parquet, CSV and NDJSON files (docs/EXPORT.md). */
export { DECIMAL_PRECISION, DECIMAL_SCALE } from "./arrow-columns.js";
export { ArrowTable, type ArrowTableOptions, type DecimalMode } from "./arrow-table.js";
export {
  type ConvertOptions,
  type ConvertProgress,
  type ConvertSplit,
  type ConvertSummary,
  convert,
} from "./convert.js";
export type { ConvertedFile } from "./convert-pass.js";
export { EXPORT_FORMATS, type ExportFormat } from "./formats.js";
export { PARQUET_ROW_GROUP_ROWS, ParquetWriter, type ParquetWriterOptions } from "./parquet-writer.js";
export { ArrowIpcEncoder, arrowIpcStream, type ToArrowOptions, toArrow } from "./to-arrow.js";
