/**
 * Listings that a server gets wrong: one said to go on without saying where, or always from the same place,
 * must be an error, not a listing cut short or a loop that never ends.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { S3Storage } from "../../src/index.js";

let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  server = null;
});

/** A server whose every ListObjectsV2 answer holds one key and says it is truncated, with `token` (or none). */
async function truncatedListings(
  token: string | null,
): Promise<{ endpoint: string; requests: () => number }> {
  let n = 0;
  server = createServer((req, res) => {
    n++;
    req.resume();
    res.writeHead(200, { "content-type": "application/xml" });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Name>ticks</Name><Prefix>day/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>` +
        `<IsTruncated>true</IsTruncated>${token === null ? "" : `<NextContinuationToken>${token}</NextContinuationToken>`}` +
        `<Contents><Key>day/a.tape</Key><Size>10</Size></Contents></ListBucketResult>`,
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, requests: () => n };
}

const options = (endpoint: string) => ({
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});

describe("listing", () => {
  it("a listing said to go on without a continuation token is E_TAPE_S3, not a short listing", async () => {
    const s = await truncatedListings(null);
    const storage = await S3Storage.create(options(s.endpoint));
    await expect(storage.list("ticks", "day/")).rejects.toMatchObject({ code: "E_TAPE_S3" });
    expect(s.requests()).toBe(1);
    storage.close();
  });

  it("a listing that repeats its continuation token is E_TAPE_S3, not an endless loop", async () => {
    const s = await truncatedListings("same");
    const storage = await S3Storage.create(options(s.endpoint));
    await expect(storage.list("ticks", "day/")).rejects.toMatchObject({ code: "E_TAPE_S3" });
    expect(s.requests()).toBe(2);
    storage.close();
  });
});
