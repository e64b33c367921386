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
export type {
  ConnectionPlan,
  Connector,
  FeedContext,
  FeedCounters,
  FeedSelection,
  Heartbeat,
  VenueUrls,
} from "./connector.js";
export { createConnector, isVenueId, VENUE_IDS, VENUES, type VenueId } from "./connectors/index.js";
export { okxChecksum } from "./connectors/okx.js";
export { Feed, type FeedOptions, type FeedStats } from "./feed.js";
export { HourlyWriter, type HourlyWriterOptions } from "./hourly-writer.js";
export { type IngestOptions, type IngestSummary, ingest, messagesOf } from "./ingest.js";
export { JsonNumber, type JsonObject, type JsonValue, parseJsonText } from "./json-text.js";
export { LevelBook, type TextLevel } from "./level-book.js";
