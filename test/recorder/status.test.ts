/**
 * The status server's answers against what docs/RECORDER.md ("Operations") says they mean, with real sockets:
 * `/readyz` is 200 only when every venue has its connections open.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import type * as RecorderModule from "../../src/recorder/index.js";
import { tempDir } from "../reader/helpers.js";
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
