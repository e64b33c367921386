/**
 * A feed on a thread of its own, at a lower priority than this one, which only reads its sockets: each frame is
 * stamped with its receive time as it is read here, and handed to the feed thread, which parses, sequences and
 * writes it (a `LiveFeed` there, its connections these). On one core the scheduler runs this thread first whenever
 * a frame waits in a socket, so the feed's bursts (a block compressed, a flush, its garbage collections) no longer
 * delay the receive times; on more cores the two threads run side by side. docs/RECORDER.md, "Feed threads".
 *
 * Frames handed over but not yet taken by the feed thread are bounded: beyond `HANDOVER_HIGH_FRAMES` (or
 * `HANDOVER_HIGH_BYTES`) reading pauses until they are down to a quarter, as it does when the writer falls behind:
 * a backlog waits in the socket buffers, not in memory. A feed thread that dies is a writer failure.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import { fromThreadError, type ThreadError } from "../common/thread-error.js";
import { type Clock, systemClock, systemClockOffset } from "./clock.js";
import { Connection, type ConnectionOptions } from "./connection.js";
import type { Connector } from "./connector.js";
import { createConnector, venueEntry } from "./connectors/index.js";
import type { FlushAck } from "./feed-writer.js";
import { FrameBatchWriter } from "./frame-batch.js";
import type { FeedConfig, LiveFeedOptions } from "./live-feed.js";
import type { RecorderLog } from "./log.js";

/** What a feed thread is started with (structured-clonable). */
export interface FeedThreadSetup {
  feed: FeedConfig;
  root: string;
  captureId: string;
  writer: LiveFeedOptions["writer"];
  /** The feed thread's nice value (on Linux a thread's own; higher is lower priority). */
  nice: number;
  /** [frames taken, KiB taken] by the feed thread, counted there. */
  taken: Int32Array;
  /** The main thread's clock (`systemClock`): times stamped on either thread are on one clock. */
  clockOffsetNs: bigint;
}

/** The connection options that cross threads (the heartbeat and send rate are the connector's, on both sides). */
export type RemoteConnectionOptions = Pick<
  ConnectionOptions,
  "plan" | "stallMs" | "maxAgeMs" | "backoffMs" | "maxFrameBytes"
>;

export type ToFeed =
  | { type: "frames"; buffer: ArrayBuffer; length: number; frames: number; kib: number }
  | { type: "open"; conn: number; socket: number; replacing: boolean; atNs: bigint }
  | {
      type: "close";
      conn: number;
      socket: number;
      reason: string;
      why: "dropped" | "replaced" | "stopped";
      atNs: bigint;
    }
  | { type: "stall"; conn: number; socket: number; silentMs: number; atNs: bigint }
  | { type: "warning"; conn: number; message: string }
  | { type: "connectionStopped"; conn: number }
  | { type: "start" }
  | { type: "stop" };

export type FromFeed =
  | { type: "connect"; conn: number; options: RemoteConnectionOptions }
  | { type: "send"; conn: number; text: string }
  | { type: "pause"; conn: number }
  | { type: "resume"; conn: number }
  | { type: "stopConnection"; conn: number }
  | {
      type: "log";
      level: "debug" | "info" | "warn" | "alert";
      message: string;
      details?: Record<string, unknown>;
    }
  | { type: "flushed"; ack: FlushAck }
  | { type: "failure"; error: ThreadError }
  | { type: "started"; error: ThreadError | null }
  | { type: "stopped"; error: ThreadError | null }
  | { type: "metrics"; metrics: MetricObjectWithValues<MetricValue<string>>[] };

export interface FeedThreadOptions {
  feed: FeedConfig;
  root: string;
  captureId: string;
  writer: LiveFeedOptions["writer"];
  log: RecorderLog;
  /** The feed thread's nice value. Default 10. */
  nice?: number;
  onFlushed?(ack: FlushAck): void;
  onFailure?(error: unknown): void;
  /** Reading paused because the feed thread is behind (counted with the writer's pauses). */
  onReadPause?(): void;
}

const WORKER = new URL("./feed-thread-worker.js", import.meta.url);
/** Frames (and bytes) handed over and not yet taken beyond which reading pauses, until a quarter of it is left. */
const HANDOVER_HIGH_FRAMES = 50_000;
const HANDOVER_HIGH_BYTES = 64 * 1024 * 1024;
/** How often a paused reader looks whether the feed thread caught up. */
const HANDOVER_CHECK_MS = 10;
/** How often a feed thread sends its metrics (its counters move at its flushes, once a second). */
export const METRICS_EVERY_MS = 1000;

/** A start or stop waiting for the feed thread's answer. */
interface Waiting {
  resolve(): void;
  reject(err: unknown): void;
}

function settle(waiting: Waiting | null, error: ThreadError | null): void {
  if (error === null) waiting?.resolve();
  else waiting?.reject(fromThreadError(error));
}

interface Held {
  connection: Connection;
  /** The feed thread asked to pause this connection (its writer is behind). */
  paused: boolean;
  openSockets: number;
}

export class FeedThread {
  private readonly worker: Worker;
  private readonly connector: Connector;
  private readonly clockOffsetNs = systemClockOffset();
  private readonly clock: Clock = systemClock(this.clockOffsetNs);
  private readonly connections = new Map<number, Held>();
  private readonly batch = new FrameBatchWriter();
  private readonly taken = new Int32Array(new SharedArrayBuffer(8));
  private handedFrames = 0;
  private handedKib = 0;
  private postScheduled = false;
  private handoverPaused = false;
  private handoverTimer: NodeJS.Timeout | null = null;
  private failure: unknown = null;
  private exited = false;
  /** `stop()` is ending the thread: its exit is no death. */
  private ending = false;
  private connects = 0;
  private started: Waiting | null = null;
  private stopped: Waiting | null = null;
  private stopping: Promise<void> | null = null;
  /** The feed thread's metrics as it last sent them. */
  private lastMetrics: MetricObjectWithValues<MetricValue<string>>[] = [];

  constructor(private readonly o: FeedThreadOptions) {
    const f = o.feed;
    // The sockets are read here: the heartbeat (what a pong looks like) and the send rate come from a connector of
    // this thread's own.
    this.connector = createConnector(
      f.venue,
      { symbols: f.symbols, trades: f.trades, book: f.book, bbo: f.bbo },
      { ...venueEntry(f.venue).urls, ...f.urls },
    );
    const setup: FeedThreadSetup = {
      feed: f,
      root: o.root,
      captureId: o.captureId,
      writer: o.writer,
      nice: o.nice ?? 10,
      taken: this.taken,
      clockOffsetNs: this.clockOffsetNs,
    };
    this.worker = new Worker(WORKER, { workerData: setup });
    this.worker.on("message", (m: FromFeed) => this.receive(m));
    this.worker.on("error", (err) => this.died(err));
    this.worker.on("exit", (code) => {
      this.exited = true;
      if (!this.ending) this.died(new Error(`the feed thread exited with code ${code}`));
    });
  }

  /** Whether the compiled feed thread is there (it is in the package; not when the sources run untranspiled). */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER));
  }

  get venue(): FeedConfig["venue"] {
    return this.o.feed.venue;
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  /** Sockets opened so far (reconnects and replacements included). */
  get connectCount(): number {
    return this.connects;
  }

  /** Every connection has a socket open. */
  get connected(): boolean {
    if (this.connections.size === 0) return false;
    for (const c of this.connections.values()) if (c.openSockets < 1) return false;
    return true;
  }

  /** Takes over what an earlier process left, then connects (in the feed thread, which asks for the sockets). */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // A thread that died (its module failed to load, it ran out of memory) would never answer.
      if (this.failure !== null) return reject(this.failure);
      this.started = { resolve, reject };
      this.send({ type: "start" });
    });
  }

  /** Closes the connections, then writes and seals everything received; the thread ends. */
  stop(): Promise<void> {
    this.stopping ??= this.stopThread();
    return this.stopping;
  }

  private async stopThread(): Promise<void> {
    try {
      if (!this.exited) {
        await new Promise<void>((resolve, reject) => {
          this.stopped = { resolve, reject };
          this.send({ type: "stop" });
        });
      }
    } finally {
      await Promise.all([...this.connections.values()].map((c) => c.connection.stop()));
      this.stopHandoverTimer();
      this.ending = true;
      await this.worker.terminate();
    }
    // A thread that died before the stop wrote nothing more, and sealed nothing: the stop says so, as the stop of a
    // feed whose writer failed does (its files are sealed by the next start).
    if (this.failure !== null) throw this.failure;
  }

  /**
   * The feed thread's metrics as it last sent them (every second, and as it stops): a scrape never waits for a
   * busy feed thread, and its counters never go missing from one.
   */
  get metrics(): MetricObjectWithValues<MetricValue<string>>[] {
    return this.lastMetrics;
  }

  private send(m: ToFeed, transfer: ArrayBuffer[] = []): void {
    if (!this.exited) this.worker.postMessage(m, transfer);
  }

  private receive(m: FromFeed): void {
    switch (m.type) {
      case "connect":
        this.connect(m.conn, m.options);
        break;
      case "send":
        this.connections.get(m.conn)?.connection.send(m.text);
        break;
      case "pause":
      case "resume": {
        const held = this.connections.get(m.conn);
        if (held === undefined) break;
        held.paused = m.type === "pause";
        this.applyPause(held);
        break;
      }
      case "stopConnection": {
        const held = this.connections.get(m.conn);
        const done = () => {
          this.handOver();
          this.send({ type: "connectionStopped", conn: m.conn });
        };
        if (held === undefined) done();
        else held.connection.stop().then(done, done);
        break;
      }
      case "log":
        this.o.log[m.level](m.message, m.details);
        break;
      case "flushed":
        this.o.onFlushed?.(m.ack);
        break;
      case "failure":
        this.fail(fromThreadError(m.error));
        break;
      case "started":
        settle(this.started, m.error);
        this.started = null;
        break;
      case "stopped":
        settle(this.stopped, m.error);
        this.stopped = null;
        break;
      case "metrics":
        this.lastMetrics = m.metrics;
        break;
    }
  }

  private connect(conn: number, options: RemoteConnectionOptions): void {
    // Frames go in the turn's batch; anything else goes after the frames before it, in one ordered stream.
    const event = (m: ToFeed) => {
      this.handOver();
      this.send(m);
    };
    const connection = new Connection({
      ...options,
      clock: this.clock,
      heartbeat: this.connector.heartbeat,
      sendsPerSecond: this.connector.sendsPerSecond,
      events: {
        onOpen: (socket, replacing, atNs) => {
          held.openSockets++;
          this.connects++;
          event({ type: "open", conn, socket, replacing, atNs });
        },
        onFrame: (socket, bytes, recvNs) => {
          this.batch.add(conn, socket, recvNs, bytes);
          if (!this.postScheduled) {
            // Handed over after the I/O callbacks of this turn: the frames that arrived in it go as one batch.
            this.postScheduled = true;
            setImmediate(() => this.handOver());
          }
        },
        onClose: (socket, reason, why, atNs) => {
          held.openSockets--;
          event({ type: "close", conn, socket, reason, why, atNs });
        },
        onStall: (socket, silentMs, atNs) => event({ type: "stall", conn, socket, silentMs, atNs }),
        onWarning: (message) => event({ type: "warning", conn, message }),
      },
    });
    const held: Held = { connection, paused: false, openSockets: 0 };
    this.connections.set(conn, held);
    if (this.handoverPaused) held.connection.pauseReading();
    held.connection.start();
  }

  /** Sends the frames of this turn to the feed thread. */
  private handOver(): void {
    this.postScheduled = false;
    if (this.batch.frames === 0 || this.exited) return;
    const b = this.batch.take();
    const kib = Math.ceil(b.length / 1024);
    this.handedFrames = (this.handedFrames + b.frames) | 0;
    this.handedKib = (this.handedKib + kib) | 0;
    this.send({ type: "frames", ...b, kib }, [b.buffer]);
    this.checkHandover();
  }

  /** Pauses reading while too much waits to be taken by the feed thread (it is short of CPU), and resumes it. */
  private checkHandover(): void {
    const frames = (this.handedFrames - Atomics.load(this.taken, 0)) | 0;
    const bytes = ((this.handedKib - Atomics.load(this.taken, 1)) | 0) * 1024;
    const paused = this.handoverPaused
      ? frames > HANDOVER_HIGH_FRAMES / 4 || bytes > HANDOVER_HIGH_BYTES / 4
      : frames >= HANDOVER_HIGH_FRAMES || bytes >= HANDOVER_HIGH_BYTES;
    if (paused === this.handoverPaused) return;
    this.handoverPaused = paused;
    if (paused) {
      this.o.onReadPause?.();
      this.o.log.warn("the feed thread is behind: reading paused", { frames, bytes });
      this.handoverTimer = setInterval(() => this.checkHandover(), HANDOVER_CHECK_MS);
    } else this.stopHandoverTimer();
    for (const held of this.connections.values()) this.applyPause(held);
  }

  private stopHandoverTimer(): void {
    if (this.handoverTimer !== null) clearInterval(this.handoverTimer);
    this.handoverTimer = null;
  }

  private applyPause(held: Held): void {
    if (held.paused || this.handoverPaused) held.connection.pauseReading();
    else held.connection.resumeReading();
  }

  /** The feed thread died: nothing more can be written; the sockets close. */
  private died(err: unknown): void {
    if (this.failure === null) {
      this.o.log.alert("the feed thread died: this feed records nothing more", {
        error: err instanceof Error ? err.message : String(err),
      });
      this.fail(err);
    }
    this.stopHandoverTimer();
    for (const c of this.connections.values()) void c.connection.stop();
    for (const waiting of [this.started, this.stopped]) waiting?.reject(this.failure);
    this.started = null;
    this.stopped = null;
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.o.onFailure?.(err);
  }
}
