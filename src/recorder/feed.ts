/**
 * The pipeline from received messages to records, shared by the live recorder and offline ingest: it hands each
 * frame or REST response to the venue's connector, keeps the raw bytes when asked, counts what happened, turns
 * a frame the connector cannot read into a counted, reported bad frame instead of a crash, and at the first message
 * of each new hour of receive time writes every book in sync again (each hour's file holds a book to start from).
 */
import { TapeError } from "../format/errors.js";
import { MAX_TS } from "../format/kind-buffer.js";
import type { Kind, RecordInput } from "../format/records.js";
import { isStorableSymbol } from "../format/writer.js";
import { HOUR_NS, hourOf } from "../reader/layout.js";
import { eventRecord } from "./book-feed.js";
import type { CapturedMessage } from "./capture.js";
import { rawText } from "./capture.js";
import { type Connector, emptyCounters, type FeedContext, type FeedCounters } from "./connector.js";

export interface FeedStats extends FeedCounters {
  frames: number;
  restResponses: number;
  /** REST requests the connector made (in ingest they are answered by the capture, if it holds them). */
  restRequests: number;
  /** Messages the connector asked to send (resubscriptions); in ingest there is no one to send them to. */
  sends: number;
  records: Record<Kind, number>;
}

export interface FeedOptions {
  /** Keep each received message as a `raw` record. */
  raw: boolean;
  /** Where records go (a writer, a test's array). */
  sink(rec: RecordInput): void;
  /** Answers `requestRest` (live: an HTTP GET; ingest: nothing, the capture holds the responses). */
  requestRest?(path: string): void;
  /** Sends a text message on the live connection (ingest: nothing). */
  send?(text: string): void;
  /** Told about each bad frame (for the log). */
  onBadFrame?(error: TapeError, text: string): void;
  /**
   * Messages further apart than this (ns) are not one session: the books are not carried over the new hour
   * across such a silence. Ingest sets it (it cannot tell a connection kept alive by pings from another
   * session); live, the books a connection keeps in sync are carried whatever the silence.
   */
  maxSilenceNs?: bigint;
}

export class Feed {
  readonly stats: FeedStats;
  private readonly ctx: FeedContext;
  /** Latest time seen (0: none yet), for raw records and events of messages without a receive time. */
  private lastTs = 0n;
  /** Latest exchange time of a trade, book or quote record (0: none yet): the clock readers order rows by. */
  private lastDataTs = 0n;
  /**
   * Raw records (and bad-frame events) of messages that came before any time was known (a capture of bare frames
   * that starts with a subscription answer): stamped with the first time seen rather than 1970, up to
   * `MAX_TIMELESS` of them.
   */
  private timeless: RecordInput[] = [];
  /**
   * Start of the hour after that of the last message's receive time (files are per hour of receive time), -1
   * before any: the one comparison each message costs.
   */
  private nextHour = -1n;
  /** The latest receive time seen (null before any). */
  private lastRecvNs: bigint | null = null;
  /** The last hour handed to `onHourEnd` (-1: none): each hour is ended once. */
  private endedHour = -1n;
  /** The socket of the message being handled (`FeedContext.socket`). */
  private socket = 0;

  constructor(
    readonly connector: Connector,
    private readonly options: FeedOptions,
  ) {
    this.stats = {
      ...emptyCounters(),
      frames: 0,
      restResponses: 0,
      restRequests: 0,
      sends: 0,
      records: { trade: 0, book: 0, bbo: 0, event: 0, raw: 0 },
    };
    const stats = this.stats;
    const feed = this;
    this.ctx = {
      counters: stats,
      get socket() {
        return feed.socket;
      },
      get venueTime() {
        return feed.lastDataTs;
      },
      record: (rec) => {
        stats.records[rec.kind]++;
        // A time the format cannot store is refused with its record, and must not stamp the ones after it.
        if (typeof rec.ts === "bigint" && rec.ts > this.lastTs && rec.ts <= MAX_TS) {
          this.lastTs = rec.ts;
          if (this.timeless.length > 0) this.releaseTimeless();
        }
        if (typeof rec.ts === "bigint" && rec.ts > this.lastDataTs && rec.ts <= MAX_TS && isData(rec.kind)) {
          // A time well ahead of its receipt is not the venue's clock (a bogus stamp): it must not date every loss.
          const recv = rec.recvTs;
          if (typeof recv !== "bigint" || rec.ts <= recv + MAX_VENUE_LEAD_NS) this.lastDataTs = rec.ts;
        }
        options.sink(rec);
      },
      requestRest: (path) => {
        stats.restRequests++;
        options.requestRest?.(path);
      },
      send: (text) => {
        stats.sends++;
        options.send?.(text);
      },
    };
  }

  /** The latest exchange time seen (0 before any). */
  get latestTime(): bigint {
    return this.lastTs;
  }

  /** The latest receive time of a message (null before any with one). */
  get latestReceiveTime(): bigint | null {
    return this.lastRecvNs;
  }

  get context(): FeedContext {
    return this.ctx;
  }

  /** One received message, in receive order. */
  receive(m: CapturedMessage): void {
    if (m.recvNs !== null) {
      if (m.recvNs >= this.nextHour) this.carryBooks(m.recvNs);
      if (this.lastRecvNs === null || m.recvNs > this.lastRecvNs) this.lastRecvNs = m.recvNs;
    }
    let symbol = "";
    if (m.kind === "frame") this.stats.frames++;
    else this.stats.restResponses++;
    this.socket = m.kind === "frame" ? (m.socket ?? 0) : 0;
    try {
      symbol =
        m.kind === "frame"
          ? this.connector.onFrame(m.text, m.recvNs, this.ctx)
          : this.connector.onRest(m.path, m.body, m.recvNs, this.ctx);
    } catch (err) {
      if (!(err instanceof TapeError) || err.code !== "E_TAPE_FRAME") throw err;
      this.stats.badFrames++;
      this.options.onBadFrame?.(err, m.kind === "frame" ? m.text : m.body);
      // Stated in the files: what the message held is missing from the records (its raw record keeps it, if on).
      const kept = this.options.raw ? "; kept as a raw record" : "";
      const what = m.kind === "frame" ? "a frame" : `the REST response to ${m.path.slice(0, 200)}`;
      // At the latest exchange time: readers order rows by it, and the receive clock may run ahead of it (the event
      // would then sort after rows received after it, and break the books the resync that follows restores).
      const at = { ts: this.lastDataTs > 0n ? this.lastDataTs : (m.recvNs ?? this.lastTs), recvNs: m.recvNs };
      this.recordOrHold(eventRecord("", "gap", `${what} could not be read (${err.message})${kept}`, at));
    }
    if (this.options.raw) {
      const data = m.kind === "frame" && m.bytes !== undefined ? m.bytes : Buffer.from(rawText(m), "utf8");
      // The frame is kept whatever symbol it names: under no symbol when the format cannot store that one.
      const rawSymbol = this.storable(symbol) ? symbol : "";
      const rec: RecordInput = { kind: "raw", symbol: rawSymbol, ts: m.recvNs ?? this.lastTs, data };
      if (m.recvNs !== null) rec.recvTs = m.recvNs;
      this.recordOrHold(rec);
    }
  }

  /**
   * At the first message of a new hour, the connector closes the hour that ended (`endHour`, unless the live writer
   * had it closed before its seal), then every book in sync is written again as snapshot rows, before the message:
   * each hour's file then holds a book to start from (and the writer's checkpoints have one to build on). Not at the
   * first message of all (the books start from their own snapshots), nor after a silence longer than
   * `maxSilenceNs` (another session, e.g. the next capture file given to ingest: its books may be stale).
   */
  private carryBooks(recvNs: bigint): void {
    const hour = hourOf(recvNs);
    const first = this.nextHour < 0n;
    this.nextHour = hour + HOUR_NS;
    if (first) return;
    this.endHour(hour);
    const limit = this.options.maxSilenceNs;
    if (limit !== undefined && this.lastRecvNs !== null && recvNs - this.lastRecvNs > limit) return;
    for (const book of this.connector.allBooks()) book.carry(this.ctx, hour);
  }

  /**
   * The hour before `hour` is over: the connector closes it (`onHourEnd`), once, whether the first message of a
   * later hour says so or the live writer does, about to seal that hour's file before any such message came.
   */
  endHour(hour: bigint): void {
    if (hour <= this.endedHour) return;
    this.endedHour = hour;
    this.connector.onHourEnd?.(hour, this.ctx);
  }

  /** Whether the format can store `symbol` (remembered: a feed meets few symbols, and every frame names one). */
  private storable(symbol: string): boolean {
    if (this.storableSymbols.has(symbol)) return true;
    if (!isStorableSymbol(symbol)) return false;
    if (this.storableSymbols.size < 100_000) this.storableSymbols.add(symbol);
    return true;
  }
  private readonly storableSymbols = new Set<string>();

  /** Records `rec`, or holds it while no time is known (a record with neither a receive time nor a time yet). */
  private recordOrHold(rec: RecordInput): void {
    if (rec.recvTs === undefined && this.lastTs === 0n && this.timeless.length < MAX_TIMELESS) {
      this.stats.records[rec.kind]++;
      this.timeless.push(rec);
    } else this.ctx.record(rec);
  }

  /** Hands over the records held for want of a time, stamped with the first time seen (or 0 if none was). */
  releaseTimeless(): void {
    const held = this.timeless;
    this.timeless = [];
    for (const rec of held) {
      rec.ts = this.lastTs;
      this.options.sink(rec);
    }
  }
}

/** Records held for want of a time, at most (beyond, they are stamped 0). */
const MAX_TIMELESS = 10_000;

/** The most a venue's time may be ahead of the receive time and still count as its clock (ns). */
const MAX_VENUE_LEAD_NS = 10_000_000_000n;

/** Records that carry the venue's time (events and raw frames carry the recorder's). */
function isData(kind: Kind): boolean {
  return kind === "trade" || kind === "book" || kind === "bbo";
}
