/** The reader subsystem: datasets, the ordered replay, columnar scans and order books. */
export { type Batch, type BatchOptions, withinRange } from "./batches.js";
export { type BookSnapshot, type BookSnapshotOptions, parseDuration } from "./books.js";
export {
  Dataset,
  type DatasetFile,
  type DatasetOptions,
  datasetOfFiles,
  FILE_LEAD_NS,
  type MissingHour,
  openDataset,
  type TimeInput,
} from "./dataset.js";
export { parseTapeName, type TapeName, tapeName, tapeRelativePath } from "./layout.js";
export { type Level, OrderBook } from "./order-book.js";
export { assignShares, shardFrom } from "./partition.js";
export type { ReplayOptions, ReplayRecord, ReplayRow } from "./replay.js";
export { openTape, Sources } from "./sources.js";
