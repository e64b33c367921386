/**
 * Feeds on threads of their own (`feedThreads: true`): the recorder of the compiled
 * package (a feed thread is a compiled file) against simulators on 127.0.0.1. The files hold the simulator's books
 * through faults and a reconnect, the metrics of both threads are served together, and a stop seals everything.
 */
import { afterEach, describe, expect, it } from "vitest";
import { openTape } from "../../src/index.js";
import type { VenueId } from "../../src/recorder/connectors/index.js";
import type * as RecorderModule from "../../src/recorder/index.js";
import { feedOfSimulator, startSimulator } from "../../src/recorder/simulators/index.js";
import { tempDir } from "../reader/helpers.js";
import { files, numeric, rebuild, records } from "./recorded-files.js";

// `npm test` builds the package first.
const { Recorder, FeedThread } = (await import(
  "../../dist/src/recorder/index.js" as string
)) as typeof RecorderModule;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(["binance", "okx"] as const)("recording %s with feed threads", (venue: VenueId) => {
  it("writes the simulator's books through a gap, a duplicate and a reconnect, and serves both threads' metrics", async () => {
    expect(FeedThread.available()).toBe(true);
    const s = await startSimulator(venue, { rate: 40, seed: 7 });
    cleanups.push(() => s.close());
    const root = (await tempDir()).dir;
    const acks: number[] = [];
    const r = await Recorder.start({
      root,
      captureId: "t",
      feeds: [feedOfSimulator(s, 10_000)],
      flushIntervalMs: 50,
      sync: false,
      statusPort: 0,
      statusHost: "127.0.0.1",
      feedThreads: true,
      onFlushed: (_venue, ack) => acks.push(ack.records),
    });
    cleanups.push(() => r.stop().catch(() => {}));
    expect(r.feeds).toHaveLength(0);
    expect(r.threads).toHaveLength(1);
    await waitFor(() => r.ready, "connections");
    const base = `http://127.0.0.1:${r.statusPort}`;
    const metric = async (name: string) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${name}{venue="${venue}"} `));
      return Number(line?.split(" ").pop() ?? Number.NaN);
    };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const sym = s.symbols[0]!;
    await waitFor(async () => (await metric("ticktape_records_written_total")) > 100, "records written");
    await s.inject({ kind: "drop", symbol: sym });
    await waitFor(async () => (await metric("ticktape_gaps_total")) === 1, "the gap counted");
    await s.inject({ kind: "duplicate", symbol: sym });
    await s.inject({ kind: "disconnect" });
    await waitFor(() => r.threads[0]!.connectCount === 2 && r.ready, "reconnect");
    await new Promise((res) => setTimeout(res, 1500));
    // Settled: no more market, and time for the last frames to reach the files.
    s.pause();
    await new Promise((res) => setTimeout(res, 1500));
    const expected = Object.fromEntries(s.symbols.map((x) => [x, numeric(s.book(x)!)]));

    const text = await (await fetch(`${base}/metrics`)).text();
    // This thread's process metrics and the feed thread's own, in one answer.
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(new RegExp(`ticktape_messages_total\\{venue="${venue}"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`ticktape_connections_open\\{venue="${venue}"\\} 1`));
    expect(text).toMatch(new RegExp(`ticktape_feed_thread_wait_seconds_count\\{venue="${venue}"\\} [1-9]`));
    expect(acks.length).toBeGreaterThan(0);

    await r.stop();
    expect(r.threads[0]!.failed).toBe(false);
    const paths = await files(root);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.every((p) => p.endsWith(".tape"))).toBe(true);
    for (const p of paths) {
      const reader = await openTape(p);
      expect((await reader.verify()).ok, p).toBe(true);
      await reader.close();
    }
    const recs = await records(paths);
    // Acknowledged as flushed: in the files.
    expect(recs.length).toBeGreaterThanOrEqual(Math.max(...acks));
    const typed = (type: string) => recs.filter((x) => x.kind === "event" && x.type === type);
    expect(typed("connect")).toHaveLength(2);
    expect(typed("gap").length).toBeGreaterThanOrEqual(1);
    expect(typed("disconnect").length).toBeGreaterThanOrEqual(1);
    // Receive times come from the socket thread, connection events stamped there too: the disconnect of the first
    // socket comes before any frame of the second.
    const disconnect = typed("disconnect")[0]!;
    const second = typed("connect")[1]!;
    expect(disconnect.ts <= second.ts).toBe(true);
    for (const x of s.symbols) expect(await rebuild(paths, x), x).toEqual(expected[x]);
  });
});
