/**
 * The recorder against the venue simulators (real WebSocket and HTTP servers on 127.0.0.1): simulated sessions
 * into files whose books equal the simulators' own, faults into the right events, the raw frames giving the same
 * records again through ingest, rotation at the hour.
 */
import { readdir } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { openTape, type TapeRecord } from "../../src/index.js";
import type { BookFeed } from "../../src/recorder/book-feed.js";
import { offsetClock } from "../../src/recorder/clock.js";
import type { VenueId } from "../../src/recorder/connectors/index.js";
import { ingest } from "../../src/recorder/ingest.js";
import type { FeedConfig } from "../../src/recorder/live-feed.js";
import { Recorder } from "../../src/recorder/recorder.js";
import {
  feedOfSimulator,
  type SimBook,
  type Simulator,
  startSimulator,
} from "../../src/recorder/simulators/index.js";
import { tempDir } from "../reader/helpers.js";
import { waitFor } from "../support/wait.js";
import { files, numeric, rebuild, records } from "./recorded-files.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sim(venue: VenueId, options: Parameters<typeof startSimulator>[1] = {}): Promise<Simulator> {
  const s = await startSimulator(venue, { rate: 40, seed: 7, ...options });
  cleanups.push(() => s.close());
  return s;
}

function feedOf(s: Simulator): FeedConfig {
  return feedOfSimulator(s, 10_000);
}

async function record(
  sims: Simulator[],
  root: string,
  extra: Partial<Parameters<typeof Recorder.start>[0]> = {},
): Promise<Recorder> {
  const r = await Recorder.start({
    root,
    captureId: "t",
    feeds: sims.map(feedOf),
    flushIntervalMs: 50,
    sync: false,
    ...extra,
  });
  cleanups.push(() => r.stop().catch(() => {}));
  return r;
}

/** Pauses the market and waits until the recorder's books hold the simulator's last update. */
/**
 * Whether a connector's book holds the simulator's last update: by its id, or for a venue without ids (Kraken) by
 * its levels.
 */
function caughtUp(held: BookFeed, want: SimBook): boolean {
  if (held.lastSeq !== null) return held.lastSeq === want.lastSeq;
  const same = (a: { price: string; size: string }[], b: { price: string; size: string }[]) =>
    a.length === b.length && a.every((l, i) => l.price === b[i]!.price && l.size === b[i]!.size);
  return same(held.book.bids.top(1e6), want.bids) && same(held.book.asks.top(1e6), want.asks);
}

async function settle(s: Simulator, r: Recorder): Promise<void> {
  s.pause();
  const feed = r.feeds.find((f) => f.venue === s.venue)!;
  await waitFor(
    () =>
      s.symbols.every((sym) => {
        const held = feed.connector.bookOf(sym);
        return held?.synced === true && caughtUp(held, s.book(sym)!);
      }),
    `${s.venue} books to catch up`,
  );
}

const events = (recs: TapeRecord[], type: string) =>
  recs.filter((r) => r.kind === "event" && r.type === type);

describe.each(["binance", "binance-usdm", "bybit", "coinbase", "deribit", "kraken", "okx"] as const)(
  "recording %s from its simulator",
  (venue) => {
    it("writes sealed files whose books equal the simulator's, and whose raw frames ingest to the same records", async () => {
      const s = await sim(venue);
      const root = (await tempDir()).dir;
      const r = await record([s], root);
      await waitFor(() => r.ready, "connections");
      await new Promise((res) => setTimeout(res, 1200));
      await settle(s, r);
      const expected = Object.fromEntries(s.symbols.map((sym) => [sym, numeric(s.book(sym)!)]));
      const feed = r.feeds[0]!;
      expect(feed.feed.stats).toMatchObject({ gaps: 0, checksumFailures: 0, badFrames: 0, duplicates: 0 });
      if (venue === "okx") expect(feed.feed.stats.checksumsChecked).toBeGreaterThan(20);
      await r.stop();
      const paths = await files(root);
      expect(paths.every((p) => p.endsWith(".tape"))).toBe(true);
      for (const p of paths) {
        const reader = await openTape(p);
        const report = await reader.verify();
        await reader.close();
        expect(report.ok, p).toBe(true);
      }
      const recs = await records(paths);
      for (const sym of s.symbols) expect(await rebuild(paths, sym), sym).toEqual(expected[sym]);
      expect(recs.filter((x) => x.kind === "trade").length).toBeGreaterThan(0);
      expect(events(recs, "connect")).toHaveLength(1);
      // Binance spot is asked for its times in microseconds, and its simulator sends them; USD-M has only ms.
      const tradeTimes = recs.flatMap((x) => (x.kind === "trade" ? [BigInt(x.ts)] : []));
      if (venue === "binance") expect(tradeTimes.some((t) => t % 1_000_000n !== 0n)).toBe(true);
      if (venue === "binance-usdm") expect(tradeTimes.every((t) => t % 1_000_000n === 0n)).toBe(true);

      // The raw frames through ingest: the same records, less what only the live runtime knows (sockets).
      const again = (await tempDir()).dir;
      await ingest({ venue, inputs: paths, out: again, raw: false });
      const live = recs.filter(
        (x) => x.kind !== "raw" && !(x.kind === "event" && ["connect", "disconnect"].includes(x.type)),
      );
      const offline = (await records(await files(again))).filter((x) => x.kind !== "raw");
      expect(offline).toEqual(live.map((x) => ({ ...x })));
    });

    it("turns each injected fault into the right event and ends with the simulator's book", async () => {
      const s = await sim(venue);
      const root = (await tempDir()).dir;
      const r = await record([s], root);
      await waitFor(() => r.ready, "connections");
      const feed = r.feeds[0]!;
      const sym = s.symbols[0]!;
      await waitFor(() => feed.connector.bookOf(sym)?.synced === true, "first sync");
      await s.inject({ kind: "drop", symbol: sym });
      if (venue === "kraken") {
        // No sequence ids: a checksum shows a loss that leaves the book different (a later update may set the
        // same levels again first); a wrong checksum always shows.
        await s.inject({ kind: "bad-checksum", symbol: sym });
        await waitFor(
          () =>
            feed.feed.stats.checksumFailures >= 1 &&
            feed.feed.stats.resyncs >= 1 &&
            feed.connector.bookOf(sym)?.synced === true,
          "checksum failure and resync",
        );
      } else {
        // Coinbase numbers a connection's messages: a lost one may have been any book's, so every book resyncs.
        const books = venue === "coinbase" ? s.symbols.length : 1;
        await waitFor(
          () => feed.feed.stats.gaps === books && feed.feed.stats.resyncs === books,
          "gap and resync",
        );
        await s.inject({ kind: "duplicate", symbol: sym });
        await waitFor(() => feed.feed.stats.duplicates >= 1, "duplicate dropped");
      }
      if (venue === "okx") {
        await s.inject({ kind: "bad-checksum", symbol: sym });
        await waitFor(
          () => feed.feed.stats.checksumFailures === 1 && feed.feed.stats.resyncs === 2,
          "checksum failure and resync",
        );
      }
      await s.inject({ kind: "disconnect" });
      await waitFor(() => feed.connectCount === 2 && feed.connected, "reconnect");
      // The new connection's snapshot may come late on a loaded machine: the book must be synced again first.
      await waitFor(() => feed.connector.bookOf(sym)?.synced === true, "sync after the reconnect");
      await new Promise((res) => setTimeout(res, 500));
      await settle(s, r);
      const expected = numeric(s.book(sym)!);
      await r.stop();
      const paths = await files(root);
      const recs = await records(paths);
      expect(await rebuild(paths, sym)).toEqual(expected);
      if (venue === "kraken") {
        const failures = events(recs, "checksum_failure");
        expect(failures.length).toBeGreaterThanOrEqual(1);
        expect(failures.every((f) => f.symbol === sym)).toBe(true);
        expect(events(recs, "resync").length).toBeGreaterThanOrEqual(1);
        expect(events(recs, "connect")).toHaveLength(2);
        return;
      }
      const gaps = events(recs, "gap");
      expect(gaps.length).toBeGreaterThanOrEqual(1);
      const drop = s.faults.find((f) => f.kind === "drop")!;
      expect(gaps[0]).toMatchObject({ symbol: sym });
      // The event names the ids on both sides of what was dropped: the last applied, and (Binance) the next received.
      const gap = gaps[0]!;
      if (venue === "binance") {
        expect(gap.kind === "event" && [gap.seqBefore, gap.seqAfter]).toEqual([
          drop.ids[0]! - 1n,
          drop.ids[1]! + 1n,
        ]);
      } else if (venue === "coinbase") {
        // The connection's numbering: the message after the lost one shows it; books have no ids of their own.
        expect(gap.kind === "event" && [gap.seqBefore, gap.seqAfter]).toEqual([undefined, drop.ids[0]! + 1n]);
      } else if (venue === "bybit") {
        // u counts the messages: the gap lies between the ones before and after the dropped one.
        expect(gap.kind === "event" && [gap.seqBefore, gap.seqAfter]).toEqual([
          drop.ids[0]! - 1n,
          drop.ids[0]! + 1n,
        ]);
      } else if (venue === "binance-usdm") {
        // Futures ids leave holes: the last applied u is before the dropped U, the next U after the dropped u.
        const ids = gap.kind === "event" ? [gap.seqBefore!, gap.seqAfter!] : [];
        expect(ids[0]! < drop.ids[0]! && ids[1]! > drop.ids[1]!).toBe(true);
      } else expect(gap.kind === "event" && gap.seqBefore).toBe(drop.ids[0]);
      if (venue === "okx") expect(events(recs, "checksum_failure")).toHaveLength(1);
      expect(events(recs, "resync").length).toBeGreaterThanOrEqual(venue === "okx" ? 2 : 1);
      expect(events(recs, "connect")).toHaveLength(2);
      expect(events(recs, "disconnect").length).toBeGreaterThanOrEqual(1);
    });
  },
);

describe("the recorder", () => {
  it("rotates at the hour of receive time and seals the hour that is over", async () => {
    const s = await sim("okx");
    const root = (await tempDir()).dir;
    // 2026-11-27T09:59:59.4Z: the hour changes 0.6 s into the recording.
    const clock = offsetClock(1_795_773_599_400_000_000n);
    const r = await record([s], root, { clock });
    await waitFor(() => r.feeds[0]!.writer.stats.sealedFiles === 1, "the first hour sealed", 8000);
    await r.stop();
    const names = (await files(root)).map((p) => p.split("/").pop());
    expect(names).toEqual(["okx-2026-11-27T09.t.tape", "okx-2026-11-27T10.t.tape"]);
    // The second file starts with the books carried over: each file's books can be rebuilt alone.
    const [h9, h10] = await files(root);
    const second = await records([h10!]);
    const hourStart = 1_795_773_600_000_000_000n;
    const carried = second.filter((x) => x.recvTs === hourStart);
    const info = carried.filter((x) => x.kind === "event" && x.type === "info");
    expect(info).toHaveLength(s.symbols.length);
    for (const e of info)
      expect(e.kind === "event" && e.message).toMatch(
        /^book carried over from the previous file at sequence \d+$/,
      );
    for (const sym of s.symbols) {
      expect(
        carried.filter((x) => x.kind === "book" && x.snapshot && x.symbol === sym).length,
      ).toBeGreaterThan(10);
    }
    expect((await records([h9!])).length).toBeGreaterThan(0);
    // Ingest of the raw frames carries the books over at the same place: the same records in both hours' files.
    const again = (await tempDir()).dir;
    await ingest({ venue: "okx", inputs: [h9!, h10!], out: again, raw: false });
    const offline = await files(again);
    expect(offline.map((p) => p.split("/").pop())).toEqual([
      "okx-2026-11-27T09.ingest.tape",
      "okx-2026-11-27T10.ingest.tape",
    ]);
    const liveOnly = (x: TapeRecord) =>
      x.kind === "raw" || (x.kind === "event" && ["connect", "disconnect"].includes(x.type));
    expect(await records([offline[1]!])).toEqual(second.filter((x) => !liveOnly(x)));
  });

  it("a feed that cannot start stops the recorder, status server included, instead of leaving it half started", async () => {
    const free = createServer();
    await new Promise<void>((res) => free.listen(0, "127.0.0.1", res));
    const port = (free.address() as AddressInfo).port;
    await new Promise((res) => free.close(res));
    const start = Recorder.start({
      root: (await tempDir()).dir,
      captureId: "t",
      statusPort: port,
      statusHost: "127.0.0.1",
      feeds: [
        {
          venue: "binance",
          symbols: ["BTCUSDT"],
          trades: true,
          book: true,
          bbo: false,
          raw: false,
          // Not a URL (the configuration file refuses it; the library is told it directly).
          urls: { ws: "ws://a b", rest: "http://127.0.0.1:1" },
          stallMs: 30_000,
          maxConnectionAgeMs: 0,
        },
      ],
    });
    await expect(start).rejects.toThrow(/Invalid URL/);
    // Nothing listens on the status port: a liveness probe fails and the pod is restarted.
    const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  });

  // Coinbase numbers each connection's messages on its own and its book updates carry no number: the books move to
  // the new connection with its snapshots.
  it.each(["binance", "coinbase"] as const)(
    "%s: replaces a connection before its forced disconnect without losing or doubling a record",
    async (venue) => {
      const s = await sim(venue, { rate: 50 });
      const root = (await tempDir()).dir;
      const r = await Recorder.start({
        root,
        captureId: "t",
        feeds: [{ ...feedOf(s), maxConnectionAgeMs: 700 }],
        flushIntervalMs: 50,
        sync: false,
      });
      cleanups.push(() => r.stop().catch(() => {}));
      const feed = r.feeds[0]!;
      await waitFor(() => feed.connectCount >= 4, "three replacements", 15_000);
      // A replaced socket keeps delivering for 2 s before it closes.
      await new Promise((res) => setTimeout(res, 2500));
      await settle(s, r);
      const expected = Object.fromEntries(s.symbols.map((sym) => [sym, numeric(s.book(sym)!)]));
      expect(feed.feed.stats.gaps).toBe(0);
      expect(feed.feed.stats.resyncs).toBe(0);
      await r.stop();
      const paths = await files(root);
      const recs = await records(paths);
      // Every trade once: what both connections delivered during an overlap was dropped by its id.
      const ids = recs.flatMap((x) => (x.kind === "trade" ? [`${x.symbol}:${x.tradeId}`] : []));
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size).toBe(ids.length);
      // And the trade ids of each symbol have no hole: the simulator numbers them consecutively.
      for (const sym of s.symbols) {
        const own = recs.flatMap((x) => (x.kind === "trade" && x.symbol === sym ? [BigInt(x.tradeId!)] : []));
        expect(own.at(-1)! - own[0]! + 1n, sym).toBe(BigInt(own.length));
      }
      for (const sym of s.symbols) expect(await rebuild(paths, sym), sym).toEqual(expected[sym]);
      // Each quote once: the simulator stamps every quote with its own time.
      const quotes = recs.flatMap((x) =>
        x.kind === "bbo" ? [`${x.symbol} ${x.ts} ${x.bidPrice} ${x.bidSize} ${x.askPrice} ${x.askSize}`] : [],
      );
      expect(quotes.length).toBeGreaterThan(0);
      expect(new Set(quotes).size).toBe(quotes.length);
      const disconnects = events(recs, "disconnect").map((x) => (x.kind === "event" ? x.message : ""));
      expect(disconnects.filter((m) => m.includes("replaced by a newer one")).length).toBeGreaterThanOrEqual(
        3,
      );
    },
  );

  it("reconnects a connection that went silent, and says so", async () => {
    const s = await sim("okx");
    const root = (await tempDir()).dir;
    const r = await Recorder.start({
      root,
      captureId: "t",
      feeds: [{ ...feedOf(s), stallMs: 1000 }],
      flushIntervalMs: 50,
      sync: false,
    });
    cleanups.push(() => r.stop().catch(() => {}));
    const feed = r.feeds[0]!;
    await waitFor(() => r.ready && feed.connector.bookOf(s.symbols[0]!)?.synced === true, "first sync");
    const before = feed.feed.stats.frames;
    await s.inject({ kind: "stall", ms: 3000 });
    // The simulator holds everything for 3 s: the recorder gives up on a silent socket after 1 s (maybe more than
    // once while the stall lasts), and records again once frames flow.
    await waitFor(
      () => feed.connectCount >= 2 && feed.connected && feed.feed.stats.frames > before + 20,
      "frames again",
      15_000,
    );
    await r.stop();
    const recs = await records(await files(root));
    const stalls = events(recs, "stall");
    expect(stalls.length).toBeGreaterThanOrEqual(1);
    expect(stalls[0]!.kind === "event" && stalls[0]!.message).toMatch(/silent for \d+ ms: reconnecting/);
  });

  it("serves metrics, health and readiness", async () => {
    const s = await sim("binance");
    const root = (await tempDir()).dir;
    const r = await record([s], root, { statusPort: 0, statusHost: "127.0.0.1" });
    await waitFor(() => r.ready, "connections");
    const base = `http://127.0.0.1:${r.statusPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await new Promise((res) => setTimeout(res, 300));
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/ticktape_messages_total\{venue="binance"\} [1-9]/);
    expect(text).toMatch(/ticktape_connections_open\{venue="binance"\} 1/);
    expect(text).toMatch(/ticktape_receive_to_disk_seconds_bucket/);
    await s.close();
    await waitFor(() => !r.ready, "not ready after the venue went away");
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    await r.stop();
    // Every record in the files is counted once as written.
    const written = (await r.metrics.registry.getSingleMetricAsString("ticktape_records_written_total"))
      .split("\n")
      .find((l) => l.startsWith("ticktape_records_written_total{"));
    expect(Number(written?.split(" ").pop())).toBe((await records(await files(root))).length);
  });

  it("fails its liveness probe when a feed's writer stops with an error, and seals every feed before stop() rejects", async () => {
    const a = await sim("binance");
    const b = await sim("okx");
    const root = (await tempDir()).dir;
    const failures: string[] = [];
    const broke = new Error("a listener broke");
    const r = await record([a, b], root, {
      statusPort: 0,
      statusHost: "127.0.0.1",
      // The first acknowledgement of OKX's writer throws: that writer stops.
      onFlushed: (venue) => {
        if (venue === "okx") throw broke;
      },
      onFailure: (venue, err) => failures.push(`${venue}: ${(err as Error).message}`),
    });
    await waitFor(() => failures.length > 0, "the failure");
    expect(failures).toEqual(["okx: a listener broke"]);
    expect((await fetch(`http://127.0.0.1:${r.statusPort}/healthz`)).status).toBe(503);
    await waitFor(() => r.feeds[0]!.writer.stats.flushes > 0, "binance flushed");
    await expect(r.stop()).rejects.toBe(broke);
    // Both venues' files are sealed before stop() rejects: OKX's writer stopped, its file did not.
    const names = (await readdir(root, { recursive: true })).filter((n) => n.includes(".tape"));
    expect(names.filter((n) => n.endsWith(".open"))).toEqual([]);
    expect(names.some((n) => /binance-.*\.t\.tape$/.test(n))).toBe(true);
    expect(names.some((n) => /okx-.*\.t\.tape$/.test(n))).toBe(true);
  });
});
