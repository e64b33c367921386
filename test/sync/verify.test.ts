import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { S3Storage } from "../../src/s3/index.js";
import { deleteObject, headObject, putObject, uploadFile } from "../../src/s3/object-ops.js";
import { listDay } from "../../src/sync/day-files.js";
import { verifyDay } from "../../src/sync/verify.js";
import { tempDir } from "../reader/helpers.js";
import type { S3Emulator } from "../support/s3-emulator.js";
import { DATE, startS3, stopS3, writeDay } from "./helpers.js";

const BUCKET = "verify";
let s3: S3Emulator;
let storage: S3Storage;
let root: string;
let remove: () => Promise<void>;
let bucketNo = 0;

beforeAll(async () => {
  ({ s3, storage } = await startS3());
}, 60_000);
afterAll(() => stopS3(s3, storage));

/** Copies the day to S3 with CRC32 checksums (multipart above `partBytes`). */
async function copyDay(bucket: string, partBytes = 1 << 30): Promise<void> {
  const day = await listDay(root, DATE);
  for (const f of [...day.sealed, ...day.other]) {
    await uploadFile(
      storage,
      f.path,
      { bucket, key: `data/${f.relative}` },
      { algorithm: "CRC32", partBytes },
    );
  }
}

describe("verify", () => {
  let bucket: string;
  beforeEach(async () => {
    ({ dir: root, remove } = await tempDir());
    await writeDay(root, ["binance", "okx"], 3);
    bucket = `${BUCKET}-${++bucketNo}`;
    await s3.createBucket(bucket);
    return remove;
  });

  it("proves an intact copy from stored checksums and 71-byte tails, reading no object", async () => {
    await copyDay(bucket);
    const report = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(report.ok).toBe(true);
    expect(report.files).toHaveLength(6);
    expect(
      report.files.every((f) => f.verdict === "ok" && f.method === "checksum" && f.algorithm === "CRC32"),
    ).toBe(true);
    expect(report.s3.bytesFetched).toBe(6 * 71);
    expect(report.s3.bytesFetched / report.objectBytes).toBeLessThan(0.01);
    // Source checksums are kept: a second run hashes nothing.
    expect(report.sourceBytesHashed).toBeGreaterThan(0);
    const again = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(again.ok).toBe(true);
    expect(again.sourceBytesHashed).toBe(0);
  });

  it("does not trust a kept source checksum for a file rewritten with its size and modification time restored", async () => {
    // A file that is not a tape (no footer digest to compare): only its checksums prove its copy.
    const path = join(root, DATE, "okx", "okx-2024-08-08T03.pod-a.tape.unreadable-1");
    await writeFile(path, randomBytes(5000));
    await copyDay(bucket);
    const options = { root, destination: `s3://${bucket}/data`, date: DATE, storage };
    expect((await verifyDay(options)).ok).toBe(true);
    // Other bytes, same size, the old modification time put back (as `cp -p`, `rsync -a` or `touch -r` do).
    // `touch -r` keeps the times to the nanosecond, as those tools do.
    const times = join(root, "times");
    await writeFile(times, "");
    execFileSync("touch", ["-r", path, times]);
    await writeFile(path, randomBytes(5000));
    execFileSync("touch", ["-r", times, path]);
    expect((await stat(path)).mtimeMs).toBe((await stat(times)).mtimeMs);
    const report = await verifyDay(options);
    expect(report.ok).toBe(false);
    expect(report.files.find((f) => path.endsWith(f.file))?.verdict).toBe("checksum-differs");
  });

  it("--deep proves a file that is not a tape by its bytes alone, and finds its changed copy", async () => {
    const path = join(root, DATE, "okx", "okx-2024-08-08T03.pod-a.tape.unreadable-1");
    await writeFile(path, randomBytes(5000));
    await copyDay(bucket);
    const options = { root, destination: `s3://${bucket}/data`, date: DATE, storage, deep: true };
    const report = await verifyDay(options);
    expect(report.ok, JSON.stringify(report.files.filter((f) => f.verdict !== "ok"))).toBe(true);
    const other = report.files.find((f) => path.endsWith(f.file))!;
    expect(other).toMatchObject({ verdict: "ok", method: "deep", algorithm: "CRC64NVME" });
    const copy = await readFile(path);
    copy[10] = copy[10]! ^ 1;
    await putObject(storage, { bucket, key: `data/${other.file}` }, copy);
    const changed = (await verifyDay(options)).files.find((f) => f.file === other.file)!;
    expect(changed.verdict).toBe("checksum-differs");
  });

  it("finds a missing object, a short one, a changed byte, an extra object and an .open file", async () => {
    await copyDay(bucket);
    const day = (await listDay(root, DATE)).sealed;
    const key = (i: number) => `data/${day[i]!.relative}`;
    await deleteObject(storage, { bucket, key: key(0) });
    const short = await readFile(day[1]!.path);
    await putObject(storage, { bucket, key: key(1) }, short.subarray(0, short.length - 1));
    const flipped = await readFile(day[2]!.path);
    flipped[100] = flipped[100]! ^ 1;
    await putObject(storage, { bucket, key: key(2) }, flipped);
    await putObject(storage, { bucket, key: `data/${DATE}/okx/stray.tape` }, new Uint8Array(3));
    await writeFile(join(root, DATE, "okx", "okx-2024-08-08T05.pod-a.tape.open"), "x");
    const report = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(report.ok).toBe(false);
    expect(report.files.map((f) => f.verdict)).toEqual([
      "missing",
      "size-differs",
      "checksum-differs",
      "ok",
      "ok",
      "ok",
    ]);
    expect(report.files[2]!.detail).toMatch(/CRC32 of the object .* of the source/);
    expect(report.extra).toEqual([{ key: `data/${DATE}/okx/stray.tape`, size: 3 }]);
    expect(report.open).toEqual([`${DATE}/okx/okx-2024-08-08T05.pod-a.tape.open`]);
    // The changed byte was found from the stored checksum: nothing but the intact files' tails was read.
    expect(report.s3.bytesFetched).toBe(3 * 71);
  });

  it("compares multipart objects part by part at the object's own boundaries", async () => {
    // Parts are at least 5 MiB: one large file (random bytes, so not a tape: only its checksums are checked).
    const big = join(root, DATE, "okx", "okx-2024-08-08T09.pod-a.tape");
    const bytes = randomBytes(12 << 20);
    await writeFile(big, bytes);
    await copyDay(bucket, 5 << 20);
    const key = `data/${DATE}/okx/okx-2024-08-08T09.pod-a.tape`;
    const head = await headObject(storage, { bucket, key });
    expect(head?.checksum?.type).toBe("COMPOSITE");
    expect(head?.checksum?.value).toMatch(/-3$/);
    const report = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(report.ok).toBe(true);
    const bigCheck = report.files.find((f) => f.object.endsWith(key))!;
    expect(bigCheck.method).toBe("part-checksums");
    // A source byte changed after the copy: the part holding it is named.
    bytes[(5 << 20) + 7] = bytes[(5 << 20) + 7]! ^ 0x10;
    await writeFile(big, bytes);
    const bad = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    const badCheck = bad.files.find((f) => f.object.endsWith(key))!;
    expect(badCheck.verdict).toBe("checksum-differs");
    expect(badCheck.detail).toMatch(/^part 2 \(bytes 5242880–10485759\)/);
    expect(bad.files.filter((f) => f.verdict === "ok")).toHaveLength(6);
  });

  it("reads objects without a stored checksum in full, and --deep checks every block", async () => {
    const day = (await listDay(root, DATE)).sealed;
    await s3.upload(
      bucket,
      "data/",
      root,
      day.map((f) => f.path),
    );
    expect((await headObject(storage, { bucket, key: `data/${day[0]!.relative}` }))?.checksum).toBeNull();
    const report = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(report.ok).toBe(true);
    expect(report.files.every((f) => f.method === "full-read")).toBe(true);
    expect(report.s3.bytesFetched).toBe(report.objectBytes + 6 * 71);
    // A block damaged on both sides (so the checksums agree): only the deep check can see it.
    const victim = day[4]!;
    const bytes = await readFile(victim.path);
    bytes[300] = bytes[300]! ^ 0x01;
    await writeFile(victim.path, bytes);
    await putObject(storage, { bucket, key: `data/${victim.relative}` }, bytes, { algorithm: "CRC32" });
    const shallow = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(shallow.files[4]!.verdict).toBe("ok");
    const deep = await verifyDay({
      root,
      destination: `s3://${bucket}/data`,
      date: DATE,
      storage,
      deep: true,
    });
    expect(deep.files[4]!.verdict).toBe("corrupt");
    expect(deep.files[4]!.detail).toMatch(/E_TAPE_CRC/);
    expect(deep.files.filter((f) => f.verdict === "ok")).toHaveLength(5);
    expect(deep.s3.bytesFetched).toBe(deep.objectBytes);
  });

  it("checks the day's other files by their checksums, counts a set-aside part as open, and knows folder objects", async () => {
    const okx = join(root, DATE, "okx");
    await writeFile(join(okx, "okx-2024-08-08T03.pod-a.tape.unreadable-1"), randomBytes(5000));
    await writeFile(join(okx, "okx-2024-08-08T04.pod-a.part1.tape.open"), "partial");
    await copyDay(bucket);
    // DataSync may keep each folder as an empty object.
    await putObject(storage, { bucket, key: `data/${DATE}/` }, new Uint8Array(0));
    await putObject(storage, { bucket, key: `data/${DATE}/okx/` }, new Uint8Array(0));
    const report = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(report.other).toEqual([`${DATE}/okx/okx-2024-08-08T03.pod-a.tape.unreadable-1`]);
    expect(report.files).toHaveLength(7);
    expect(report.files.find((f) => f.file.endsWith(".unreadable-1"))).toMatchObject({
      verdict: "ok",
      method: "checksum",
    });
    expect(report.extra).toEqual([]);
    expect(report.open).toEqual([`${DATE}/okx/okx-2024-08-08T04.pod-a.part1.tape.open`]);
    expect(report.ok).toBe(false);
    // A copy of the other file that differs is found like a tape's.
    await putObject(
      storage,
      { bucket, key: `data/${DATE}/okx/okx-2024-08-08T03.pod-a.tape.unreadable-1` },
      randomBytes(5000),
    );
    const bad = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(bad.files.find((f) => f.file.endsWith(".unreadable-1"))?.verdict).toBe("checksum-differs");
  });

  it("an empty or absent day verifies as nothing to check", async () => {
    await rm(join(root, DATE), { recursive: true });
    const report = await verifyDay({ root, destination: `s3://${bucket}/data`, date: DATE, storage });
    expect(report.files).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
