/**
 * The pipeline from received messages to records, shared by the live recorder and offline ingest: it hands each
 * frame or REST response to the venue's connector, keeps the raw bytes when asked, counts what happened, and turns
 * a frame the connector cannot read into a counted, reported bad frame instead of a crash.
 */
import { TapeError } from "../format/errors.js";
import type { Kind, RecordInput } from "../format/records.js";
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
}

export class Feed {
  readonly stats: FeedStats;
  private readonly ctx: FeedContext;
  /** Latest time seen, for raw records of messages without a receive time. */
  private lastTs = 0n;

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
    this.ctx = {
      counters: stats,
      record: (rec) => {
        stats.records[rec.kind]++;
        if (typeof rec.ts === "bigint" && rec.ts > this.lastTs) this.lastTs = rec.ts;
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

  get context(): FeedContext {
    return this.ctx;
  }

  /** One received message, in receive order. */
  receive(m: CapturedMessage): void {
    let symbol = "";
    if (m.kind === "frame") this.stats.frames++;
    else this.stats.restResponses++;
    try {
      symbol =
        m.kind === "frame"
          ? this.connector.onFrame(m.text, m.recvNs, this.ctx)
          : this.connector.onRest(m.path, m.body, m.recvNs, this.ctx);
    } catch (err) {
      if (!(err instanceof TapeError) || err.code !== "E_TAPE_FRAME") throw err;
      this.stats.badFrames++;
      this.options.onBadFrame?.(err, m.kind === "frame" ? m.text : m.body);
    }
    if (this.options.raw) {
      const ts = m.recvNs ?? this.lastTs;
      const data = m.kind === "frame" && m.bytes !== undefined ? m.bytes : Buffer.from(rawText(m), "utf8");
      const rec: RecordInput = { kind: "raw", symbol, ts, data };
      if (m.recvNs !== null) rec.recvTs = m.recvNs;
      this.ctx.record(rec);
    }
  }
}
