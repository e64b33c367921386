/**
 * What a venue connector is: the protocol knowledge of one venue and nothing else. It says which WebSocket
 * connections to open and what to send on them, turns each received frame or REST response into normalised
 * records, and keeps each book's sequence and checksum honest. Sockets, HTTP, timers, files and counters belong
 * to the runtime (live recorder or offline ingest), which calls the same connector code in both cases.
 */
import type { RecordInput } from "../format/records.js";
import type { BookFeed } from "./book-feed.js";

export interface FeedSelection {
  /** The venue's own symbols, e.g. `BTCUSDT` (Binance) or `BTC-USDT` (OKX). */
  symbols: string[];
  trades: boolean;
  book: boolean;
  bbo: boolean;
  /** The unit a venue that lets clients choose sends its times in (Binance spot); default: the finest. */
  timeUnit?: TimeUnit;
}

export type TimeUnit = "millisecond" | "microsecond";

export interface VenueUrls {
  /** WebSocket base URL. */
  ws: string;
  /** REST base URL (for snapshots). */
  rest: string;
}

export interface ConnectionPlan {
  /** The WebSocket URL to connect to (some venues put the subscription in it). */
  url: string;
  /** Text messages to send once connected, in order, no faster than `sendsPerSecond`. */
  subscribe: string[];
  /** The symbols this connection carries (a drop of the connection is a gap for each of them). */
  symbols: string[];
}

export interface Heartbeat {
  /** Send `ping` when nothing was received for this long (ms). */
  idleMs: number;
  /** A text ping message, or null for a WebSocket ping frame. */
  ping: string | null;
  /** True for the venue's answer to our text ping (it is not market data); asked only when `ping` is text. */
  isPong(text: string): boolean;
  /**
   * The venue sends messages of its own at least every few seconds on a healthy connection (a heartbeat channel):
   * answers to our pings then do not show the feed alive, and a connection that answers pings but delivers nothing
   * else is reconnected after the stall time. False where a quiet market is silent: there a pong is all there is.
   */
  venueBeats: boolean;
}

/** What the connector counts; the runtime adds frames, bytes and records. */
export interface FeedCounters {
  gaps: number;
  checksumsChecked: number;
  checksumFailures: number;
  resyncs: number;
  /** Book updates received twice (dropped: the book already holds them). */
  duplicates: number;
  /** Crossed books after an update, on venues without a checksum. */
  crossed: number;
  /** Frames that were not valid JSON or lacked a field (counted, logged, their raw bytes still kept). */
  badFrames: number;
  /** Frames of channels or types the connector does not record (acks, heartbeats, klines). */
  ignoredFrames: number;
}

export function emptyCounters(): FeedCounters {
  return {
    gaps: 0,
    checksumsChecked: 0,
    checksumFailures: 0,
    resyncs: 0,
    duplicates: 0,
    crossed: 0,
    badFrames: 0,
    ignoredFrames: 0,
  };
}

/** The runtime, as a connector sees it. */
export interface FeedContext {
  /** Takes one normalised record. */
  record(rec: RecordInput): void;
  /** Asks for a REST GET of `path` (with query) on the venue's REST base; the answer comes to `onRest`. */
  requestRest(path: string): void;
  /** Sends a text message on the connection the current frame came from. */
  send(text: string): void;
  /**
   * Which connection the current frame came from: a number that grows with each socket the live recorder opens
   * (a replacement's is above its predecessor's); 0 in a capture, which holds one connection at a time.
   */
  readonly socket: number;
  /**
   * The latest exchange time of a trade, book row or quote recorded (0 before any): the venue's clock as far as the
   * feed knows it, for events no message dates.
   */
  readonly venueTime: bigint;
  readonly counters: FeedCounters;
}

export interface Connector {
  readonly venue: string;
  readonly heartbeat: Heartbeat;
  /** Most messages a venue accepts per second on one connection. */
  readonly sendsPerSecond: number;
  /** The connections that carry the selection. */
  connections(): ConnectionPlan[];
  /** A connection is open and subscribed: e.g. fetch the REST snapshots that the stream continues. */
  onOpen(plan: ConnectionPlan, recvNs: bigint | null, ctx: FeedContext): void;
  /** A connection was lost: each of its books has a gap until its next snapshot. */
  onClose(plan: ConnectionPlan, recvNs: bigint | null, reason: string, ctx: FeedContext): void;
  /**
   * The hour of receive time before `hour` is over, and its file about to be sealed: what that file must still say
   * (a loss found late, see `BookFeed.loseSince`) is recorded now, received at `hour - 1`, before the books are
   * carried into the next hour's file. Called once an hour: at the next hour's first message, or before it, outside
   * any frame, when the live writer is about to seal the file (`ctx.send` then goes to the feed's first
   * connection). Optional.
   */
  onHourEnd?(hour: bigint, ctx: FeedContext): void;
  /** One received text frame. Returns the symbol it concerns ("" when none), for its raw record. */
  onFrame(text: string, recvNs: bigint | null, ctx: FeedContext): string;
  /**
   * Every book in sync loses it (a `gap` event saying `reason`) and is fetched again: the recorder calls this when
   * records were lost on their way to disk, so that the files' books are not built across the loss.
   */
  resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void;
  /** The connector's copy of a symbol's book (read-only use: tests, the simulator comparison), if it keeps one. */
  bookOf(symbol: string): BookFeed | undefined;
  /** Every book the connector keeps, in the order it met their symbols (the selection's order first). */
  allBooks(): Iterable<BookFeed>;
  /** One REST response to `requestRest(path)` (or found in a capture). Returns the symbol it concerns. */
  onRest(path: string, body: string, recvNs: bigint | null, ctx: FeedContext): string;
}
