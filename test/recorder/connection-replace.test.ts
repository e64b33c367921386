/**
 * Replacing a connection before a venue's forced disconnect (a successor socket overlapping the current one),
 * against a real WebSocket server that fails the replacement: the feed is never left without a connection, and a
 * successor that fails before it delivered is no loss.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { systemClock } from "../../src/recorder/clock.js";
import { Connection } from "../../src/recorder/connection.js";
import { waitFor } from "../support/wait.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A server whose `upgrade(n, …)` decides what the n-th connection attempt gets; returns its URL. */
async function server(
  upgrade: (n: number, accept: () => Promise<WebSocket>, refuse: () => void) => void,
): Promise<string> {
  const wss = new WebSocketServer({ noServer: true });
  const http: Server = createServer();
  let attempts = 0;
  http.on("upgrade", (req, socket, head) => {
    const n = ++attempts;
    upgrade(
      n,
      () => new Promise((resolve) => wss.handleUpgrade(req, socket, head, resolve)),
      () => socket.end("HTTP/1.1 503 Service Unavailable\r\n\r\n"),
    );
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => http.close(r));
  });
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

/**
 * Connects, telling what happens in `seen` with sockets numbered in the order this connection made them (socket ids
 * are counted across the process).
 */
function connect(url: string, seen: string[]): Connection {
  const numbers = new Map<number, number>();
  const n = (id: number) => {
    if (!numbers.has(id)) numbers.set(id, numbers.size + 1);
    return numbers.get(id)!;
  };
  const conn = new Connection({
    plan: { url, subscribe: [], symbols: [] },
    clock: systemClock(),
    heartbeat: { idleMs: 10_000, ping: null, isPong: () => false, venueBeats: false },
    sendsPerSecond: 5,
    stallMs: 60_000,
    // Replaced after 300 ms, as a venue's 24 h limit would have it.
    maxAgeMs: 300,
    backoffMs: { first: 50, max: 100 },
    events: {
      onOpen: (id, replacing) => seen.push(`open ${n(id)}${replacing ? " (replacing)" : ""}`),
      onFrame: (id) => seen.push(`frame ${n(id)}`),
      onClose: (id, _reason, why) => seen.push(`close ${n(id)} ${why}`),
      onStall: () => seen.push("stall"),
      onWarning: (m) => seen.push(m.replace(/socket (\d+)/, (_, id) => `socket ${n(Number(id))}`)),
    },
  });
  cleanups.push(() => conn.stop());
  conn.start();
  return conn;
}

describe("a connection being replaced", () => {
  it("reconnects when the current socket drops while its successor opens, and the successor then fails", async () => {
    const sockets: WebSocket[] = [];
    const url = await server(async (n, accept, refuse) => {
      if (n === 2) {
        // The successor's handshake: the current connection drops meanwhile, then the handshake is refused.
        sockets[0]!.terminate();
        setTimeout(refuse, 200);
        return;
      }
      const ws = await accept();
      sockets.push(ws);
      if (n >= 3) ws.send("hello");
    });
    const seen: string[] = [];
    connect(url, seen);
    await waitFor(() => seen.includes("frame 3"), "a frame of the third socket", 5000);
    expect(seen.slice(0, 2)).toEqual(["open 1", "close 1 dropped"]);
    expect(seen.some((e) => e.startsWith("socket 2: connection attempt failed"))).toBe(true);
    expect(seen).toContain("open 3");
  });

  it("takes a successor that closes before it delivered as no loss: the current socket delivered meanwhile", async () => {
    const url = await server(async (n, accept) => {
      const ws = await accept();
      if (n === 1) {
        const timer = setInterval(() => ws.send("tick"), 20);
        ws.on("close", () => clearInterval(timer));
      }
      // The successor is accepted, then closed before it sends anything.
      if (n === 2) setTimeout(() => ws.terminate(), 50);
    });
    const seen: string[] = [];
    connect(url, seen);
    await waitFor(
      () => seen.includes("close 2 replaced") || seen.includes("close 2 dropped"),
      "the second socket closed",
      5000,
    ).catch(() => {
      throw new Error(seen.join("\n"));
    });
    expect(seen).toContain("close 2 replaced");
    expect(seen).not.toContain("close 1 dropped");
  });
});
