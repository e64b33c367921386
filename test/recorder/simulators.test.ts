/**
 * The exchange simulators as real servers on 127.0.0.1, driven by the real connectors through a `Feed` over real
 * WebSocket and HTTP clients: books stay in sync and end equal to the simulator's, OKX checksums all match, each
 * injected fault shows up as the recorder event or counter it must cause, and a capture played back gives what
 * ingest of the same file gives.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { RecordInput } from "../../src/format/records.js";
import { readCapture } from "../../src/recorder/capture.js";
import type { Connector } from "../../src/recorder/connector.js";
import { createConnector, type VenueId } from "../../src/recorder/connectors/index.js";
import { okxChecksum } from "../../src/recorder/connectors/okx.js";
import { Feed } from "../../src/recorder/feed.js";
import {
  instrumentOf,
  Market,
  type MarketTick,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../../src/recorder/simulators/index.js";

const root = join(import.meta.dirname, "..", "..");
const OKX_CAPTURE = join(root, "fixtures/real/okx-v5-20220513.jsonl");
const BINANCE_CAPTURE = join(root, "fixtures/real/binance-spot-btcusdt-20240808.jsonl");

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

const running: Simulator[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const sim of running.splice(0)) await sim.close();
});

async function start(venue: VenueId, options: SimulatorOptions): Promise<Simulator> {
  const sim = await startSimulator(venue, options);
  running.push(sim);
  return sim;
}

/** A recorder's runtime in miniature: the connector's socket, its REST requests and sends, records in an array. */
interface Session {
  connector: Connector;
  feed: Feed;
  records: RecordInput[];
  /** The current connection. */
  ws: WebSocket;
  /** Receive times (performance.now()) of the frames. */
  arrivals: number[];
  /** Per frame: its exchange time `E` (in ms, when it has one) and the wall clock (ms) when it arrived. */
  sent: { e: number | null; at: number }[];
  /** Resolves when the current connection closed (the connector has been told). */
  closed: Promise<number>;
  /** Opens a new connection, as a recorder reconnects. */
  reconnect(): Promise<void>;
  restInFlight(): number;
  events(type: string): Extract<RecordInput, { kind: "event" }>[];
}

async function connect(sim: Simulator, symbols: string[]): Promise<Session> {
  const connector = createConnector(sim.venue, { symbols, trades: true, book: true, bbo: true }, sim.urls);
  const records: RecordInput[] = [];
  let inFlight = 0;
  const plans = connector.connections();
  expect(plans).toHaveLength(1);
  const plan = plans[0]!;
  const session = {
    connector,
    records,
    arrivals: [] as number[],
    sent: [] as { e: number | null; at: number }[],
    restInFlight: () => inFlight,
    events: (type: string) =>
      records.filter(
        (r): r is Extract<RecordInput, { kind: "event" }> => r.kind === "event" && r.type === type,
      ),
    reconnect: async () => {
      const ws = new WebSocket(plan.url);
      sockets.push(ws);
      session.ws = ws;
      ws.on("message", (data) => {
        session.arrivals.push(performance.now());
        const e = /"E":(\d+)/.exec(String(data));
        // In µs where the connector asked for them (Binance spot): the ms, as `Date.now()` counts them.
        const E = e === null ? null : Number(e[1]);
        session.sent.push({ e: E === null ? null : E >= 1e14 ? Math.floor(E / 1000) : E, at: Date.now() });
        feed.receive({ kind: "frame", recvNs: nowNs(), text: String(data) });
      });
      session.closed = once(ws, "close").then(([code]) => {
        connector.onClose(plan, nowNs(), `closed ${code}`, feed.context);
        return code as number;
      });
      await once(ws, "open");
      for (const text of plan.subscribe) ws.send(text);
      connector.onOpen(plan, nowNs(), feed.context);
    },
  } as Session;
  const feed: Feed = new Feed(connector, {
    raw: false,
    sink: (r) => records.push(r),
    requestRest: (path) => {
      inFlight++;
      fetch(`${sim.restUrl}${path}`)
        .then(async (res) => {
          const body = await res.text();
          feed.receive({ kind: "rest", recvNs: nowNs(), path, body });
        })
        .finally(() => inFlight--);
    },
    send: (text) => session.ws.send(text),
  });
  session.feed = feed;
  await session.reconnect();
  return session;
}

const synced = (s: Session, symbol: string) => s.connector.bookOf(symbol)?.synced === true;

/** Pauses the market, lets the client drain, and checks each book level by level against the simulator's. */
async function expectSameBooks(sim: Simulator, s: Session): Promise<void> {
  sim.pause();
  for (const symbol of sim.symbols) {
    const feed = s.connector.bookOf(symbol)!;
    // By the last id, or for a venue without ids (Kraken) by the levels.
    const caughtUp = () => {
      const want = sim.book(symbol)!;
      if (feed.lastSeq !== null) return feed.lastSeq === want.lastSeq;
      return (
        JSON.stringify([feed.book.bids.top(1e6), feed.book.asks.top(1e6)]) ===
        JSON.stringify([want.bids, want.asks])
      );
    };
    await until(
      () => feed.synced && caughtUp() && s.restInFlight() === 0,
      `${symbol} to catch up with ${sim.book(symbol)!.lastSeq}`,
    );
    const want = sim.book(symbol)!;
    expect(feed.book.bids.top(1e6), `${symbol} bids`).toEqual(want.bids);
    expect(feed.book.asks.top(1e6), `${symbol} asks`).toEqual(want.asks);
    expect(want.bids.length).toBeGreaterThan(20);
  }
}

function expectClean(s: Session): void {
  const st = s.feed.stats;
  expect(st.gaps).toBe(0);
  expect(st.checksumFailures).toBe(0);
  expect(st.duplicates).toBe(0);
  expect(st.crossed).toBe(0);
  expect(st.badFrames).toBe(0);
  expect(st.resyncs).toBe(0);
}

/** A plain WebSocket client of a simulator that sends JSON only: every message as text and parsed, as they arrive. */
async function rawClient(
  url: string,
): Promise<{ ws: WebSocket; texts: string[]; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  const texts: string[] = [];
  const frames: Record<string, unknown>[] = [];
  ws.on("message", (m) => {
    texts.push(String(m));
    frames.push(JSON.parse(String(m)) as Record<string, unknown>);
  });
  await once(ws, "open");
  return { ws, texts, frames };
}

/** The venue drops the connection; the session connects again and every book resyncs to the simulator's. */
async function reconnectAndCompare(sim: Simulator, s: Session, symbols: string[]): Promise<void> {
  await sim.inject({ kind: "disconnect" });
  expect(await s.closed).toBe(1001);
  await s.reconnect();
  await until(() => symbols.every((sym) => synced(s, sym)), "the resync after reconnecting");
  await expectSameBooks(sim, s);
}

describe("market generator", () => {
  const run = (seed: number, steps: number) => {
    const market = new Market(
      ["BTCUSDT", "XRPUSDT"].map((s) => instrumentOf("binance", s)),
      { seed },
    );
    const ticks: MarketTick[] = [];
    for (let i = 0; i < steps; i++) ticks.push(...market.step(1_700_000_000_000_000 + i * 100_000));
    return { market, ticks };
  };
  const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));

  it("is the same market for the same seed, and another for another seed", () => {
    const a = run(7, 500);
    const b = run(7, 500);
    expect(json(a.ticks)).toBe(json(b.ticks));
    expect(json(a.market.book("BTCUSDT"))).toBe(json(b.market.book("BTCUSDT")));
    expect(json(run(8, 500).ticks)).not.toBe(json(a.ticks));
  });

  it("keeps fixed decimals, consecutive ids and increasing trade ids, and never crosses", () => {
    const { market, ticks } = run(3, 3000);
    const eight = /^[0-9]+\.[0-9]{8}$/;
    const lastTrade = new Map<string, bigint>();
    const lastSeq = new Map<string, bigint>();
    let deletes = 0;
    let trades = 0;
    let quiet = 0;
    for (const t of ticks) {
      const changes = [...t.bids, ...t.asks];
      for (const l of changes) {
        expect(l.price).toMatch(eight);
        expect(l.size).toMatch(eight);
        if (l.size === "0.00000000") deletes++;
      }
      if (lastSeq.has(t.symbol)) expect(t.prevSeq).toBe(lastSeq.get(t.symbol));
      lastSeq.set(t.symbol, t.seq);
      if (changes.length === 0) {
        quiet++;
        expect(t.seq).toBe(t.prevSeq);
      } else expect(t.seq).toBeGreaterThan(t.prevSeq);
      for (const tr of t.trades) {
        trades++;
        expect(tr.id).toBeGreaterThan(lastTrade.get(t.symbol) ?? 0n);
        lastTrade.set(t.symbol, tr.id);
        expect(tr.price).toMatch(eight);
      }
    }
    expect(deletes).toBeGreaterThan(500);
    expect(trades).toBeGreaterThan(300);
    expect(quiet).toBeGreaterThan(50);
    for (const symbol of ["BTCUSDT", "XRPUSDT"]) {
      const book = market.book(symbol)!;
      expect(Number(book.bids[0]!.price)).toBeLessThan(Number(book.asks[0]!.price));
      expect(book.bids.length).toBeGreaterThanOrEqual(37);
      expect(book.bids.length).toBeLessThanOrEqual(75);
    }
    // Never crossed after any step: rebuild the book from the changes.
    const check = run(3, 3000);
    const bids = new Map<string, number>();
    const asks = new Map<string, number>();
    const start = new Market([instrumentOf("binance", "BTCUSDT")], { seed: 3 }).book("BTCUSDT")!;
    for (const l of start.bids) bids.set(l.price, Number(l.size));
    for (const l of start.asks) asks.set(l.price, Number(l.size));
    for (const t of check.ticks.filter((x) => x.symbol === "BTCUSDT")) {
      for (const l of t.bids) Number(l.size) === 0 ? bids.delete(l.price) : bids.set(l.price, Number(l.size));
      for (const l of t.asks) Number(l.size) === 0 ? asks.delete(l.price) : asks.set(l.price, Number(l.size));
      const bestBid = Math.max(...[...bids.keys()].map(Number));
      const bestAsk = Math.min(...[...asks.keys()].map(Number));
      expect(bestBid).toBeLessThan(bestAsk);
    }
  });

  it("prints OKX instruments with their own precision", () => {
    const market = new Market([instrumentOf("okx", "BTC-USDT"), instrumentOf("okx", "BTC-USDT-SWAP")], {
      seed: 1,
    });
    const spot = market.book("BTC-USDT")!;
    expect(spot.bids[0]!.price).toMatch(/^[0-9]+\.[0-9]$/);
    expect(spot.bids[0]!.size).toMatch(/^[0-9]+\.[0-9]{8}$/);
    expect(market.book("BTC-USDT-SWAP")!.asks[0]!.size).toMatch(/^[1-9][0-9]*$/);
  });
});

describe("binance simulator", () => {
  it("a recorder's connector keeps every book in sync and ends with the simulator's books", async () => {
    const sim = await start("binance", { symbols: ["BTCUSDT", "ETHUSDT"], rate: 50, seed: 11 });
    expect(sim.urls.ws).toBe(`ws://127.0.0.1:${sim.port}`);
    const s = await connect(sim, ["BTCUSDT", "ETHUSDT"]);
    await sleep(1000);
    expect(synced(s, "BTCUSDT") && synced(s, "ETHUSDT")).toBe(true);
    await expectSameBooks(sim, s);
    expectClean(s);
    const st = s.feed.stats;
    expect(st.restResponses).toBe(2);
    expect(st.records.trade).toBeGreaterThan(10);
    expect(st.records.bbo).toBeGreaterThan(10);
    expect(s.records.filter((r) => r.kind === "book" && !r.snapshot).length).toBeGreaterThan(100);
    const trade = s.records.find((r) => r.kind === "trade")!;
    expect(trade.kind === "trade" && trade.price).toMatch(/^[0-9]+\.[0-9]{8}$/);
  });

  it("sends times in microseconds to a client that asks with timeUnit=MICROSECOND, in milliseconds to others", async () => {
    const sim = await start("binance", { symbols: ["BTCUSDT"], rate: 100 });
    const streams = "btcusdt@depth@100ms/btcusdt@trade";
    const micros = await rawClient(`${sim.wsUrl}/stream?streams=${streams}&timeUnit=MICROSECOND`);
    const millis = await rawClient(`${sim.wsUrl}/stream?streams=${streams}`);
    const lower = await rawClient(`${sim.wsUrl}/stream?streams=${streams}&timeUnit=microsecond`);
    const clients = [micros, millis, lower];
    const times = (c: { texts: string[] }, key: "E" | "T") =>
      c.texts.flatMap((t) => [...t.matchAll(new RegExp(`"${key}":(\\d+)`, "g"))].map((m) => m[1]!));
    await until(() => clients.every((c) => times(c, "T").length >= 3), "trades on every client", 10_000);
    const before = Date.now();
    for (const c of [micros, lower]) {
      for (const key of ["E", "T"] as const) {
        const ts = times(c, key);
        expect(ts.every((t) => t.length === 16)).toBe(true);
        // The microseconds are not all zero, and the time is the wall clock's.
        expect(ts.some((t) => !t.endsWith("000"))).toBe(true);
        expect(Math.abs(Number(ts.at(-1)) / 1000 - before)).toBeLessThan(10_000);
      }
    }
    expect(times(millis, "E").every((t) => t.length === 13)).toBe(true);
    expect(times(millis, "T").every((t) => t.length === 13)).toBe(true);
  });

  it("serves REST depth snapshots: best first, at most `limit` levels, at lastUpdateId; errors like Binance", async () => {
    const sim = await start("binance", { symbols: ["BTCUSDT"], rate: 50 });
    await sleep(100);
    sim.pause();
    const res = await fetch(`${sim.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=5`);
    expect(res.status).toBe(200);
    const snap = (await res.json()) as { lastUpdateId: number; bids: string[][]; asks: string[][] };
    const book = sim.book("BTCUSDT")!;
    expect(BigInt(snap.lastUpdateId)).toBe(book.lastSeq);
    expect(snap.bids).toEqual(book.bids.slice(0, 5).map((l) => [l.price, l.size]));
    expect(snap.asks).toEqual(book.asks.slice(0, 5).map((l) => [l.price, l.size]));
    const unknown = await fetch(`${sim.restUrl}/api/v3/depth?symbol=NOPE&limit=5`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ code: -1121, msg: "Invalid symbol." });
    const missing = await fetch(`${sim.restUrl}/api/v3/depth`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { code: number }).code).toBe(-1102);
  });

  it("drop, duplicate and reorder show as a gap, a duplicate and a gap; the book resyncs and ends equal", async () => {
    const sim = await start("binance", { symbols: ["BTCUSDT"], rate: 60, seed: 5 });
    const s = await connect(sim, ["BTCUSDT"]);
    await until(() => synced(s, "BTCUSDT") && s.feed.stats.records.book > 200, "sync");

    const drop = await sim.inject({ kind: "drop" });
    expect(drop.ids).toHaveLength(2);
    await until(() => s.feed.stats.gaps === 1, "the gap");
    const gap = s.events("gap")[0]!;
    expect(gap.seqBefore).toBe(drop.ids[0]! - 1n);
    expect(gap.seqAfter).toBe(drop.ids[1]! + 1n);
    await until(() => s.feed.stats.resyncs === 1 && synced(s, "BTCUSDT"), "the resync");

    await sim.inject({ kind: "duplicate", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.duplicates === 1, "the duplicate");
    expect(s.feed.stats.gaps).toBe(1);

    const reorder = await sim.inject({ kind: "reorder" });
    expect(reorder.ids).toHaveLength(4);
    await until(() => s.feed.stats.gaps === 2, "the gap of the reorder");
    // The second update came first: the gap is seen at its first id.
    expect(s.events("gap")[1]!.seqAfter).toBe(reorder.ids[2]);
    await until(() => s.feed.stats.resyncs === 2 && synced(s, "BTCUSDT"), "the second resync");

    await expectSameBooks(sim, s);
    expect([sim.faultCount("drop"), sim.faultCount("duplicate"), sim.faultCount("reorder")]).toEqual([
      1, 1, 1,
    ]);
    expect(s.feed.stats.checksumFailures + s.feed.stats.crossed + s.feed.stats.badFrames).toBe(0);
    await expect(sim.inject({ kind: "bad-checksum" })).rejects.toThrow(/not possible on binance/);

    sim.resume();
    const disconnect = await sim.inject({ kind: "disconnect" });
    expect(disconnect.detail).toBe("1 connections closed");
    expect(await s.closed).toBe(1001);
    expect(s.events("disconnect")).toHaveLength(1);
    // A new connection: a fresh snapshot, and the book is whole again.
    await s.reconnect();
    await until(() => s.feed.stats.resyncs === 3 && synced(s, "BTCUSDT"), "the resync after reconnecting");
    await expectSameBooks(sim, s);
  });

  it("stall sends nothing for its time; slow holds messages back and sends them in one burst", async () => {
    const sim = await start("binance", { symbols: ["BTCUSDT"], rate: 100 });
    const s = await connect(sim, ["BTCUSDT"]);
    await until(() => synced(s, "BTCUSDT"), "sync");
    await sleep(100);
    // Judged by the messages' own times (E, wall-clock ms), not by the silence between arrivals: a busy test
    // process reads messages sent before the stall late, which shortens the silence it sees.
    const madeAfter = (t: number) => s.sent.filter((f) => f.e !== null && f.e > t);
    const asked = Date.now();
    await sim.inject({ kind: "stall", ms: 300 });
    const applied = Date.now();
    await until(() => madeAfter(applied).length > 5, "the end of the stall");
    // Every message made once the stall began arrives after its end.
    expect(Math.min(...madeAfter(applied).map((f) => f.at)) - asked).toBeGreaterThanOrEqual(299);

    await sleep(100);
    // The one client's messages arrive in the order they were sent: the held ones follow those sent before.
    const first = sim.stats.messagesSent;
    await sim.inject({ kind: "slow", count: 30 });
    await until(() => s.sent.length >= first + 30, "the burst");
    // Held back until the 30th was made, then sent together: the first arrives after the last was stamped, where
    // sent as made it would have come about 150 ms before (100 steps/s).
    const burst = s.sent.slice(first, first + 30);
    const stamped = burst.filter((f) => f.e !== null).map((f) => f.e!);
    expect(stamped.length).toBeGreaterThan(10);
    expect(burst[0]!.at).toBeGreaterThanOrEqual(Math.max(...stamped));
    await expectSameBooks(sim, s);
    expectClean(s);
  });
});

describe("binance-usdm simulator", () => {
  it("serves futures messages: a pu chain with holes between events, /fapi/v1/depth at the last u sent", async () => {
    const sim = await start("binance-usdm", { symbols: ["BTCUSDT"], rate: 60, seed: 3 });
    const ws = new WebSocket(
      `${sim.wsUrl}/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker`,
    );
    sockets.push(ws);
    const frames: { stream: string; data: Record<string, unknown> }[] = [];
    ws.on("message", (m) => frames.push(JSON.parse(String(m))));
    await until(() => frames.filter((f) => f.data["e"] === "depthUpdate").length > 20, "depth events");
    sim.pause();
    await sleep(50);
    const depth = frames.filter((f) => f.data["e"] === "depthUpdate").map((f) => f.data);
    for (let i = 1; i < depth.length; i++) expect(depth[i]!["pu"]).toBe(depth[i - 1]!["u"]);
    // Ids are not consecutive on futures: somewhere U is past pu + 1.
    expect(depth.some((d) => (d["U"] as number) > (d["pu"] as number) + 1)).toBe(true);
    const res = await fetch(`${sim.restUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=5000`);
    const snap = (await res.json()) as { lastUpdateId: number; E: number; T: number; bids: string[][] };
    expect(snap.lastUpdateId).toBe(depth.at(-1)!["u"]);
    expect(snap.bids).toHaveLength(Math.min(1000, sim.book("BTCUSDT")!.bids.length));
    expect(typeof snap.E === "number" && typeof snap.T === "number").toBe(true);
    expect((await fetch(`${sim.restUrl}/api/v3/depth?symbol=BTCUSDT`)).status).toBe(404);
    const trade = frames.find((f) => f.data["e"] === "trade")!.data;
    expect(trade["p"]).toMatch(/^[0-9]+\.[0-9]{2}$/);
    expect(trade["q"]).toMatch(/^[0-9]+\.[0-9]{3}$/);
    expect(frames.find((f) => f.data["e"] === "bookTicker")!.stream).toBe("btcusdt@bookTicker");
  });

  it("a recorder's connector keeps the book through drop, duplicate, reorder and reconnect", async () => {
    const sim = await start("binance-usdm", { symbols: ["BTCUSDT", "ETHUSDT"], rate: 60, seed: 5 });
    const s = await connect(sim, ["BTCUSDT", "ETHUSDT"]);
    await until(
      () => synced(s, "BTCUSDT") && synced(s, "ETHUSDT") && s.feed.stats.records.book > 200,
      "sync",
    );
    await expectSameBooks(sim, s);
    expectClean(s);
    sim.resume();

    const drop = await sim.inject({ kind: "drop", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.gaps === 1, "the gap");
    const gap = s.events("gap")[0]!;
    expect(BigInt(gap.seqBefore!) < drop.ids[0]! && BigInt(gap.seqAfter!) > drop.ids[1]!).toBe(true);
    await until(() => s.feed.stats.resyncs === 1 && synced(s, "BTCUSDT"), "the resync");
    await sim.inject({ kind: "duplicate", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.duplicates === 1, "the duplicate");
    const reorder = await sim.inject({ kind: "reorder", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.gaps === 2, "the gap of the reorder");
    expect(s.events("gap")[1]!.seqAfter).toBe(reorder.ids[2]);
    await until(() => s.feed.stats.resyncs === 2 && synced(s, "BTCUSDT"), "the second resync");
    await reconnectAndCompare(sim, s, ["BTCUSDT", "ETHUSDT"]);
    expect(s.feed.stats.checksumFailures + s.feed.stats.crossed + s.feed.stats.badFrames).toBe(0);
  });
});

describe("bybit simulator", () => {
  it("acknowledges requests and pings like Bybit, and sends a snapshot then deltas whose u counts by one", async () => {
    const sim = await start("bybit", { symbols: ["BTCUSDT"], rate: 60, seed: 4 });
    const { ws, frames } = await rawClient(sim.wsUrl);
    ws.send(
      JSON.stringify({ op: "subscribe", req_id: "a", args: ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"] }),
    );
    ws.send(JSON.stringify({ op: "subscribe", args: ["orderbook.50.NOPE"] }));
    ws.send(JSON.stringify({ op: "ping" }));
    await until(() => frames.filter((f) => f["type"] === "delta").length > 20, "deltas");
    sim.pause();
    expect(frames[0]).toMatchObject({ success: true, op: "subscribe", req_id: "a" });
    expect(frames.find((f) => f["success"] === false)!["ret_msg"]).toMatch(/orderbook\.50\.NOPE/);
    expect(frames.find((f) => f["op"] === "ping")).toMatchObject({ success: true, ret_msg: "pong" });
    const book = frames.filter((f) => f["topic"] === "orderbook.50.BTCUSDT");
    expect(book[0]!["type"]).toBe("snapshot");
    const us = book.map((f) => BigInt((f["data"] as { u: number }).u));
    for (let i = 1; i < us.length; i++) expect(us[i]).toBe(us[i - 1]! + 1n);
    const trade = (
      frames.find((f) => f["topic"] === "publicTrade.BTCUSDT")!["data"] as Record<string, unknown>[]
    )[0]!;
    expect(trade["S"]).toMatch(/^(Buy|Sell)$/);
    expect(trade["p"]).toMatch(/^[0-9]+\.[0-9]{2}$/);
  });

  it("a recorder's connector keeps the book through drop, duplicate, reorder and reconnect", async () => {
    const sim = await start("bybit", { symbols: ["BTCUSDT", "ETHUSDT"], rate: 60, seed: 6 });
    const s = await connect(sim, ["BTCUSDT", "ETHUSDT"]);
    await until(
      () => synced(s, "BTCUSDT") && synced(s, "ETHUSDT") && s.feed.stats.records.book > 200,
      "sync",
    );
    await until(() => s.feed.stats.records.bbo > 5 && s.feed.stats.records.trade > 5, "quotes and trades");
    await expectSameBooks(sim, s);
    expectClean(s);
    sim.resume();

    const drop = await sim.inject({ kind: "drop", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.gaps === 1, "the gap");
    const gap = s.events("gap")[0]!;
    expect([BigInt(gap.seqBefore!), BigInt(gap.seqAfter!)]).toEqual([drop.ids[0]! - 1n, drop.ids[0]! + 1n]);
    await until(() => s.feed.stats.resyncs === 1 && synced(s, "BTCUSDT"), "the resync");
    await sim.inject({ kind: "duplicate", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.duplicates === 1, "the duplicate");
    await sim.inject({ kind: "reorder", symbol: "BTCUSDT" });
    await until(() => s.feed.stats.gaps === 2, "the gap of the reorder");
    await until(() => s.feed.stats.resyncs === 2 && synced(s, "BTCUSDT"), "the second resync");
    await reconnectAndCompare(sim, s, ["BTCUSDT", "ETHUSDT"]);
    expect(s.feed.stats.checksumFailures + s.feed.stats.crossed + s.feed.stats.badFrames).toBe(0);
  });
});

describe("deribit simulator", () => {
  it("answers JSON-RPC like Deribit and sends a snapshot, then changes chained by prev_change_id, numbers unquoted", async () => {
    const sim = await start("deribit", { symbols: ["BTC-PERPETUAL"], rate: 60, seed: 8 });
    const { ws, texts } = await rawClient(sim.wsUrl);
    const channels = ["book.BTC-PERPETUAL.raw", "trades.BTC-PERPETUAL.raw", "quote.BTC-PERPETUAL"];
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "public/subscribe", params: { channels } }));
    ws.send(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 8,
        method: "public/subscribe",
        params: { channels: ["book.NOPE.raw"] },
      }),
    );
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 9, method: "public/test", params: {} }));
    await until(() => texts.filter((t) => t.includes('"type":"change"')).length > 20, "changes");
    sim.pause();
    const frames = texts.map((t) => JSON.parse(t) as Record<string, unknown>);
    expect(frames[0]).toMatchObject({ id: 7, result: channels });
    expect(frames.find((f) => f["id"] === 8)).toMatchObject({ error: { code: -32602 } });
    expect(frames.find((f) => f["id"] === 9)).toMatchObject({ result: { version: expect.any(String) } });
    const book = frames
      .filter((f) => (f["params"] as { channel?: string } | undefined)?.channel === "book.BTC-PERPETUAL.raw")
      .map(
        (f) => (f["params"] as { data: { type: string; change_id: number; prev_change_id?: number } }).data,
      );
    expect(book[0]!.type).toBe("snapshot");
    for (let i = 1; i < book.length; i++) expect(book[i]!.prev_change_id).toBe(book[i - 1]!.change_id);
    // Prices and amounts are JSON numbers, as Deribit sends them.
    expect(texts.find((t) => t.includes('"type":"change"'))).toMatch(/\["(change|delete)",[0-9.]+,[0-9.]+\]/);
  });

  it("a recorder's connector keeps the book through drop, duplicate, reorder and reconnect", async () => {
    const sim = await start("deribit", { symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"], rate: 60, seed: 9 });
    const s = await connect(sim, ["BTC-PERPETUAL", "ETH-PERPETUAL"]);
    await until(
      () =>
        synced(s, "BTC-PERPETUAL") &&
        synced(s, "ETH-PERPETUAL") &&
        s.feed.stats.records.bbo > 5 &&
        s.feed.stats.records.trade > 5,
      "sync, quotes and trades",
    );
    await expectSameBooks(sim, s);
    expectClean(s);
    sim.resume();
    const drop = await sim.inject({ kind: "drop", symbol: "BTC-PERPETUAL" });
    await until(() => s.feed.stats.gaps === 1, "the gap");
    expect(BigInt(s.events("gap")[0]!.seqBefore!)).toBe(drop.ids[0]);
    await until(() => s.feed.stats.resyncs === 1 && synced(s, "BTC-PERPETUAL"), "the resync");
    await sim.inject({ kind: "duplicate", symbol: "BTC-PERPETUAL" });
    await until(() => s.feed.stats.duplicates === 1, "the duplicate");
    await sim.inject({ kind: "reorder", symbol: "BTC-PERPETUAL" });
    await until(() => s.feed.stats.gaps === 2, "the gap of the reorder");
    await until(() => s.feed.stats.resyncs === 2 && synced(s, "BTC-PERPETUAL"), "the second resync");
    await reconnectAndCompare(sim, s, ["BTC-PERPETUAL", "ETH-PERPETUAL"]);
    expect(s.feed.stats.checksumFailures + s.feed.stats.crossed + s.feed.stats.badFrames).toBe(0);
  });
});

describe("kraken simulator", () => {
  it("speaks v2: status with a connection id past 2^53, acks per symbol, pong, heartbeats; updates within the depth", async () => {
    const sim = await start("kraken", { symbols: ["BTC/USD"], rate: 80, seed: 12 });
    const { ws, texts } = await rawClient(sim.wsUrl);
    ws.send(
      JSON.stringify({
        method: "subscribe",
        params: { channel: "book", symbol: ["BTC/USD", "NOPE/USD"], depth: 10 },
        req_id: 3,
      }),
    );
    ws.send(JSON.stringify({ method: "ping", req_id: 4 }));
    await until(() => texts.filter((t) => t.includes('"type":"update"')).length > 30, "updates");
    await until(() => texts.includes('{"channel":"heartbeat"}'), "a heartbeat", 3000);
    sim.pause();
    expect(texts[0]).toContain('"connection_id":14061423187254263712');
    const frames = texts.map((t) => JSON.parse(t) as Record<string, unknown>);
    expect(frames.find((f) => f["req_id"] === 3 && f["success"] === true)).toMatchObject({
      result: { depth: 10, symbol: "BTC/USD" },
    });
    expect(frames.find((f) => f["success"] === false)!["error"]).toMatch(/NOPE\/USD/);
    expect(frames.find((f) => f["method"] === "pong")).toMatchObject({ req_id: 4 });
    // A depth-10 client rebuilt from the messages, dropping what falls past 10, ends with the top 10 and right checksums.
    const { krakenChecksum } = await import("../../src/recorder/connectors/kraken.js");
    const book = {
      bid: new Map<number, { price: string; size: string }>(),
      ask: new Map<number, { price: string; size: string }>(),
    };
    const top = (side: "bid" | "ask") =>
      [...book[side].values()].sort((a, b) =>
        side === "bid" ? Number(b.price) - Number(a.price) : Number(a.price) - Number(b.price),
      );
    let checked = 0;
    for (const t of texts.filter((x) => x.startsWith('{"channel":"book"'))) {
      // Numbers as text: the checksum needs their digits.
      const data = /"bids":(\[.*?\]),"asks":(\[.*?\]),"checksum":(\d+)/.exec(t)!;
      const levels = (text: string) =>
        [...text.matchAll(/"price":([0-9.]+),"qty":([0-9.]+)/g)].map((m) => ({ price: m[1]!, size: m[2]! }));
      if (t.includes('"type":"snapshot"')) {
        book.bid.clear();
        book.ask.clear();
      }
      for (const [side, text] of [
        ["bid", data[1]!],
        ["ask", data[2]!],
      ] as const) {
        for (const l of levels(text)) {
          if (Number(l.size) === 0) book[side].delete(Number(l.price));
          else book[side].set(Number(l.price), l);
        }
        for (const l of top(side).slice(10)) book[side].delete(Number(l.price));
      }
      expect(krakenChecksum(top("bid"), top("ask"))).toBe(Number(data[3]));
      checked++;
    }
    expect(checked).toBeGreaterThan(30);
  });

  it("a recorder's connector keeps the depth-25 book through a wrong checksum, a drop and a reconnect", async () => {
    const sim = await start("kraken", { symbols: ["BTC/USD", "ETH/USD"], rate: 60, seed: 13 });
    const s = await connect(sim, ["BTC/USD", "ETH/USD"]);
    await until(
      () =>
        synced(s, "BTC/USD") &&
        synced(s, "ETH/USD") &&
        s.feed.stats.records.bbo > 5 &&
        s.feed.stats.records.trade > 5 &&
        s.feed.stats.checksumsChecked > 10,
      "sync, quotes, trades and checksums",
    );
    await expectSameBooks(sim, s);
    expectClean(s);
    sim.resume();
    const bad = await sim.inject({ kind: "bad-checksum", symbol: "BTC/USD" });
    expect(bad.detail).toMatch(/checksum \d+ sent instead of \d+/);
    await until(() => s.feed.stats.checksumFailures === 1, "the checksum failure");
    await until(() => s.feed.stats.resyncs === 1 && synced(s, "BTC/USD"), "the resync");
    // A dropped update: caught by the next checksum unless a later update sets the same levels first; either way
    // the book ends right.
    await sim.inject({ kind: "drop", symbol: "BTC/USD" });
    await expect(sim.inject({ kind: "duplicate" })).rejects.toThrow(/not possible on kraken/);
    await reconnectAndCompare(sim, s, ["BTC/USD", "ETH/USD"]);
    expect(s.feed.stats.gaps + s.feed.stats.crossed + s.feed.stats.badFrames).toBe(0);
  });
});

describe("coinbase simulator", () => {
  it("numbers each connection's messages from 0 across channels, and answers subscriptions", async () => {
    const sim = await start("coinbase", { symbols: ["BTC-USD"], rate: 60, seed: 14 });
    const { ws, frames } = await rawClient(sim.wsUrl);
    for (const channel of ["level2", "market_trades", "heartbeats"])
      ws.send(JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channel }));
    ws.send(JSON.stringify({ type: "subscribe", product_ids: ["NOPE-USD"], channel: "level2" }));
    await until(() => frames.some((f) => f["channel"] === "heartbeats") && frames.length > 40, "messages");
    sim.pause();
    const numbered = frames.filter((f) => f["sequence_num"] !== undefined);
    expect(numbered.map((f) => f["sequence_num"])).toEqual(numbered.map((_, i) => i));
    expect(frames[0]).toMatchObject({ channel: "subscriptions" });
    expect(frames.find((f) => f["channel"] === "l2_data")).toMatchObject({
      events: [{ type: "snapshot", product_id: "BTC-USD" }],
    });
    expect(frames.find((f) => f["type"] === "error")!["message"]).toMatch(/NOPE-USD/);
  });

  it("a recorder's connector keeps the books through drop, duplicate, reorder and reconnect", async () => {
    const sim = await start("coinbase", { symbols: ["BTC-USD", "ETH-USD"], rate: 60, seed: 15 });
    const s = await connect(sim, ["BTC-USD", "ETH-USD"]);
    await until(
      () =>
        synced(s, "BTC-USD") &&
        synced(s, "ETH-USD") &&
        s.feed.stats.records.bbo > 5 &&
        s.feed.stats.records.trade > 5,
      "sync, quotes and trades",
    );
    await expectSameBooks(sim, s);
    expectClean(s);
    sim.resume();
    const drop = await sim.inject({ kind: "drop", symbol: "BTC-USD" });
    await until(() => s.feed.stats.gaps >= 1, "the gap");
    // Any lost message may have been a book's: every book of the connection loses sync and is fetched again.
    expect(
      s
        .events("gap")
        .map((g) => g.symbol)
        .sort(),
    ).toEqual(["BTC-USD", "ETH-USD"]);
    expect(BigInt(s.events("gap")[0]!.seqAfter!)).toBe(drop.ids[0]! + 1n);
    await until(
      () => s.feed.stats.resyncs === 2 && synced(s, "BTC-USD") && synced(s, "ETH-USD"),
      "the resyncs",
    );
    await sim.inject({ kind: "duplicate", symbol: "BTC-USD" });
    await until(() => s.feed.stats.duplicates === 1, "the duplicate");
    await sim.inject({ kind: "reorder", symbol: "BTC-USD" });
    await until(
      () => s.feed.stats.gaps === 4 && s.feed.stats.duplicates === 2,
      "the gap and the late message of the reorder",
    );
    await until(() => synced(s, "BTC-USD") && synced(s, "ETH-USD"), "the second resync");
    await reconnectAndCompare(sim, s, ["BTC-USD", "ETH-USD"]);
    expect(s.feed.stats.checksumFailures + s.feed.stats.crossed + s.feed.stats.badFrames).toBe(0);
  });
});

describe("okx simulator", () => {
  it("a recorder's connector checks every checksum, keeps every book in sync and ends with the simulator's books", async () => {
    const sim = await start("okx", { symbols: ["BTC-USDT", "ETH-USDT"], rate: 50, seed: 2 });
    expect(sim.urls.ws).toBe(`ws://127.0.0.1:${sim.port}/ws/v5/public`);
    const s = await connect(sim, ["BTC-USDT", "ETH-USDT"]);
    const keepAlives: string[] = [];
    s.ws.on("message", (d) => {
      const t = String(d);
      if (t.includes('"asks":[],"bids":[]')) keepAlives.push(t);
    });
    await sleep(1000);
    await expectSameBooks(sim, s);
    expectClean(s);
    const st = s.feed.stats;
    expect(st.checksumsChecked).toBeGreaterThan(80);
    expect(st.records.trade).toBeGreaterThan(10);
    expect(st.records.bbo).toBeGreaterThan(10);
    expect(keepAlives.length).toBeGreaterThan(0);
    const k = JSON.parse(keepAlives[0]!) as { data: { prevSeqId: number; seqId: number }[] };
    expect(k.data[0]!.seqId).toBe(k.data[0]!.prevSeqId);
  });

  it("speaks the OKX protocol: acks, snapshots with checksums, unsubscribe, ping, errors", async () => {
    const sim = await start("okx", { symbols: ["BTC-USDT"], rate: 50 });
    const ws = new WebSocket(sim.wsUrl);
    sockets.push(ws);
    const got: string[] = [];
    ws.on("message", (d) => got.push(String(d)));
    await once(ws, "open");
    const next = async (test: (t: string) => boolean, what: string) => {
      await until(() => got.some(test), what, 2000);
      const i = got.findIndex(test);
      return got.splice(0, i + 1).at(-1)!;
    };
    ws.send("ping");
    expect(await next((t) => !t.startsWith("{"), "pong")).toBe("pong");
    ws.send(JSON.stringify({ op: "login", args: [] }));
    const err = JSON.parse(await next((t) => t.includes('"error"'), "error")) as {
      code: string;
      msg: string;
    };
    expect(err.code).toBe("60012");
    ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "candle1m", instId: "BTC-USDT" }] }));
    expect(JSON.parse(await next((t) => t.includes('"error"'), "error")).code).toBe("60018");

    const books = { channel: "books", instId: "BTC-USDT" };
    ws.send(JSON.stringify({ op: "subscribe", args: [books] }));
    const ack = JSON.parse(await next((t) => t.includes('"event"'), "ack")) as Record<string, unknown>;
    expect(ack).toMatchObject({ event: "subscribe", arg: books });
    expect(ack.connId).toMatch(/^[0-9a-f]{8}$/);
    const snapText = await next((t) => t.includes('"snapshot"'), "snapshot");
    const snap = JSON.parse(snapText) as {
      data: { asks: string[][]; bids: string[][]; checksum: number; prevSeqId: number; seqId: number }[];
    };
    const d = snap.data[0]!;
    expect(d.prevSeqId).toBe(-1);
    expect(d.asks[0]).toHaveLength(4);
    const lv = (ls: string[][]) => ls.map(([price, size]) => ({ price: price!, size: size! }));
    expect(d.checksum).toBe(okxChecksum(lv(d.bids).slice(0, 25), lv(d.asks).slice(0, 25)));
    // Updates follow on from the snapshot.
    const update = JSON.parse(await next((t) => t.includes('"update"'), "update")) as typeof snap;
    expect(update.data[0]!.prevSeqId).toBe(d.seqId);

    ws.send(JSON.stringify({ op: "unsubscribe", args: [books] }));
    expect(JSON.parse(await next((t) => t.includes('"event"'), "unsubscribe ack")).event).toBe("unsubscribe");
    await sleep(100);
    got.length = 0;
    await sleep(100);
    expect(got.filter((t) => t.includes('"books"'))).toEqual([]);
    ws.send(JSON.stringify({ op: "subscribe", args: [books] }));
    const again = JSON.parse(await next((t) => t.includes('"snapshot"'), "a fresh snapshot")) as typeof snap;
    expect(again.data[0]!.seqId).toBeGreaterThan(d.seqId);
  });

  it("drop, duplicate, bad checksum and reorder show as gap, duplicate, checksum_failure, gap; books end equal", async () => {
    const sim = await start("okx", { symbols: ["BTC-USDT"], rate: 60, seed: 9 });
    const s = await connect(sim, ["BTC-USDT"]);
    await until(() => synced(s, "BTC-USDT") && s.feed.stats.checksumsChecked > 10, "sync");

    const drop = await sim.inject({ kind: "drop", symbol: "BTC-USDT" });
    await until(() => s.feed.stats.gaps === 1, "the gap");
    // The update after the dropped one names the dropped seqId as its prevSeqId.
    expect(s.events("gap")[0]!.seqBefore).toBe(drop.ids[0]);
    await until(() => s.feed.stats.resyncs === 1 && synced(s, "BTC-USDT"), "the resync");

    await sim.inject({ kind: "duplicate" });
    await until(() => s.feed.stats.duplicates === 1, "the duplicate");

    const bad = await sim.inject({ kind: "bad-checksum" });
    await until(() => s.feed.stats.checksumFailures === 1, "the checksum failure");
    expect(s.events("checksum_failure")[0]!.seqAfter).toBe(bad.ids[1]);
    await until(() => s.feed.stats.resyncs === 2 && synced(s, "BTC-USDT"), "the resync after the failure");

    await sim.inject({ kind: "reorder" });
    await until(() => s.feed.stats.gaps === 2, "the gap of the reorder");
    await until(() => s.feed.stats.resyncs === 3 && synced(s, "BTC-USDT"), "the resync after the reorder");

    await expectSameBooks(sim, s);
    expect(sim.faults.map((f) => f.kind)).toEqual(["drop", "duplicate", "bad-checksum", "reorder"]);
    expect(s.feed.stats.checksumFailures).toBe(1);
    expect(s.feed.stats.badFrames).toBe(0);

    sim.resume();
    await sim.inject({ kind: "disconnect" });
    expect(await s.closed).toBe(1001);
    expect(s.events("disconnect")).toHaveLength(1);
    await s.reconnect();
    await until(() => s.feed.stats.resyncs === 4 && synced(s, "BTC-USDT"), "the resync after reconnecting");
    await expectSameBooks(sim, s);
    expect(s.feed.stats.checksumFailures).toBe(1);
  });
});

describe("bounded memory", () => {
  it("drops a client whose unsent messages pass the cap, and says so", async () => {
    const logs: string[] = [];
    const sim = await start("okx", {
      symbols: ["BTC-USDT"],
      rate: 200,
      maxClientBufferBytes: 16 * 1024,
      onLog: (m) => logs.push(m),
    });
    const s = await connect(sim, ["BTC-USDT"]);
    await until(() => synced(s, "BTC-USDT"), "sync");
    // Held back by a stall, the messages pile up until the cap.
    await sim.inject({ kind: "stall", ms: 10_000 });
    expect(await s.closed).toBe(1006);
    expect(sim.stats.droppedClients).toBe(1);
    expect(sim.stats.clients).toBe(0);
    expect(logs.some((l) => /dropped: \d+ bytes held back/.test(l))).toBe(true);
    expect(s.events("disconnect")).toHaveLength(1);
  });
});

describe("capture playback", () => {
  const load = async (file: string) => {
    const frames: bigint[] = [];
    for await (const m of readCapture(file)) if (m.kind === "frame") frames.push(m.recvNs ?? 0n);
    return frames;
  };

  it("plays the 2022 OKX session to the connector: 290 checksums checked, none wrong", async () => {
    const frames = await load(OKX_CAPTURE);
    const sim = await start("okx", { replay: OKX_CAPTURE, speed: 0 });
    const s = await connect(sim, []);
    await until(() => s.feed.stats.frames === frames.length, "every frame");
    expect(s.feed.stats.checksumsChecked).toBe(290);
    expect(s.feed.stats.checksumFailures).toBe(0);
    expect(s.feed.stats.gaps).toBe(0);
    expect(s.feed.stats.records.trade).toBe(74);
    await until(() => sim.stats.playbacksFinished === 1, "the end of the playback");
    // Still a venue: ping is answered.
    s.ws.send("ping");
    await until(() => s.feed.stats.frames === frames.length + 1, "pong");
  });

  it("paces frames by their receive times, scaled by the speed", async () => {
    const frames = await load(OKX_CAPTURE);
    const span = Number(frames.at(-1)! - frames[0]!) / 1e6;
    const sim = await start("okx", { replay: OKX_CAPTURE, speed: 25 });
    const s = await connect(sim, []);
    await until(() => s.feed.stats.frames === frames.length, "every frame");
    const took = s.arrivals.at(-1)! - s.arrivals[0]!;
    expect(took).toBeGreaterThan((span / 25) * 0.9);
    expect(took).toBeLessThan(span / 25 + 1000);
  });

  it("answers the connector's snapshot request with the capture's REST response for the symbol", async () => {
    const frames = await load(BINANCE_CAPTURE);
    const sim = await start("binance", { replay: BINANCE_CAPTURE, speed: 0 });
    const s = await connect(sim, ["BTCUSDT"]);
    await until(() => s.feed.stats.frames === frames.length && s.restInFlight() === 0, "every frame");
    // The connector asks for limit=5000; the capture holds limit=1000, for the same symbol.
    expect(s.feed.stats.restResponses).toBe(1);
    expect(synced(s, "BTCUSDT")).toBe(true);
    expectClean(s);
    expect(s.records.filter((r) => r.kind === "book" && !r.snapshot).length).toBeGreaterThan(1000);
    const none = await fetch(`${sim.restUrl}/api/v3/depth?symbol=ETHUSDT&limit=10`);
    expect(none.status).toBe(404);
  });
});

describe("ticktape simulate", () => {
  // The command as registered in `ticktape`, run from source in a child process.
  const entry = `import { Command } from "commander";
    import { registerSimulate } from ${JSON.stringify(pathToFileURL(join(root, "cli/simulate.ts")).href)};
    const program = new Command().name("ticktape");
    registerSimulate(program);
    await program.parseAsync(process.argv.slice(1), { from: "user" });`;

  it("prints the URLs, serves until SIGTERM, and logs injected faults", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        entry,
        "simulate",
        "okx",
        "--rate",
        "50",
        "--fault",
        "drop",
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    child.stderr.on("data", (d) => {
      err += String(d);
    });
    try {
      await until(() => /ws\s+ws:\/\/127\.0\.0\.1:\d+\/ws\/v5\/public/.test(out), "the URLs", 10_000);
      const url = /ws\s+(ws:\/\/\S+)/.exec(out)![1]!;
      const ws = new WebSocket(url);
      sockets.push(ws);
      let updates = 0;
      ws.on("message", (d) => {
        if (String(d).includes('"update"')) updates++;
      });
      await once(ws, "open");
      ws.send(JSON.stringify({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] }));
      await until(() => updates > 2 && err.includes("fault drop BTC-USDT"), "updates and the drop", 5000);
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(err).toMatch(/stopped: 1 connections/);
  });

  it("--json prints the addresses as one JSON line", async () => {
    const args = ["--import", "tsx", "--input-type=module", "-e", entry, "simulate", "bybit", "--json"];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    try {
      await until(() => out.includes("\n"), "the JSON line", 10_000);
      const line = JSON.parse(out.trim());
      expect(line).toMatchObject({ venue: "bybit", symbols: expect.any(Array) });
      expect(line.ws).toBe(`ws://127.0.0.1:${line.port}${new URL(line.ws).pathname}`);
      expect(line.rest).toBe(`http://127.0.0.1:${line.port}`);
      const ws = new WebSocket(line.ws);
      sockets.push(ws);
      await once(ws, "open");
    } finally {
      child.kill("SIGTERM");
    }
    await once(child, "exit");
  });

  it("sends a market step's messages to a client in one write, as Binance sends the messages of one event time", async () => {
    const symbols = Array.from({ length: 20 }, (_, i) => `S${i}USDT`);
    const rate = 100;
    const args = ["simulate", "binance", "--symbols", symbols.join(","), "--rate", String(rate), "--json"];
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", entry, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    try {
      await until(() => out.includes("\n"), "the JSON line", 10_000);
      const { port } = JSON.parse(out.trim()) as { port: number };
      const streams = symbols.flatMap((x) =>
        ["trade", "depth@100ms", "bookTicker"].map((c) => `${x.toLowerCase()}@${c}`),
      );
      const ws = new WebSocket(`ws://127.0.0.1:${port}/stream?streams=${streams.join("/")}`);
      sockets.push(ws);
      let chunks = 0;
      let messages = 0;
      let first = 0;
      // The client's TCP socket, public through the upgrade response: each chunk read from it.
      ws.on("upgrade", (res) => res.socket.on("data", () => chunks++));
      ws.on("message", () => {
        if (messages++ === 0) first = performance.now();
      });
      await until(() => messages >= 5000, "5000 messages", 20_000);
      const steps = (rate * (performance.now() - first)) / 1000;
      // About 40 messages a step. Written one by one from another process, they come in many reads a step (a read
      // may take more than one write, never less); written together, in at most one a step.
      expect(messages / steps).toBeGreaterThan(10);
      expect(chunks).toBeLessThan(steps * 1.5 + 10);
    } finally {
      child.kill("SIGTERM");
    }
    await once(child, "exit");
  });
});
