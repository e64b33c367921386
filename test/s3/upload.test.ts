/**
 * Multipart uploads (`uploadFile`, used by `sync repair`) through a proxy that holds back the answer to the
 * completion: the client gives up on a completion that the server carried out, and its retry finds no upload.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage } from "../../src/index.js";
import { getSmallObject, uploadFile } from "../../src/s3/object-ops.js";
import { tempDir } from "../reader/helpers.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { S3Emulator } from "../support/s3-emulator.js";

let emulator: S3Emulator;
let proxy: FaultProxy;
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  emulator = await S3Emulator.start();
  await emulator.createBucket("ticks");
  proxy = await FaultProxy.start(emulator.endpoint);
  ({ dir, remove } = await tempDir());
}, 60_000);

afterAll(async () => {
  await proxy.stop();
  await emulator.stop();
  await remove();
});

const storage = () =>
  S3Storage.create({
    ...emulator.options(proxy.endpoint),
    requestTimeoutMs: 500,
    maxAttempts: 3,
    retryBaseMs: 10,
  });

describe("a multipart upload whose completion answer is lost", () => {
  // Parts of S3's minimum size (5 MiB), the last one smaller.
  const partBytes = 5 * 1024 * 1024;
  const bytes = Uint8Array.from({ length: 2 * partBytes + 12_345 }, (_, i) => (i * 2654435761) >>> 24);

  /** Runs `body` with the file `name` written and the answer to the next completion held back for 1.5 s. */
  async function withLostAnswer(
    name: string,
    body: (s: S3Storage, path: string, loc: { bucket: string; key: string }) => Promise<void>,
  ): Promise<void> {
    const path = join(dir, name);
    await writeFile(path, bytes);
    const s = await storage();
    proxy.injectCompleteFaults({ answerAfterMs: 1500 });
    try {
      await body(s, path, { bucket: "ticks", key: `lost-answer/${name}` });
    } finally {
      proxy.clearFaults();
      s.close();
    }
  }

  it("succeeds when the retry finds the object the parts made", () =>
    withLostAnswer("x.tape", async (s, path, loc) => {
      await uploadFile(s, path, loc, { algorithm: "CRC32", partBytes });
      expect(s.stats.retries, "the completion was tried again").toBeGreaterThan(0);
      const stored = await getSmallObject(s, loc, bytes.length);
      expect(stored !== null && Buffer.from(stored).equals(bytes), "the object holds the file's bytes").toBe(
        true,
      );
    }));

  it("fails when the object there is another one", () =>
    withLostAnswer("y.tape", async (s, path, loc) => {
      const held = proxy.held;
      const upload = uploadFile(s, path, loc, { algorithm: "CRC32", partBytes });
      // Once the server has completed the upload (its answer held back), another writer's PUT replaces it.
      while (proxy.held === held) await new Promise((r) => setTimeout(r, 5));
      await emulator.put(loc.bucket, loc.key, new Uint8Array(bytes.length).fill(9));
      await expect(upload).rejects.toMatchObject({ code: "E_TAPE_S3" });
    }));
});
