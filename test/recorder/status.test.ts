/**
 * The status server's answers against what docs/RECORDER.md ("Operations") says they mean, with real sockets:
 * `/readyz` is 200 only when every venue has its connections open; `ticktape_receive_to_disk_seconds` is the time
 * from receiving the oldest record of each flush to that flush's end.
 */
import { open } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { systemClock } from "../../src/recorder/clock.js";
import type * as RecorderModule from "../../src/recorder/index.js";
import { LiveFeed } from "../../src/recorder/live-feed.js";
import { silentLog } from "../../src/recorder/log.js";
import { RecorderMetrics } from "../../src/recorder/metrics.js";
import { feedOfSimulator, startSimulator } from "../../src/recorder/simulators/index.js";
import { tempDir } from "../reader/helpers.js";
import { heldFsync, withFaults } from "../support/faulty-file.js";
import { waitFor } from "../support/wait.js";

// Feed threads run the compiled package (`npm run build`): the recorder is taken from there.
const { Recorder } = (await import("../../dist/src/recorder/index.js" as string)) as typeof RecorderModule;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/**
 * A Binance stream server that takes only the connections whose URL `accept` allows, and sends each a frame every
 * 50 ms (of a stream the recorder did not ask for: counted and kept as a raw record, nothing else).
 */
async function streamServer(
  accept: (url: string) => boolean,
): Promise<{ url: string; accepted: () => number }> {
  // A connection of 1024 streams has a long URL.
  const http: Server = createServer({ maxHeaderSize: 256 * 1024 });
  const wss = new WebSocketServer({
    server: http,
    verifyClient: (info: { req: IncomingMessage }) => accept(info.req.url ?? ""),
  });
  let accepted = 0;
  wss.on("connection", (ws) => {
    accepted++;
    const t = setInterval(() => ws.send('{"stream":"other@trade","data":{"e":"other"}}'), 50);
    ws.on("close", () => clearInterval(t));
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => r());
      }),
  );
  return { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`, accepted: () => accepted };
}

describe("readiness", () => {
  it.each([false, true])(
    "is not ready while one of a venue's connections is down, also while another one is being replaced (feed threads: %s)",
    async (feedThreads) => {
      // 513 symbols of trades and quotes: 1026 streams, two connections (1024 streams each at most). The second
      // connection's URL is the one with s512's streams, which the server refuses: that connection is down
      // throughout. The first is replaced every 300 ms (a replaced socket keeps delivering for 2 s).
      const symbols = Array.from({ length: 513 }, (_, i) => `S${i}`);
      const server = await streamServer((url) => !url.includes("s512@"));
      const r = await Recorder.start({
        root: (await tempDir()).dir,
        captureId: "t",
        flushIntervalMs: 50,
        sync: false,
        statusPort: 0,
        statusHost: "127.0.0.1",
        feedThreads,
        feeds: [
          {
            venue: "binance",
            symbols,
            trades: true,
            book: false,
            bbo: true,
            raw: false,
            urls: { ws: server.url, rest: "http://127.0.0.1:1" },
            stallMs: 30_000,
            maxConnectionAgeMs: 300,
          },
        ],
      });
      cleanups.push(() => r.stop().catch(() => {}));
      await waitFor(() => server.accepted() >= 3, "two replacements of the first connection", 15_000);
      const base = `http://127.0.0.1:${r.statusPort}`;
      const answers: number[] = [];
      const readyAt: number[] = [];
      const end = Date.now() + 3000;
      while (Date.now() < end) {
        if (r.ready) readyAt.push(Date.now());
        answers.push((await fetch(`${base}/readyz`)).status);
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(readyAt, "Recorder.ready was true").toEqual([]);
      expect(answers.filter((s) => s === 200).length, "/readyz answered 200").toBe(0);
    },
  );
});

describe("the receive → disk latency histogram", () => {
  it("measures from the oldest record each flush acknowledges, also when flushes take longer than their interval", async () => {
    const sim = await startSimulator("okx", { rate: 100, seed: 11 });
    cleanups.push(() => sim.close());
    // A slow disk: every fsync takes 400 ms, so a flush ends long after the next records came.
    const openFile = async (path: string, flags: string) =>
      withFaults(await open(path, flags), {
        sync: async (real) => {
          await new Promise((r) => setTimeout(r, 400));
          return real.sync();
        },
      });
    const metrics = new RecorderMetrics({ processMetrics: false });
    const observed: number[] = [];
    const observe = metrics.latency.observe.bind(metrics.latency);
    metrics.latency.observe = ((labels: Record<string, string>, value: number) => {
      observed.push(value);
      observe(labels, value);
    }) as typeof metrics.latency.observe;
    const clock = systemClock();
    // Each flush: when it ended, the records it acknowledged (appended before it started), and the histogram's
    // observation for it.
    const flushes: { atNs: bigint; records: number; observed: number | undefined }[] = [];
    let seen = 0;
    const feed = new LiveFeed({
      feed: feedOfSimulator(sim, 30_000),
      root: (await tempDir()).dir,
      captureId: "t",
      clock,
      log: silentLog,
      metrics,
      writer: { hourly: { writer: { openFile } }, flushIntervalMs: 50, sync: true },
      onFlushed: (_venue, ack) => {
        flushes.push({
          atNs: clock.nowNs(),
          records: ack.records,
          observed: observed.length > seen ? observed.at(-1) : undefined,
        });
        seen = observed.length;
      },
    });
    // The receive time of every record, in the order the writer appends them (the order they are pushed).
    const received: bigint[] = [];
    const push = feed.writer.push.bind(feed.writer);
    feed.writer.push = (rec) => {
      received.push(BigInt(rec.recvTs!));
      push(rec);
    };
    await feed.start();
    cleanups.push(() => feed.stop().catch(() => {}));
    await waitFor(() => flushes.length >= 8, "flushes", 20_000);
    await feed.stop();
    const wrong: string[] = [];
    for (let i = 1; i < flushes.length; i++) {
      const { atNs, records, observed: got } = flushes[i]!;
      const from = flushes[i - 1]!.records;
      if (records === from) continue;
      // The oldest record this flush acknowledged: the first appended after the previous flush started.
      const want = Number(atNs - received[from]!) / 1e9;
      if (got === undefined || Math.abs(got - want) > 0.05)
        wrong.push(
          `flush ${i}: observed ${got?.toFixed(3)} s, oldest record acknowledged ${want.toFixed(3)} s`,
        );
    }
    expect(wrong).toEqual([]);
  });
});

describe("the writer queue gauge", () => {
  it("shows the records waiting while a flush waits for the disk, not the queue of the last flush that ended", async () => {
    const sim = await startSimulator("okx", { rate: 100, seed: 13 });
    cleanups.push(() => sim.close());
    const { gate, openFile, held } = heldFsync((path) => path.endsWith(".tape.open"));
    const metrics = new RecorderMetrics({ processMetrics: false });
    const feed = new LiveFeed({
      feed: feedOfSimulator(sim, 30_000),
      root: (await tempDir()).dir,
      captureId: "t",
      clock: systemClock(),
      log: silentLog,
      metrics,
      // Beyond 16 KiB held for the disk (written and not yet fsynced), records queue.
      writer: {
        hourly: { writer: { openFile } },
        flushIntervalMs: 50,
        sync: true,
        maxUnwrittenBytes: 16 * 1024,
      },
    });
    await feed.start();
    cleanups.push(async () => {
      gate.armed = false;
      gate.release?.();
      await feed.stop().catch(() => {});
    });
    const gauge = async () => {
      const text = await metrics.registry.getSingleMetricAsString("ticktape_writer_queue_records");
      return {
        text,
        shown: Number(/ticktape_writer_queue_records\{venue="okx"\} (\d+)/.exec(text)?.[1] ?? "NaN"),
      };
    };
    // Recording, the disk keeping up: nothing waits.
    await waitFor(
      async () => feed.writer.stats.flushes >= 3 && (await gauge()).shown === 0,
      "an empty queue",
    );
    // The disk stops answering fsyncs (an EFS outage): the flush in progress waits, records queue.
    gate.armed = true;
    await held();
    await waitFor(() => feed.writer.stats.queued >= 100, "records queued", 15_000);
    const { text, shown } = await gauge();
    expect(shown, text).toBeGreaterThanOrEqual(100);
  });
});

describe("ticktape_reconnects_total", () => {
  it("does not count the connections the recorder closes as it stops", async () => {
    const sim = await startSimulator("okx", { rate: 40, seed: 17 });
    cleanups.push(() => sim.close());
    const metrics = new RecorderMetrics({ processMetrics: false });
    const r = await Recorder.start({
      root: (await tempDir()).dir,
      captureId: "t",
      feeds: [feedOfSimulator(sim, 30_000)],
      flushIntervalMs: 50,
      sync: false,
      metrics: metrics as unknown as RecorderModule.RecorderMetrics,
    });
    cleanups.push(() => r.stop().catch(() => {}));
    await waitFor(() => r.ready, "connected");
    await new Promise((res) => setTimeout(res, 300));
    await r.stop();
    const text = await metrics.registry.getSingleMetricAsString("ticktape_reconnects_total");
    expect(text).not.toMatch(/ticktape_reconnects_total\{venue="okx"\} [1-9]/);
  });
});
