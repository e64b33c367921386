// The recorder subsystem's public surface.
export { BookFeed, type LevelChange, type Stamp } from "./book-feed.js";
export {
  type CapturedFrame,
  type CapturedMessage,
  type CapturedRest,
  formatCaptureLine,
  messageOfRaw,
  parseCaptureLine,
  rawText,
  readCapture,
} from "./capture.js";
export { type Clock, offsetClock, systemClock } from "./clock.js";
export { loadRecorderConfig, parseRecorderConfig, type RecorderConfig } from "./config.js";
export type {
  ConnectionPlan,
  Connector,
  FeedContext,
  FeedCounters,
  FeedSelection,
  Heartbeat,
  VenueUrls,
} from "./connector.js";
export {
  createConnector,
  isVenueId,
  VENUE_IDS,
  VENUES,
  type VenueEntry,
  type VenueId,
  venueEntry,
} from "./connectors/index.js";
export { okxChecksum } from "./connectors/okx.js";
export { Feed, type FeedOptions, type FeedStats } from "./feed.js";
export { FeedThread, type FeedThreadOptions } from "./feed-thread.js";
export { FeedWriter, type FeedWriterOptions, type FeedWriterStats, type FlushAck } from "./feed-writer.js";
export { type HourSealReport, listParts, sealHour, setAside } from "./hour-sealer.js";
export { HourlyWriter, type HourlyWriterOptions } from "./hourly-writer.js";
export { type IngestOptions, type IngestSummary, ingest, messagesOf } from "./ingest.js";
export { JsonNumber, type JsonObject, type JsonValue, parseJsonText } from "./json-text.js";
export { LevelBook, type TextLevel } from "./level-book.js";
export { type FeedConfig, LiveFeed } from "./live-feed.js";
export { createLog, type RecorderLog, silentLog } from "./log.js";
export { RecorderMetrics } from "./metrics.js";
export { Recorder, type RecorderOptions } from "./recorder.js";
export {
  feedOfSimulator,
  type SimBook,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "./simulators/index.js";
