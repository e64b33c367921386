/**
 * The REST client of book snapshots against a real HTTP server on 127.0.0.1: an answer that drips forever or
 * grows past the bound is a failed attempt (retried), never a request that hangs or fills memory.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RestClient } from "../../src/recorder/rest-client.js";

let server: Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  server = null;
});

/** A server whose first `bad` answers come from `misbehave`, then a good snapshot. */
async function serve(
  bad: number,
  misbehave: (res: import("node:http").ServerResponse) => void,
): Promise<string> {
  let seen = 0;
  server = createServer((_req, res) => {
    if (seen++ < bad) return misbehave(res);
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"lastUpdateId":1000,"bids":[],"asks":[]}');
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

describe("RestClient", () => {
  it("gives up on an answer that keeps dripping once its deadline passes, and tries again", async () => {
    const timers: NodeJS.Timeout[] = [];
    const base = await serve(1, (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"lastUpdateId":1000,"bids":[');
      timers.push(setInterval(() => res.write('["1","1"],'), 20));
    });
    const retries: string[] = [];
    const client = new RestClient({ base, timeoutMs: 400, onRetry: (_p, error) => retries.push(error) });
    const started = Date.now();
    try {
      expect(await client.get("/api/v3/depth?symbol=BTCUSDT")).toMatch(/^\{"lastUpdateId":1000/);
    } finally {
      for (const t of timers) clearInterval(t);
      client.close();
    }
    expect(retries).toEqual(["no answer within 400 ms"]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("reads no more than its bound of an answer: a bigger one is a failed attempt", async () => {
    const big = "x".repeat(64 * 1024);
    // Declared too big, then too big without a declared length (chunked).
    let answers = 0;
    const base = await serve(2, (res) => {
      if (answers++ === 0) res.writeHead(200, { "content-length": String(big.length) });
      else res.writeHead(200, { "transfer-encoding": "chunked" });
      res.end(big);
    });
    const retries: string[] = [];
    const client = new RestClient({
      base,
      maxBodyBytes: 16 * 1024,
      onRetry: (_p, error) => retries.push(error),
    });
    try {
      expect(await client.get("/api/v3/depth?symbol=BTCUSDT")).toMatch(/^\{"lastUpdateId":1000/);
    } finally {
      client.close();
    }
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatch(/answer of 65536 bytes, more than the 16384 taken/);
    expect(retries[1]).toMatch(/answer of more than the 16384 bytes taken/);
  });
});
