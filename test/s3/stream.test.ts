/**
 * Whole-object reads (`streamObject`, used by `sync verify --deep`) through a proxy that paces the body: a read
 * that keeps receiving is never cut by the per-try deadline, one that stops receiving is.
 */
import { createServer, request, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage } from "../../src/index.js";
import { headObject, streamObject } from "../../src/s3/object-ops.js";
import { S3Emulator } from "../support/s3-emulator.js";

const SIZE = 1536 * 1024;
let emulator: S3Emulator;
let proxy: Server;
/** Bytes per second the proxy lets through; 0: it sends the headers and then nothing. */
let pace = 1024 * 1024;
/** The ETag the proxy gives GET answers instead of the object's (a server that ignored If-Match), or null. */
let answerEtag: string | null = null;

beforeAll(async () => {
  emulator = await S3Emulator.start();
  await emulator.createBucket("ticks");
  await emulator.put("ticks", "big.bin", new Uint8Array(SIZE).fill(7));
  const to = new URL(emulator.endpoint);
  proxy = createServer((req, res) => {
    const up = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (u) => {
        res.writeHead(
          u.statusCode ?? 502,
          answerEtag !== null && req.method === "GET" ? { ...u.headers, etag: answerEtag } : u.headers,
        );
        if (req.method !== "GET") {
          u.pipe(res);
          return;
        }
        u.on("data", (c: Buffer) => {
          if (pace === 0) return void u.pause();
          u.pause();
          res.write(c);
          setTimeout(() => u.resume(), (c.length / pace) * 1000);
        });
        u.on("end", () => res.end());
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
}, 60_000);

afterAll(async () => {
  proxy.closeAllConnections();
  proxy.close();
  await emulator.stop();
});

function storage(): Promise<S3Storage> {
  const address = proxy.address() as { port: number };
  return S3Storage.create({
    ...emulator.options(`http://127.0.0.1:${address.port}`),
    requestTimeoutMs: 600,
    maxAttempts: 2,
    retryBaseMs: 10,
  });
}

describe("streamObject", () => {
  it("refuses bytes of another object than the one opened: another ETag, or more bytes than it has", async () => {
    pace = 64 * 1024 * 1024;
    const s = await storage();
    const loc = { bucket: "ticks", key: "big.bin" };
    const head = (await headObject(s, loc))!;
    const read = (info: typeof head) => streamObject(s, loc, info, () => () => {}).catch((e: unknown) => e);
    answerEtag = '"0123456789abcdef0123456789abcdef"';
    const other = await read(head);
    answerEtag = null;
    expect(other).toMatchObject({ code: "E_TAPE_CHANGED", file: "s3://ticks/big.bin" });
    expect((other as Error).message).toMatch(/ETag "0123456789abcdef0123456789abcdef", not /);
    // Opened when it was smaller (a server that ignores If-Match, and the same ETag): stopped at the excess.
    const longer = await read({ ...head, size: SIZE - 1000 });
    expect(longer).toMatchObject({ code: "E_TAPE_CHANGED" });
    expect((longer as Error).message).toMatch(`more than its ${SIZE - 1000} bytes`);
    expect(s.stats.retries).toBe(0);
    s.close();
  });

  it("reads an object that takes longer than the deadline, as long as bytes keep coming", async () => {
    pace = 1024 * 1024;
    const s = await storage();
    const loc = { bucket: "ticks", key: "big.bin" };
    const head = (await headObject(s, loc))!;
    let got = 0;
    const started = Date.now();
    await streamObject(s, loc, head, () => {
      got = 0;
      return (b) => {
        got += b.length;
      };
    });
    expect(got).toBe(SIZE);
    expect(Date.now() - started).toBeGreaterThan(600);
    expect(s.stats.retries).toBe(0);
    s.close();
  });

  it("gives up on a body that stops coming, after its tries", async () => {
    pace = 0;
    const s = await storage();
    const loc = { bucket: "ticks", key: "big.bin" };
    const head = (await headObject(s, loc))!;
    await expect(streamObject(s, loc, head, () => () => {})).rejects.toMatchObject({ code: "E_TAPE_S3" });
    expect(s.stats.retries).toBe(1);
    s.close();
  });
});
