/**
 * One venue recorded live: its connector behind the shared `Feed` pipeline, fed by WebSocket connections and REST
 * snapshots, writing through a `FeedWriter`. Connection life (connect, drop, stall) is written as `event` records,
 * so the files say when the recording could have missed something.
 */
import { exists } from "../format/writer.js";
import { eventRecord } from "./book-feed.js";
import type { Clock } from "./clock.js";
import { Connection, type ConnectionOptions, type FeedConnection } from "./connection.js";
import type { ConnectionPlan, Connector, TimeUnit } from "./connector.js";
import { createConnector, type VenueId, venueEntry } from "./connectors/index.js";
import { Feed } from "./feed.js";
import {
  type FeedWriter,
  type FeedWriterOptions,
  type FlushAck,
  FeedWriter as Writer,
} from "./feed-writer.js";
import { sealHour } from "./hour-sealer.js";
import { findLeftovers, isPast } from "./leftovers.js";
import type { RecorderLog } from "./log.js";
import type { RecorderMetrics } from "./metrics.js";
import { RestClient } from "./rest-client.js";

export interface FeedConfig {
  venue: VenueId;
  /** The venue's own symbols. */
  symbols: string[];
  trades: boolean;
  book: boolean;
  bbo: boolean;
  /** Keep every received message as a `raw` record. */
  raw: boolean;
  urls: { ws?: string; rest?: string };
  /** Reconnect a connection silent for this long (ms). */
  stallMs: number;
  /** Replace a connection after this long (ms), before the venue's forced disconnect; 0: never. */
  maxConnectionAgeMs: number;
  /** Largest frame accepted (bytes); a bigger one closes the connection, which reconnects. Default 64 MiB. */
  maxFrameBytes?: number;
  /** The unit to ask the venue's times in, where it lets clients choose (`FeedSelection.timeUnit`). */
  timeUnit?: TimeUnit;
}

export interface LiveFeedOptions {
  feed: FeedConfig;
  root: string;
  captureId: string;
  clock: Clock;
  log: RecorderLog;
  metrics: RecorderMetrics;
  writer: Omit<
    FeedWriterOptions,
    "hourly" | "clock" | "log" | "onFlushed" | "onDropped" | "onFailure" | "onHourOver"
  > & {
    hourly: Omit<FeedWriterOptions["hourly"], "root" | "exchange" | "captureId">;
  };
  /** Makes the feed's connections (default: `Connection`, whose sockets this thread reads). */
  connect?(options: ConnectionOptions): FeedConnection;
  onFlushed?(venue: VenueId, ack: FlushAck): void;
  /** The feed's writer stopped with an error (`FeedWriterOptions.onFailure`). */
  onFailure?(venue: VenueId, error: unknown): void;
}

/** Least time between two resynchronisations of every book after unreadable frames. */
const BAD_FRAME_RESYNC_MS = 60_000;

export class LiveFeed {
  readonly connector: Connector;
  readonly feed: Feed;
  readonly writer: FeedWriter;
  private readonly connections: FeedConnection[] = [];
  private readonly rest: RestClient;
  /** The connection whose frame is being handled (where a connector's `send` goes). */
  private sendTo: FeedConnection | null = null;
  /** Sockets open, by connection (a connection being replaced has two). */
  private readonly openSockets: number[] = [];
  private lastCounted = { gaps: 0, checksumFailures: 0, badFrames: 0 };
  private countedMessages = 0;
  /** When every book was last resynchronised after an unreadable frame (ms since the epoch). */
  private badFrameResyncAt = Number.NEGATIVE_INFINITY;
  private countedWritten = 0;
  private uncountedBytes = 0;
  private connects = 0;

  constructor(private readonly o: LiveFeedOptions) {
    const f = o.feed;
    const venue = venueEntry(f.venue);
    const urls = { ...venue.urls, ...f.urls };
    this.connector = createConnector(
      f.venue,
      {
        symbols: f.symbols,
        trades: f.trades,
        book: f.book,
        bbo: f.bbo,
        ...(f.timeUnit === undefined ? {} : { timeUnit: f.timeUnit }),
      },
      urls,
    );
    const log = o.log;
    const labels = { venue: f.venue };
    this.rest = new RestClient({
      base: urls.rest,
      ...(f.maxFrameBytes === undefined ? {} : { maxBodyBytes: f.maxFrameBytes }),
      onRetry: (path, error, attempt) => {
        log.warn("REST request failed, retrying", { path, error, attempt });
        // Said in the files too, so that a book missing for want of its snapshot says why: at the 1st, 2nd, 4th,
        // 8th… failure (a venue down for hours writes a few events, not thousands).
        if ((attempt & (attempt - 1)) !== 0) return;
        const now = o.clock.nowNs();
        const what = `REST request ${path.slice(0, 200)} failed (${error.slice(0, 300)}), attempt ${attempt}: retrying`;
        this.feed.context.record(eventRecord("", "info", what, { ts: now, recvNs: now }));
      },
    });
    this.writer = new Writer({
      ...o.writer,
      hourly: { ...o.writer.hourly, root: o.root, exchange: f.venue, captureId: o.captureId },
      clock: o.clock,
      log,
      onFlushed: (ack) => {
        // From the oldest record this flush acknowledged: records that came while the flush before it ran are this
        // one's, and wait longest when flushes are slow.
        if (ack.fromRecvNs !== null)
          o.metrics.latency.observe(labels, Number(o.clock.nowNs() - ack.fromRecvNs) / 1e9);
        o.metrics.queueDepth.set(labels, this.writer.stats.queued);
        this.countFeedMetrics();
        o.onFlushed?.(f.venue, ack);
      },
      onWriteError: () => o.metrics.writeErrors.inc(labels),
      onFailure: (err) => o.onFailure?.(f.venue, err),
      onDropped: (rec) => o.metrics.dropped.inc({ venue: f.venue, kind: rec.kind }),
      onBacklog: (behind) => {
        if (behind) o.metrics.readPauses.inc(labels);
        for (const c of this.connections) behind ? c.pauseReading() : c.resumeReading();
      },
      // The hour's file is sealed next: the connector says now what it must still hold (a decision put off to the
      // next hour's first message would miss it). Outside a frame, what it sends goes to the first connection.
      onHourOver: (hourEnd) => this.feed.endHour(hourEnd),
      onResumed: () => {
        // The files lost records, book rows among them: every book is resynchronised from a snapshot.
        this.connector.resync(
          "records were dropped on their way to disk",
          o.clock.nowNs(),
          this.feed.context,
        );
      },
    });
    o.metrics.watchQueue(() => o.metrics.queueDepth.set(labels, this.writer.stats.queued));
    this.feed = new Feed(this.connector, {
      raw: f.raw,
      sink: (rec) => this.writer.push(rec),
      requestRest: (path) => void this.fetchSnapshot(path),
      send: (text) => (this.sendTo ?? this.connections[0])?.send(text),
      onBadFrame: (err, text) => {
        log.warn("bad frame", { error: err.message, frame: text.slice(0, 200) });
        // The frame's gap names no symbol (it could not be read), so readers take every book as broken by it: each
        // is resynchronised from a fresh snapshot, as after records lost on their way to disk, not left broken in
        // the files until the next hour. At most once a minute, as a reconnect would: a venue whose every message
        // fails to read must not turn into a flood of snapshot requests. (Offline ingest has no venue to ask.)
        const now = Date.now();
        if (now - this.badFrameResyncAt < BAD_FRAME_RESYNC_MS) return;
        this.badFrameResyncAt = now;
        this.connector.resync(
          `a frame could not be read (${err.message})`,
          o.clock.nowNs(),
          this.feed.context,
        );
      },
    });
  }

  get venue(): VenueId {
    return this.o.feed.venue;
  }

  /** Sockets opened so far (reconnects and replacements included). */
  get connectCount(): number {
    return this.connects;
  }

  /** The feed's writer stopped with an error (`onFailure`). */
  get failed(): boolean {
    return this.writer.failed;
  }

  /** Every connection has a socket open (counted by connection: one being replaced does not stand for one down). */
  get connected(): boolean {
    return this.openSockets.length > 0 && this.openSockets.every((n) => n > 0);
  }

  /**
   * Takes over what an earlier process left (the current hour's files are set aside, past hours are sealed in the
   * background), then connects. A leftover that cannot be handled is an alert, never a reason not to record.
   */
  async start(): Promise<void> {
    await this.recoverLeftovers();
    this.writer.start();
    for (const plan of this.connector.connections()) this.connect(plan);
  }

  private async recoverLeftovers(): Promise<void> {
    const now = this.o.clock.nowNs();
    const log = this.o.log;
    let leftovers: Awaited<ReturnType<typeof findLeftovers>> = [];
    try {
      leftovers = await findLeftovers(this.o.root, this.venue, this.o.captureId, (dir, err) =>
        log.alert("cannot list a folder for files left by an earlier process: they stay unsealed", {
          folder: dir,
          error: (err as Error).message,
        }),
      );
    } catch (err) {
      log.alert("cannot look for files left by an earlier process", { error: (err as Error).message });
    }
    for (const left of leftovers) {
      if (isPast(left.hour, now)) {
        log.info("sealing a file left by an earlier process", { path: left.path });
        this.writer.hourly.sealLeftover(left.hour);
        continue;
      }
      try {
        // A seal cut off after its rename leaves the sealed file and its sources: the sources go first.
        if (await exists(left.path)) await sealHour(left.path);
        await this.writer.hourly.adopt(left.hour);
      } catch (err) {
        log.alert("cannot take over the current hour's files", {
          path: left.path,
          error: (err as Error).message,
        });
      }
    }
  }

  private connect(plan: ConnectionPlan): void {
    const f = this.o.feed;
    const labels = { venue: f.venue };
    const m = this.o.metrics;
    const log = this.o.log;
    const record = (type: "connect" | "disconnect" | "stall", message: string, now: bigint) => {
      this.feed.context.record(eventRecord("", type, message, { ts: now, recvNs: now }));
      return now;
    };
    const slot = this.openSockets.push(0) - 1;
    const conn: FeedConnection = (this.o.connect ?? ((c) => new Connection(c)))({
      plan,
      clock: this.o.clock,
      heartbeat: this.connector.heartbeat,
      sendsPerSecond: this.connector.sendsPerSecond,
      stallMs: f.stallMs,
      ...(f.maxFrameBytes === undefined ? {} : { maxFrameBytes: f.maxFrameBytes }),
      ...(f.maxConnectionAgeMs > 0 ? { maxAgeMs: f.maxConnectionAgeMs } : {}),
      events: {
        onOpen: (id, replacing, atNs) => {
          this.openSockets[slot]!++;
          this.connects++;
          m.connected.inc(labels);
          const now = record(
            "connect",
            `socket ${id} open: ${plan.url}${replacing ? " (replacing the current one)" : ""}`,
            atNs,
          );
          log.info("connected", { url: plan.url, socket: id, replacing });
          if (!replacing) this.connector.onOpen(plan, now, this.feed.context);
        },
        onFrame: (socket, bytes, recvNs, decoded) => {
          const text = decoded ?? bytes.toString();
          this.uncountedBytes += text.length;
          this.sendTo = conn;
          this.feed.receive({ kind: "frame", recvNs, text, bytes, socket });
          this.sendTo = null;
        },
        onClose: (id, reason, why, atNs) => {
          this.openSockets[slot]!--;
          m.connected.dec(labels);
          const note = why === "replaced" ? ", replaced by a newer one" : "";
          const now = record("disconnect", `socket ${id} closed (${reason})${note}`, atNs);
          if (why === "replaced") return;
          // Closed by the recorder as it stops: no connection lost (the event and the books' loss are still written).
          if (why !== "stopped") {
            m.reconnects.inc(labels);
            log.warn("disconnected", { url: plan.url, socket: id, reason });
          }
          this.connector.onClose(plan, now, reason, this.feed.context);
        },
        onStall: (id, silentMs, atNs) => {
          record("stall", `socket ${id} silent for ${silentMs} ms: reconnecting`, atNs);
          log.warn("stalled", { url: plan.url, socket: id, silentMs });
        },
        onWarning: (message) => log.warn(message, { url: plan.url }),
      },
    });
    this.connections.push(conn);
    conn.start();
  }

  /** Brings the counters up to date (once a flush: a labelled counter per message would cost more than parsing). */
  private countFeedMetrics(): void {
    const s = this.feed.stats;
    const labels = { venue: this.venue };
    const m = this.o.metrics;
    const written = this.writer.stats.written;
    if (written > this.countedWritten) m.records.inc(labels, written - this.countedWritten);
    this.countedWritten = written;
    const messages = s.frames + s.restResponses;
    if (messages > this.countedMessages) m.messages.inc(labels, messages - this.countedMessages);
    this.countedMessages = messages;
    if (this.uncountedBytes > 0) m.messageBytes.inc(labels, this.uncountedBytes);
    this.uncountedBytes = 0;
    if (s.gaps > this.lastCounted.gaps) m.gaps.inc(labels, s.gaps - this.lastCounted.gaps);
    if (s.checksumFailures > this.lastCounted.checksumFailures) {
      m.checksumFailures.inc(labels, s.checksumFailures - this.lastCounted.checksumFailures);
    }
    if (s.badFrames > this.lastCounted.badFrames)
      m.badFrames.inc(labels, s.badFrames - this.lastCounted.badFrames);
    this.lastCounted = { gaps: s.gaps, checksumFailures: s.checksumFailures, badFrames: s.badFrames };
  }

  private async fetchSnapshot(path: string): Promise<void> {
    const body = await this.rest.get(path);
    if (body === null) return;
    const recvNs = this.o.clock.nowNs();
    this.uncountedBytes += body.length;
    this.feed.receive({ kind: "rest", recvNs, path, body });
  }

  /** Closes the connections, then writes and seals everything received. */
  async stop(): Promise<void> {
    this.rest.close();
    await Promise.all(this.connections.map((c) => c.stop()));
    await this.writer.stop();
  }
}
