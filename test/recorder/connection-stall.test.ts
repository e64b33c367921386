/**
 * Stall detection against a real WebSocket server that answers pings (protocol pings and text pings) but sends
 * nothing else: on a venue with heartbeats of its own that is a dead feed, reconnected; on a venue where a quiet
 * market is silent, the pongs keep the connection.
 */
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { systemClock } from "../../src/recorder/clock.js";
import { Connection } from "../../src/recorder/connection.js";
import type { Heartbeat } from "../../src/recorder/connector.js";

const servers: WebSocketServer[] = [];
const connections: Connection[] = [];
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that answers `{"method":"ping"}` with a pong (and protocol pings, as ws does) and sends nothing else. */
async function pongOnlyServer(): Promise<{ url: string; pings: () => number }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  servers.push(wss);
  await new Promise((r) => wss.once("listening", r));
  let pings = 0;
  wss.on("connection", (ws) => {
    ws.on("ping", () => pings++);
    ws.on("message", (data) => {
      if (data.toString() !== '{"method":"ping"}') return;
      pings++;
      ws.send('{"method":"pong"}');
    });
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, pings: () => pings };
}

async function watch(heartbeat: Heartbeat, ms: number): Promise<{ stalls: number; pings: number }> {
  const server = await pongOnlyServer();
  let stalls = 0;
  const conn = new Connection({
    plan: { url: server.url, subscribe: [], symbols: [] },
    clock: systemClock(),
    heartbeat,
    sendsPerSecond: 5,
    stallMs: 1000,
    backoffMs: { first: 50, max: 100 },
    events: {
      onOpen: () => {},
      onFrame: () => {},
      onClose: () => {},
      onStall: () => stalls++,
      onWarning: () => {},
    },
  });
  connections.push(conn);
  conn.start();
  await new Promise((r) => setTimeout(r, ms));
  return { stalls, pings: server.pings() };
}

const textPing = (venueBeats: boolean): Heartbeat => ({
  idleMs: 100,
  ping: '{"method":"ping"}',
  isPong: (t) => t === '{"method":"pong"}',
  venueBeats,
});
const framePing = (venueBeats: boolean): Heartbeat => ({
  idleMs: 100,
  ping: null,
  isPong: () => false,
  venueBeats,
});

describe("a connection that only answers pings", () => {
  for (const [name, heartbeat] of [
    ["text pings", textPing],
    ["protocol pings", framePing],
  ] as const) {
    it(`is reconnected as stalled where the venue sends heartbeats (${name})`, async () => {
      const seen = await watch(heartbeat(true), 2200);
      expect(seen.pings).toBeGreaterThan(3);
      expect(seen.stalls).toBeGreaterThanOrEqual(1);
    });

    it(`is kept where a quiet market is silent: the pongs show it alive (${name})`, async () => {
      const seen = await watch(heartbeat(false), 2200);
      expect(seen.pings).toBeGreaterThan(3);
      expect(seen.stalls).toBe(0);
    });
  }

  it("is kept on a quiet venue whose ping idle time is the stall time (Binance's defaults): it is pinged sooner", async () => {
    const seen = await watch({ ...framePing(false), idleMs: 1000 }, 2200);
    expect(seen.pings).toBeGreaterThanOrEqual(2);
    expect(seen.stalls).toBe(0);
  });
});
