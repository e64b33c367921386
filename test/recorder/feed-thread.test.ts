/**
 * Feeds on threads of their own (`feedThreads: true`): the recorder of the compiled
 * package (a feed thread is a compiled file) against simulators on 127.0.0.1. The files hold the simulator's books
 * through faults and a reconnect, the metrics of both threads are served together, and a stop seals everything.
 */
import { afterEach, describe, expect, it } from "vitest";
import { blockRecords } from "../../src/format/index.js";
import type * as TapeModule from "../../src/index.js";
import { openTape } from "../../src/index.js";
import type { VenueId } from "../../src/recorder/connectors/index.js";
import type * as RecorderModule from "../../src/recorder/index.js";
import type { RecorderOptions } from "../../src/recorder/recorder.js";
import { feedOfSimulator, type Simulator, startSimulator } from "../../src/recorder/simulators/index.js";
import { tempDir } from "../reader/helpers.js";
import { waitFor } from "../support/wait.js";
import { files, numeric, rebuild, records } from "./recorded-files.js";

// `npm test` builds the package first.
const { Recorder, FeedThread } = (await import(
  "../../dist/src/recorder/index.js" as string
)) as typeof RecorderModule;
// Errors made by the compiled package are of its classes.
const { TapeError } = (await import("../../dist/src/index.js" as string)) as typeof TapeModule;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A recorder of simulator `s` into `root`, with feed threads unless `more` says otherwise. */
function record(s: Simulator, root: string, more: Partial<RecorderOptions>) {
  return Recorder.start({
    root,
    captureId: "t",
    feeds: [feedOfSimulator(s, 10_000)],
    flushIntervalMs: 50,
    sync: false,
    feedThreads: true,
    ...more,
  });
}

/** The files under `root`, each of them sealed and verified. */
async function sealedAndVerified(root: string): Promise<string[]> {
  const paths = await files(root);
  expect(paths.length).toBeGreaterThan(0);
  expect(paths.filter((p) => !p.endsWith(".tape"))).toEqual([]);
  for (const p of paths) {
    const reader = await openTape(p);
    expect((await reader.verify()).ok, p).toBe(true);
    await reader.close();
  }
  return paths;
}

/** The feed's own events (symbol ""), block after block as the file holds them: the order they were written in. */
async function eventsInFileOrder(paths: string[]): Promise<{ type: string; message: string }[]> {
  const out: { type: string; message: string }[] = [];
  for (const p of paths) {
    const reader = await openTape(p);
    for (const block of reader.selectBlocks({ kinds: ["event"], symbols: [""] }))
      for (const rec of blockRecords(await reader.readBlock(block)))
        if (rec.kind === "event") out.push({ type: rec.type, message: rec.message });
    await reader.close();
  }
  return out;
}

describe.each(["binance", "okx"] as const)("recording %s with feed threads", (venue: VenueId) => {
  it("writes the simulator's books through a gap, a duplicate and a reconnect, and serves both threads' metrics", async () => {
    expect(FeedThread.available()).toBe(true);
    const s = await startSimulator(venue, { rate: 40, seed: 7 });
    cleanups.push(() => s.close());
    const root = (await tempDir()).dir;
    const acks: number[] = [];
    const r = await record(s, root, {
      statusPort: 0,
      statusHost: "127.0.0.1",
      onFlushed: (_venue, ack) => acks.push(ack.records),
    });
    cleanups.push(() => r.stop().catch(() => {}));
    expect(r.feeds).toHaveLength(0);
    expect(r.threads).toHaveLength(1);
    await waitFor(() => r.ready, "connections", 15_000);
    const base = `http://127.0.0.1:${r.statusPort}`;
    const metric = async (name: string) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${name}{venue="${venue}"} `));
      return Number(line?.split(" ").pop() ?? Number.NaN);
    };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const sym = s.symbols[0]!;
    await waitFor(
      async () => (await metric("ticktape_records_written_total")) > 100,
      "records written",
      15_000,
    );
    await s.inject({ kind: "drop", symbol: sym });
    await waitFor(async () => (await metric("ticktape_gaps_total")) === 1, "the gap counted", 15_000);
    await s.inject({ kind: "duplicate", symbol: sym });
    await s.inject({ kind: "disconnect" });
    await waitFor(() => r.threads[0]!.connectCount === 2 && r.ready, "reconnect", 15_000);
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
    const paths = await sealedAndVerified(root);
    const recs = await records(paths);
    // Acknowledged as flushed: in the files.
    expect(recs.length).toBeGreaterThanOrEqual(Math.max(...acks));
    const typed = (type: string) => recs.filter((x) => x.kind === "event" && x.type === type);
    expect(typed("connect")).toHaveLength(2);
    expect(typed("gap").length).toBeGreaterThanOrEqual(1);
    expect(typed("disconnect").length).toBeGreaterThanOrEqual(1);
    // Connection events reach the feed thread in the order they happened: in the file (not merged by time, where
    // their receive times, stamped on the socket thread, would order them anyway) the first socket's disconnect
    // comes before the second socket's connect.
    const order = (await eventsInFileOrder(paths))
      .filter((e) => e.type === "connect" || e.type === "disconnect")
      .map((e) => `${e.type} ${/socket (\d+)/.exec(e.message)?.[1]}`);
    const [first, second] = order.filter((e) => e.startsWith("connect"));
    expect(order.indexOf(`disconnect ${first!.split(" ")[1]}`)).toBeGreaterThan(order.indexOf(first!));
    expect(order.indexOf(`disconnect ${first!.split(" ")[1]}`)).toBeLessThan(order.indexOf(second!));
    for (const x of s.symbols) expect(await rebuild(paths, x), x).toEqual(expected[x]);
  });
});

describe("a feed thread that fails", () => {
  it("fails the start with the error of a setting its feed refuses, as the same feed on the main thread does", async () => {
    const s = await startSimulator("binance", { rate: 10, seed: 3 });
    cleanups.push(() => s.close());
    const root = (await tempDir()).dir;
    const start = (feedThreads: boolean) => record(s, root, { captureId: "bad/id", feedThreads });
    const onMain = await start(false).then(
      () => null,
      (err: unknown) => err,
    );
    const onThread = await start(true).then(
      () => null,
      (err: unknown) => err,
    );
    expect(onMain).toBeInstanceOf(TapeError);
    expect(onThread).toBeInstanceOf(TapeError);
    expect((onThread as { code: string }).code).toBe((onMain as { code: string }).code);
  });

  it("by dying makes the stop reject, and the next start seals what it had written", async () => {
    const s = await startSimulator("binance", { rate: 40, seed: 5 });
    cleanups.push(() => s.close());
    const root = (await tempDir()).dir;
    const failures: unknown[] = [];
    const acks: number[] = [];
    const r = await record(s, root, {
      onFlushed: (_venue, ack) => acks.push(ack.records),
      onFailure: (_venue, err) => failures.push(err),
    });
    cleanups.push(() => r.stop().catch(() => {}));
    await waitFor(() => acks.length > 2, "flushes", 15_000);
    // The thread ends as if it had crashed (an out-of-memory kill ends it the same way).
    await (r.threads[0] as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await waitFor(() => r.threads[0]!.failed, "the death noticed", 15_000);
    expect(failures).toHaveLength(1);
    await expect(r.stop()).rejects.toThrow(/feed thread exited/);
    const left = await files(root);
    expect(left.some((p) => p.endsWith(".tape.open"))).toBe(true);

    // The next start sets the thread's file aside as a part of the hour, and its stop seals the hour with it:
    // everything acknowledged before the death is in the sealed file.
    let flushed = 0;
    const again = await record(s, root, { feedThreads: false, onFlushed: () => flushed++ });
    await waitFor(() => flushed > 0, "the next start's first flush", 15_000);
    await again.stop();
    const paths = await sealedAndVerified(root);
    expect((await records(paths)).length).toBeGreaterThanOrEqual(Math.max(...acks));
  });
});
