/** The recorder's Prometheus metrics, in a registry of its own (served on `/metrics`). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class RecorderMetrics {
  readonly registry = new Registry();
  readonly messages = new Counter({
    name: "ticktape_messages_total",
    help: "Messages received from venues (frames and REST responses)",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly messageBytes = new Counter({
    name: "ticktape_message_bytes_total",
    help: "Bytes of the messages received",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly records = new Counter({
    name: "ticktape_records_written_total",
    help: "Records appended to files",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: "ticktape_records_dropped_total",
    help: "Records dropped because the writer queue was full (or the writer had stopped), by kind",
    labelNames: ["venue", "kind"],
    registers: [this.registry],
  });
  readonly gaps = new Counter({
    name: "ticktape_gaps_total",
    help: "Sequence gaps detected in book streams",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly checksumFailures = new Counter({
    name: "ticktape_checksum_failures_total",
    help: "Book checksums that did not match",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly reconnects = new Counter({
    name: "ticktape_reconnects_total",
    help: "Connections lost or replaced after a stall",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly badFrames = new Counter({
    name: "ticktape_bad_frames_total",
    help: "Frames that could not be parsed (kept as raw records)",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly writeErrors = new Counter({
    name: "ticktape_write_errors_total",
    help: "Failed disk writes and flushes (retried)",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly readPauses = new Counter({
    name: "ticktape_read_pauses_total",
    help: "Times reading the sockets paused because records, or frames handed to a feed thread, waited for the CPU (the disk keeping up)",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  /** What sets each feed's queue gauge, run as the gauge is read. */
  private readonly queueReaders: (() => void)[] = [];
  readonly queueDepth = new Gauge({
    name: "ticktape_writer_queue_records",
    help: "Records waiting for the writer",
    labelNames: ["venue"],
    registers: [this.registry],
    // Read at each scrape, not only at a flush: while a flush waits for the disk, the queue grows and no flush ends.
    collect: () => {
      for (const read of this.queueReaders) read();
    },
  });
  readonly connected = new Gauge({
    name: "ticktape_connections_open",
    help: "Open venue connections",
    labelNames: ["venue"],
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "ticktape_receive_to_disk_seconds",
    help: "Time from receiving a message to its records being flushed (the oldest of each flush)",
    labelNames: ["venue"],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 30],
    registers: [this.registry],
  });

  readonly feedThreadWait = new Histogram({
    name: "ticktape_feed_thread_wait_seconds",
    help: "Feed threads only: time from the receive time of the first frame of a batch (the oldest) to its feed thread taking the batch",
    labelNames: ["venue"],
    // Fine at the low end, where the recorder's latency target is.
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  /** `read` sets a feed's `queueDepth`; it runs each time the metrics are read. */
  watchQueue(read: () => void): void {
    this.queueReaders.push(read);
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
