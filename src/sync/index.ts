/** The daily EFS → S3 sync: DataSync runs, proven copies, repairs, the day's manifest and retention (docs/SYNC.md). */

export {
  type DataSyncFilter,
  type DataSyncOptions,
  type DataSyncResult,
  DataSyncRunner,
} from "./datasync.js";
export { checkDate, type DayListing, listDay, type SourceFile } from "./day-files.js";
export {
  type Destination,
  MANIFEST_NAME,
  manifestLocation,
  objectOf,
  parseDestination,
} from "./destination.js";
export {
  buildManifest,
  describeFile,
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestEvent,
  type ManifestFile,
  parseManifest,
} from "./manifest.js";
export { metricsOf, metricsOfError, metricsText, type SyncMetrics, writeMetrics } from "./metrics.js";
export { type PruneDay, type PruneOptions, prune } from "./prune.js";
export { type RepairMethod, repairFiles } from "./repair.js";
export { defaultStateDir, KEPT_ALGORITHMS, SourceChecksums } from "./source-checksums.js";
export {
  compareWithManifest,
  type SyncOptions,
  type SyncResult,
  type SyncStatus,
  syncDay,
} from "./sync-day.js";
export {
  type FileCheck,
  VERDICTS,
  type Verdict,
  type VerifyOptions,
  type VerifyReport,
  verifyDay,
} from "./verify.js";
