/**
 * A venue that sends garbage, served by a real WebSocket and HTTP server on 127.0.0.1: the recorder counts and
 * keeps what it cannot read, closes on a frame over its limit and reconnects, and records what is good.
 */

import { readdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { datasetOfFiles, type TapeRecord } from "../../src/index.js";
import { Recorder } from "../../src/recorder/recorder.js";
import { tempDir } from "../reader/helpers.js";
import { waitFor } from "../support/wait.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const trade = (id: number) =>
  JSON.stringify({
    stream: "btcusdt@trade",
    data: {
      e: "trade",
      E: 1764000000000 + id,
      s: "BTCUSDT",
      t: id,
      p: "100.5",
      q: "1",
      T: 1764000000000 + id,
      m: false,
    },
  });

/** Sends each connection's list of frames; the second connection gets the second list, and so on. */
async function hostileVenue(
  sessions: (string | Buffer)[][],
  /** The REST answer (HTTP 200, or the status given), or a function of how many frames were sent so far. */
  snapshot:
    | string
    | ((
        framesSent: number,
      ) => string | { status: number; body: string }) = "<html>not a depth snapshot</html>",
  /** Between two frames: 0 sends a session's frames at once. */
  pauseMs = 0,
): Promise<{ url: string; connections: () => number; restRequests: () => number }> {
  let rest = 0;
  let sent = 0;
  const http: Server = createServer((_req, res) => {
    rest++;
    const answer = typeof snapshot === "string" ? snapshot : snapshot(sent);
    const { status, body } = typeof answer === "string" ? { status: 200, body: answer } : answer;
    res.writeHead(status).end(body);
  });
  const wss = new WebSocketServer({ server: http });
  let n = 0;
  wss.on("connection", (ws: WebSocket) => {
    const frames = sessions[Math.min(n++, sessions.length - 1)]!;
    const send = (f: string | Buffer) => {
      sent++;
      ws.send(f);
    };
    frames.forEach((f, i) => {
      if (pauseMs === 0) send(f);
      else setTimeout(() => ws.readyState === ws.OPEN && send(f), (i + 1) * pauseMs);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  );
  return {
    url: `127.0.0.1:${(http.address() as AddressInfo).port}`,
    connections: () => n,
    restRequests: () => rest,
  };
}

/** Every file under `root`. */
async function filesUnder(root: string): Promise<string[]> {
  const files: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) files.push(join(e.parentPath, e.name));
  }
  return files;
}

/** A recorder of the venue's BTCUSDT, with raw capture on, flushing often. */
function recordVenue(url: string, feed: { trades: boolean; maxFrameBytes?: number }) {
  return tempDir().then(({ dir: root }) =>
    Recorder.start({
      root,
      captureId: "t",
      feeds: [
        {
          venue: "binance",
          symbols: ["BTCUSDT"],
          book: true,
          bbo: false,
          raw: true,
          urls: { ws: `ws://${url}`, rest: `http://${url}` },
          stallMs: 10_000,
          maxConnectionAgeMs: 0,
          ...feed,
        },
      ],
      flushIntervalMs: 50,
      sync: false,
    }).then((recorder) => ({ root, recorder })),
  );
}

describe("a venue sending garbage", () => {
  it("is counted and kept, never fatal; an oversized frame costs a reconnect", async () => {
    const venue = await hostileVenue([
      [
        trade(1),
        "not json at all",
        '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","p":1}}',
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1e400","q":"1","T":1,"m":false}}',
        "[".repeat(100_000),
        Buffer.from([0xde, 0xad, 0xbe, 0xef]),
        trade(3),
        "x".repeat(2 * 1024 * 1024),
        trade(4),
      ],
      [trade(4), trade(5)],
    ]);
    const { root, recorder: r } = await recordVenue(venue.url, { trades: true, maxFrameBytes: 1024 * 1024 });
    cleanups.push(() => r.stop().catch(() => {}));
    const feed = r.feeds[0]!;
    await waitFor(
      () => venue.connections() >= 2 && feed.feed.stats.records.trade >= 3,
      "the second connection's trades",
    );
    // The snapshot the venue answers with HTML is a bad message too, and the book stays out of sync.
    await waitFor(() => feed.feed.stats.restResponses >= 1, "the REST answer");
    // Not JSON, a price of the wrong type, one beyond the format, a nesting too deep, a binary frame.
    expect(feed.feed.stats.badFrames).toBe(5 + feed.feed.stats.restResponses);
    expect(feed.connector.bookOf("BTCUSDT")?.synced).toBe(false);
    await r.stop();
    const files = await filesUnder(root);
    const recs: TapeRecord[] = [];
    for await (const x of datasetOfFiles(files).replay({ exact: true })) recs.push(x as TapeRecord);
    const tradeIds = recs.flatMap((x) => (x.kind === "trade" ? [x.tradeId] : []));
    // Trade 4 came on both connections and is kept once.
    expect(tradeIds).toEqual(["1", "3", "4", "5"]);
    const raws = recs
      .filter((x) => x.kind === "raw")
      .map((x) => (x.kind === "raw" ? Buffer.from(x.data).toString() : ""));
    expect(raws).toContain("not json at all");
    // The binary frame, as received, and the gap that says it could not be read.
    const binary = recs.find(
      (x) => x.kind === "raw" && Buffer.from(x.data).equals(Buffer.from([0xde, 0xad, 0xbe, 0xef])),
    );
    expect(binary).toBeDefined();
    const unreadable = recs.filter(
      (x) => x.kind === "event" && x.type === "gap" && /a frame could not be read/.test(x.message),
    );
    expect(unreadable.length).toBe(5);
    expect(raws.some((t) => t.startsWith('{"rest":"/api/v3/depth?symbol=BTCUSDT&limit=5000"'))).toBe(true);
    const disconnects = recs.filter((x) => x.kind === "event" && x.type === "disconnect");
    expect(disconnects.map((x) => (x.kind === "event" ? x.message : ""))).toEqual([
      "socket 1 closed (code 1006: Max payload size exceeded)",
      "socket 2 closed (code 1000 recorder stopping)",
    ]);
    expect(recs.filter((x) => x.kind === "event" && x.type === "connect").length).toBeGreaterThanOrEqual(2);
  });
});

describe("a frame that cannot be read", () => {
  it("resynchronises every book: its gap names no symbol, so the files' books need a fresh snapshot", async () => {
    const depth = (first: number, last: number, price: string) =>
      JSON.stringify({
        stream: "btcusdt@depth@100ms",
        data: {
          e: "depthUpdate",
          E: 1764000000000 + last,
          s: "BTCUSDT",
          U: first,
          u: last,
          b: [[price, "1"]],
          a: [],
        },
      });
    // The first update asks for the snapshot; the next frames come once it has been applied. The venue's snapshot is
    // always current, so the book is in sync again before the second bad frame.
    const frames = [
      depth(1, 1, "99"),
      depth(2, 2, "98"),
      "not json at all",
      depth(3, 3, "97"),
      "nor this",
      depth(4, 4, "96"),
    ];
    const lastIdAfter = [0, 1, 2, 2, 3, 3, 4];
    const venue = await hostileVenue(
      [frames],
      (sent) =>
        JSON.stringify({ lastUpdateId: lastIdAfter[sent], bids: [["99", "1"]], asks: [["101", "1"]] }),
      // Time for the snapshot to come between the frames: the bad one finds the book in sync.
      300,
    );
    const { root, recorder: r } = await recordVenue(venue.url, { trades: false });
    cleanups.push(() => r.stop().catch(() => {}));
    const feed = r.feeds[0]!;
    await waitFor(() => feed.feed.stats.frames >= 6, "the last frame");
    // The book lost its sync with the first bad frame, asked for a snapshot again and was in sync again at the
    // second, which, within the minute, broke nothing more.
    expect(venue.restRequests()).toBe(2);
    expect(feed.connector.bookOf("BTCUSDT")!.synced).toBe(true);
    expect(feed.feed.stats.resyncs).toBe(1);
    await r.stop();
    const files = await filesUnder(root);
    const events: TapeRecord[] = [];
    for await (const x of datasetOfFiles(files).replay({ exact: true, kinds: ["event"] }))
      events.push(x as TapeRecord);
    const gaps = events.flatMap((x) =>
      x.kind === "event" && x.type === "gap" ? [`${x.symbol}: ${x.message}`] : [],
    );
    expect(gaps.filter((g) => g.startsWith(": a frame could not be read")).length).toBe(2);
    expect(gaps.filter((g) => g.startsWith("BTCUSDT: a frame could not be read")).length).toBe(1);
  });
});

describe("a snapshot the venue does not give", () => {
  it("is said in the files: the book is missing for want of it, and why", async () => {
    const update = JSON.stringify({
      stream: "btcusdt@depth@100ms",
      data: { e: "depthUpdate", E: 1764000000000, s: "BTCUSDT", U: 1, u: 1, b: [["99", "1"]], a: [] },
    });
    const venue = await hostileVenue([[update]], () => ({ status: 503, body: "Service Unavailable" }));
    const { root, recorder: r } = await recordVenue(venue.url, { trades: false });
    cleanups.push(() => r.stop().catch(() => {}));
    // Retries after about 0.25 s, 0.5 s and 1 s: the 1st, 2nd and 4th failures are written.
    await waitFor(() => venue.restRequests() >= 5, "five failed snapshot requests");
    await r.stop();
    const files = await filesUnder(root);
    const infos: string[] = [];
    for await (const x of datasetOfFiles(files).replay({ exact: true, kinds: ["event"] }))
      if (x.kind === "event" && x.type === "info") infos.push(`${x.symbol}: ${x.message}`);
    const failed = (n: number) =>
      `: REST request /api/v3/depth?symbol=BTCUSDT&limit=5000 failed (HTTP 503: Service Unavailable), attempt ${n}: retrying`;
    expect(infos).toEqual([failed(1), failed(2), failed(4)]);
  });
});
