/**
 * The recorder: every configured venue recorded live into the dataset layout (docs/DURABILITY.md), with metrics
 * and health on HTTP, and a stop that drains and seals within a timeout.
 */
import type { Server } from "node:http";
import { AggregatorRegistry } from "prom-client";
import type { Codec } from "../format/codecs.js";
import { type Clock, systemClock } from "./clock.js";
import type { VenueId } from "./connectors/index.js";
import { FeedThread } from "./feed-thread.js";
import type { FlushAck } from "./feed-writer.js";
import { type FeedConfig, LiveFeed } from "./live-feed.js";
import { type RecorderLog, silentLog } from "./log.js";
import { RecorderMetrics } from "./metrics.js";
import { startStatusServer } from "./status-server.js";

export interface RecorderOptions {
  /** Dataset root (the EFS mount). */
  root: string;
  /** Names this host or pod in file names, so that two recorders of the same feeds never clash. */
  captureId: string;
  feeds: FeedConfig[];
  codec?: Codec;
  /** Flush (and fsync) every this many ms. Default 1000. */
  flushIntervalMs?: number;
  /** fsync at each flush. Default true. */
  sync?: boolean;
  /** Writer queue bound per feed (records). Default 1,000,000. */
  maxQueuedRecords?: number;
  /** Serve `/metrics`, `/healthz` and `/readyz` on this port (0: any free port; absent: no server). */
  statusPort?: number;
  /** Address the status server listens on. Default 0.0.0.0 (probes come from the node). */
  statusHost?: string;
  clock?: Clock;
  log?: RecorderLog;
  metrics?: RecorderMetrics;
  /**
   * Each feed on a thread of its own, at a lower priority than the thread that reads the sockets (docs/RECORDER.md,
   * "Feed threads"). Needs the compiled package; the feeds use the system clock (`clock` is not used) and their
   * metrics are served with this thread's. Default false (configuration key `feedThreads`).
   */
  feedThreads?: boolean;
  /** Told after each flush: what is on disk (tests, crash harnesses). */
  onFlushed?(venue: VenueId, ack: FlushAck): void;
  /**
   * A feed's writer stopped with an error (a bug, not a disk problem: those are retried): that feed records
   * nothing more, and `/healthz` fails. The other feeds go on; `stop()` seals every feed, then rejects with it.
   */
  onFailure?(venue: VenueId, error: unknown): void;
}

/** A feed as the recorder runs it: on this thread (`LiveFeed`) or on one of its own (`FeedThread`). */
interface RunningFeed {
  readonly venue: VenueId;
  readonly connected: boolean;
  readonly failed: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class Recorder {
  /** The feeds recorded on this thread (none with `feedThreads`). */
  readonly feeds: LiveFeed[] = [];
  /** The feeds recorded on threads of their own (with `feedThreads`). */
  readonly threads: FeedThread[] = [];
  readonly metrics: RecorderMetrics;
  private readonly running: RunningFeed[];
  private server: Server | null = null;
  private stopping: Promise<void> | null = null;
  private readonly log: RecorderLog;

  private constructor(readonly options: RecorderOptions) {
    this.metrics = options.metrics ?? new RecorderMetrics();
    this.log = options.log ?? silentLog;
    const clock = options.clock ?? systemClock();
    const writer = {
      hourly: { writer: options.codec === undefined ? {} : { codec: options.codec } },
      ...(options.flushIntervalMs === undefined ? {} : { flushIntervalMs: options.flushIntervalMs }),
      ...(options.sync === undefined ? {} : { sync: options.sync }),
      ...(options.maxQueuedRecords === undefined ? {} : { maxQueuedRecords: options.maxQueuedRecords }),
    };
    for (const feed of options.feeds) {
      const log = this.log.child({ venue: feed.venue });
      if (options.feedThreads) {
        this.threads.push(
          new FeedThread({
            feed,
            root: options.root,
            captureId: options.captureId,
            writer,
            log,
            onFlushed: (ack) => options.onFlushed?.(feed.venue, ack),
            onFailure: (err) => options.onFailure?.(feed.venue, err),
            onReadPause: () => this.metrics.readPauses.inc({ venue: feed.venue }),
          }),
        );
        continue;
      }
      this.feeds.push(
        new LiveFeed({
          feed,
          root: options.root,
          captureId: options.captureId,
          clock,
          log,
          metrics: this.metrics,
          writer,
          ...(options.onFlushed === undefined ? {} : { onFlushed: options.onFlushed }),
          ...(options.onFailure === undefined ? {} : { onFailure: options.onFailure }),
        }),
      );
    }
    this.running = [...this.feeds, ...this.threads];
  }

  /** Prometheus text of this thread's metrics and every feed thread's. */
  private async metricsText(): Promise<string> {
    if (this.threads.length === 0) return this.metrics.registry.metrics();
    const parts = await Promise.all([
      this.metrics.registry.getMetricsAsJSON(),
      ...this.threads.map((t) => t.metrics),
    ]);
    return AggregatorRegistry.aggregate(parts).metrics();
  }

  /** Seals what earlier processes left, connects every feed, and starts the status server. */
  static async start(options: RecorderOptions): Promise<Recorder> {
    const r = new Recorder(options);
    if (options.statusPort !== undefined) {
      r.server = await startStatusServer({
        port: options.statusPort,
        host: options.statusHost ?? "0.0.0.0",
        metrics: { text: () => r.metricsText(), contentType: r.metrics.registry.contentType },
        healthy: () => r.stopping === null && !r.running.some((f) => f.failed),
        ready: () => r.ready,
      });
    }
    try {
      for (const f of r.running) await f.start();
    } catch (err) {
      // Not left half started: a status server alone would keep the process alive and its liveness probe green.
      await r.stop().catch(() => {});
      throw err;
    }
    r.log.info("recording", {
      root: options.root,
      captureId: options.captureId,
      feeds: options.feeds.map((f) => `${f.venue}: ${f.symbols.join(",")}`),
      statusPort: r.statusPort,
    });
    return r;
  }

  /** Every feed has its connections open. */
  get ready(): boolean {
    return this.stopping === null && this.running.every((f) => f.connected);
  }

  get statusPort(): number | null {
    const a = this.server?.address();
    return a !== null && typeof a === "object" ? a.port : null;
  }

  /**
   * Closes the connections, writes and seals everything received. Resolves when done, or rejects after
   * `timeoutMs` (what is flushed stays on disk as `.open` files, sealed by the next start).
   */
  stop(timeoutMs = 30_000): Promise<void> {
    if (this.stopping === null) {
      this.stopping = (async () => {
        let timer: NodeJS.Timeout | null = null;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`stop did not finish within ${timeoutMs} ms`)),
            timeoutMs,
          );
        });
        try {
          // Every feed is sealed, also when another one's writer failed.
          const stops = Promise.allSettled(this.running.map((f) => f.stop()));
          const results = await Promise.race([stops, timeout]);
          const failed = results.find((s) => s.status === "rejected");
          if (failed !== undefined) throw failed.reason;
          this.log.info("stopped: everything received is written and sealed");
        } finally {
          if (timer !== null) clearTimeout(timer);
          await new Promise<void>((resolve) => {
            if (this.server === null) return resolve();
            this.server.close(() => resolve());
            // close() waits for every connection to end: one that has not sent its whole request (a TCP probe, a
            // scraper's spare connection) would hold the stop for a minute or more, past its timeout.
            this.server.closeAllConnections();
          });
        }
      })();
    }
    return this.stopping;
  }
}
