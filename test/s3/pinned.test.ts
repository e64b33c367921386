/**
 * Reads pinned to the object that was opened. In a bucket whose versioning is suspended an object's version is
 * "null", and the next PUT overwrites that version in place: the version alone does not pin the bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage } from "../../src/index.js";
import { S3Emulator } from "../support/s3-emulator.js";

let emulator: S3Emulator;

beforeAll(async () => {
  emulator = await S3Emulator.start();
  await emulator.createBucket("ticks");
}, 60_000);

afterAll(async () => {
  await emulator.stop();
});

describe("a range read of an object overwritten since it was opened", () => {
  it("is E_TAPE_CHANGED when its version is the null version", async () => {
    const loc = { bucket: "ticks", key: "suspended/x.tape" };
    await emulator.put(loc.bucket, loc.key, new Uint8Array(4096).fill(1));
    const storage = await S3Storage.create({ ...emulator.options(), maxAttempts: 1 });
    try {
      const info = { ...(await storage.head(loc)), versionId: "null" };
      expect(await storage.getRange(loc, info, 0, 16)).toEqual(new Uint8Array(16).fill(1));
      await emulator.put(loc.bucket, loc.key, new Uint8Array(4096).fill(2));
      await expect(storage.getRange(loc, info, 0, 16)).rejects.toMatchObject({ code: "E_TAPE_CHANGED" });
    } finally {
      storage.close();
    }
  });
});
