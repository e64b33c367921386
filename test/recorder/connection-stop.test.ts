/** Stopping a connection against a real WebSocket server: the close handshake is read, whatever asks to pause. */
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { systemClock } from "../../src/recorder/clock.js";
import { Connection } from "../../src/recorder/connection.js";

const servers: WebSocketServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe("a connection that is stopping", () => {
  it("reads the close handshake even when asked to pause meanwhile (its close is told before the stop ends)", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    servers.push(wss);
    await new Promise((r) => wss.once("listening", r));
    const seen: string[] = [];
    let opened: () => void;
    const open = new Promise<void>((r) => {
      opened = r;
    });
    const conn = new Connection({
      plan: { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, subscribe: [], symbols: [] },
      clock: systemClock(),
      heartbeat: { idleMs: 10_000, ping: null, isPong: () => false, venueBeats: false },
      sendsPerSecond: 5,
      stallMs: 60_000,
      backoffMs: { first: 50, max: 100 },
      events: {
        onOpen: () => opened(),
        onFrame: () => {},
        onClose: (_id, reason, why) => seen.push(`close ${why}: ${reason}`),
        onStall: () => {},
        onWarning: () => {},
      },
    });
    conn.start();
    await open;
    // A writer falling behind asks to pause while the stop waits for the venue's answer to its close.
    const stopped = conn.stop().then(() => seen.push("stop resolved"));
    conn.pauseReading();
    await stopped;
    expect(seen).toEqual(["close stopped: code 1000 recorder stopping", "stop resolved"]);
  });
});
