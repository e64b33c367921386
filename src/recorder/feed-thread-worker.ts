/**
 * A feed thread (feed-thread.ts): a `LiveFeed` whose connections are read by the thread that started this one.
 * Frames come stamped with their receive times, connection events with theirs; what the feed asks of its
 * connections, its log lines and its flushes go back.
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { toThreadError } from "../common/thread-error.js";
import { systemClock } from "./clock.js";
import type { ConnectionEvents, ConnectionOptions, FeedConnection } from "./connection.js";
import { type FeedThreadSetup, type FromFeed, METRICS_EVERY_MS, type ToFeed } from "./feed-thread.js";
import { readFrames } from "./frame-batch.js";
import { LiveFeed } from "./live-feed.js";
import type { RecorderLog } from "./log.js";
import { RecorderMetrics } from "./metrics.js";

const setup = workerData as FeedThreadSetup;
const port = parentPort!;
const post = (m: FromFeed) => port.postMessage(m);

try {
  // Lower priority than the thread that reads the sockets (on Linux a nice value is a thread's own).
  setPriority(setup.nice);
} catch {
  // Not allowed here: the two threads share the cores as equals.
}

/** Log lines go to the other thread's log (bindings of a child become details). */
function forwardLog(bindings: Record<string, unknown>): RecorderLog {
  const line =
    (level: "debug" | "info" | "warn" | "alert") => (message: string, details?: Record<string, unknown>) => {
      const all = details === undefined ? bindings : { ...bindings, ...details };
      post({ type: "log", level, message, ...(Object.keys(all).length > 0 ? { details: all } : {}) });
    };
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    alert: line("alert"),
    child: (b) => forwardLog({ ...bindings, ...b }),
  };
}

/** A connection whose sockets the other thread reads. */
class RemoteConnection implements FeedConnection {
  private stopped: (() => void) | null = null;

  constructor(
    readonly id: number,
    private readonly options: ConnectionOptions,
  ) {}

  get events(): ConnectionEvents {
    return this.options.events;
  }

  start(): void {
    const { plan, stallMs, maxAgeMs, backoffMs, maxFrameBytes } = this.options;
    const options = {
      plan,
      ...(stallMs === undefined ? {} : { stallMs }),
      ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
      ...(backoffMs === undefined ? {} : { backoffMs }),
      ...(maxFrameBytes === undefined ? {} : { maxFrameBytes }),
    };
    post({ type: "connect", conn: this.id, options });
  }

  send(text: string): void {
    post({ type: "send", conn: this.id, text });
  }

  pauseReading(): void {
    post({ type: "pause", conn: this.id });
  }

  resumeReading(): void {
    post({ type: "resume", conn: this.id });
  }

  stop(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.stopped = resolve;
      post({ type: "stopConnection", conn: this.id });
    });
  }

  /** The other thread closed the sockets (every frame they delivered came before this). */
  closed(): void {
    this.stopped?.();
    this.stopped = null;
  }
}

const connections: RemoteConnection[] = [];
const metrics = new RecorderMetrics({ processMetrics: false });
const wait = metrics.feedThreadWait.labels({ venue: setup.feed.venue });
const clock = systemClock(setup.clockOffsetNs);
/**
 * The feed, made as the thread starts; null when a setting refused it (a capture id that cannot be part of a file
 * name): the start is answered with that error, as the same feed on the main thread refuses to be made.
 */
let feed: LiveFeed | null = null;
let refused: unknown = null;
try {
  feed = makeFeed();
} catch (err) {
  refused = err;
}

function makeFeed(): LiveFeed {
  return new LiveFeed({
    feed: setup.feed,
    root: setup.root,
    captureId: setup.captureId,
    clock,
    log: forwardLog({}),
    metrics,
    writer: setup.writer,
    connect: (options) => {
      const c = new RemoteConnection(connections.length, options);
      connections.push(c);
      return c;
    },
    onFlushed: (_venue, ack) => post({ type: "flushed", ack }),
    onFailure: (_venue, error) => post({ type: "failure", error: toThreadError(error) }),
  });
}

const sendMetrics = () =>
  metrics.registry.getMetricsAsJSON().then(
    (all) => post({ type: "metrics", metrics: all }),
    () => {},
  );
const metricsTimer = setInterval(sendMetrics, METRICS_EVERY_MS);

port.on("message", (m: ToFeed) => {
  switch (m.type) {
    case "frames": {
      // The wait of the batch's first frame, the one that waited longest (one observation a batch: one a frame
      // cost 5% of the thread).
      let first = true;
      const now = clock.nowNs();
      readFrames(m.buffer, m.length, (conn, socket, recvNs, bytes) => {
        if (first) wait.observe(Number(now - recvNs) / 1e9);
        first = false;
        connections[conn]!.events.onFrame(socket, bytes, recvNs, null);
      });
      Atomics.add(setup.taken, 0, m.frames);
      Atomics.add(setup.taken, 1, m.kib);
      break;
    }
    case "open":
      connections[m.conn]!.events.onOpen(m.socket, m.replacing, m.atNs);
      break;
    case "close":
      connections[m.conn]!.events.onClose(m.socket, m.reason, m.why, m.atNs);
      break;
    case "stall":
      connections[m.conn]!.events.onStall(m.socket, m.silentMs, m.atNs);
      break;
    case "warning":
      connections[m.conn]!.events.onWarning(m.message);
      break;
    case "connectionStopped":
      connections[m.conn]?.closed();
      break;
    case "start":
      if (feed === null) {
        post({ type: "started", error: toThreadError(refused) });
        break;
      }
      feed.start().then(
        () => post({ type: "started", error: null }),
        (err: unknown) => post({ type: "started", error: toThreadError(err) }),
      );
      break;
    case "stop":
      // The last metrics go first: the counters of the last flush are in them.
      (feed?.stop() ?? Promise.resolve())
        .finally(() => {
          clearInterval(metricsTimer);
          return sendMetrics();
        })
        .then(
          () => post({ type: "stopped", error: null }),
          (err: unknown) => post({ type: "stopped", error: toThreadError(err) }),
        );
      break;
  }
});
