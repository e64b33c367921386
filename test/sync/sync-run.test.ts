import { writeFileSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDataset, type S3Storage, tapeRelativePath } from "../../src/index.js";
import { deleteObject, getSmallObject, putObject } from "../../src/s3/object-ops.js";
import { listDay, type Manifest, prune, syncDay } from "../../src/sync/index.js";
import { tempDir, writeDataset } from "../reader/helpers.js";
import type { S3Emulator } from "../support/s3-emulator.js";
import { DATE, daySpecs, LATER, startS3, stopS3, writeDay } from "./helpers.js";

let s3: S3Emulator;
let storage: S3Storage;
let bucketNo = 0;

beforeAll(async () => {
  ({ s3, storage } = await startS3());
}, 60_000);
afterAll(() => stopS3(s3, storage));

async function collectAll<T>(it: AsyncIterable<T>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

async function freshDay(): Promise<{
  root: string;
  bucket: string;
  dest: string;
  remove: () => Promise<void>;
}> {
  const { dir: root, remove } = await tempDir();
  await writeDay(root, ["binance", "okx"], 2);
  const bucket = `sync-${++bucketNo}`;
  await s3.createBucket(bucket);
  return { root, bucket, dest: `s3://${bucket}/ticks`, remove };
}

/** The options of a run without DataSync (uploads with CRC32), of the day written by `freshDay`. */
function runOptions(root: string, dest: string) {
  return { root, destination: dest, date: DATE, storage, now: LATER, uploadAlgorithm: "CRC32" as const };
}

/** The day's manifest object, or null. */
function manifestObject(bucket: string): Promise<Uint8Array | null> {
  return getSmallObject(storage, { bucket, key: `ticks/${DATE}/_MANIFEST.json` }, 1 << 20);
}

describe("sync run (direct uploads)", () => {
  it("copies, proves, writes the manifest last, and does nothing the second time", async () => {
    const { root, bucket, dest, remove } = await freshDay();
    try {
      const lines: string[] = [];
      const result = await syncDay({
        root,
        destination: dest,
        date: DATE,
        storage,
        uploadAlgorithm: "CRC32",
        now: LATER,
        log: (l) => lines.push(l),
      });
      expect(result.status).toBe("verified");
      expect(result.repairs).toHaveLength(1);
      expect(result.repairs[0]!.files).toHaveLength(4);
      expect(result.verify!.counts.ok).toBe(4);
      const text = await getSmallObject(storage, { bucket, key: `ticks/${DATE}/_MANIFEST.json` }, 1 << 20);
      const manifest = JSON.parse(Buffer.from(text!).toString()) as Manifest;
      expect(manifest.schema).toBe("ticktape.manifest/1");
      expect(manifest.files.map((f) => f.path)).toEqual(
        (await listDay(root, DATE)).sealed.map((f) => f.relative),
      );
      const first = manifest.files[0]!;
      expect(first.records).toEqual({ trade: 1000, book: 1000, event: 1 });
      expect(first.events).toEqual([
        expect.objectContaining({ type: "gap", seqBefore: "10", seqAfter: "20", symbol: "BTC-USDT" }),
      ]);
      expect(first.checksums.CRC64NVME).toMatch(/^[A-Za-z0-9+/]{11}=$/);
      expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(manifest.totals).toMatchObject({ files: 4, events: 4 });

      const again = await syncDay({ root, destination: dest, date: DATE, storage, now: LATER });
      expect(again.status).toBe("already-verified");
      expect(again.repairs).toEqual([]);

      // A file changed on EFS after the manifest: reported, not silently overwritten.
      const f = (await listDay(root, DATE)).sealed[1]!;
      await writeFile(f.path, Buffer.concat([await readFile(f.path), Buffer.from("x")]));
      const changed = await syncDay({ root, destination: dest, date: DATE, storage, now: LATER });
      expect(changed.status).toBe("failed");
      expect(changed.detail).toMatch(/changed after its manifest/);
    } finally {
      await remove();
    }
  });

  it("refuses a day that is not over, and reports .open files of a finished day", async () => {
    const { root, dest, remove } = await freshDay();
    try {
      await expect(
        syncDay({ root, destination: dest, date: DATE, storage, now: () => Date.parse(`${DATE}T23:00:00Z`) }),
      ).rejects.toMatchObject({ code: "E_TAPE_SYNC" });
      const open = join(root, DATE, "okx", "okx-2024-08-08T07.pod-a.tape.open");
      await writeFile(open, "partial");
      const lines: string[] = [];
      const result = await syncDay({
        root,
        destination: dest,
        date: DATE,
        storage,
        now: LATER,
        graceMs: 50,
        log: (l) => lines.push(l),
      });
      expect(result.status).toBe("not-closed");
      expect(result.stragglers).toEqual([`${DATE}/okx/okx-2024-08-08T07.pod-a.tape.open`]);
      expect(lines.some((l) => l.startsWith("RECORDER FAULT"))).toBe(true);
      expect(result.manifest).toBeNull();
    } finally {
      await remove();
    }
  });

  it("a root that is not there stops the run; a day without files fails it unless allowed", async () => {
    const { root, bucket, dest, remove } = await freshDay();
    try {
      const base = runOptions(root, dest);
      await expect(syncDay({ ...base, root: join(root, "not-mounted") })).rejects.toMatchObject({
        code: "E_TAPE_IO",
        file: join(root, "not-mounted"),
      });
      const empty = join(root, "empty-root");
      await mkdir(empty);
      const none = await syncDay({ ...base, root: empty });
      expect(none.status).toBe("failed");
      expect(none.detail).toMatch(/no files for 2024-08-08 under .*empty-root/);
      expect(none.manifest).toBeNull();
      expect(await manifestObject(bucket)).toBeNull();
      const allowed = await syncDay({ ...base, root: empty, allowEmpty: true });
      expect(allowed.status).toBe("verified");
      expect(allowed.files).toBe(0);
    } finally {
      await remove();
    }
  });

  it("a file sealed while the day is synced fails the run, with no manifest; the next run proves it", async () => {
    const { root, bucket, dest, remove } = await freshDay();
    try {
      const late = daySpecs(["okx"], 3)
        .slice(2)
        .map((f) => ({ ...f, captureId: "pod-b" }));
      let written = false;
      const base = runOptions(root, dest);
      const result = await syncDay({
        ...base,
        // Once the first verify is done, a late seal lands in the day.
        log: (line) => {
          if (written || !line.includes(": verified ")) return;
          written = true;
          for (const f of late)
            writeFileSync(join(root, tapeRelativePath(f.exchange, f.hour, f.captureId)), "");
        },
      });
      expect(written).toBe(true);
      expect(result.status).toBe("failed");
      expect(result.detail).toMatch(/changed while it was synced: .*pod-b\.tape appeared/);
      expect(await manifestObject(bucket)).toBeNull();
      // The late file, written whole now, is copied and proven by the next run.
      await writeDataset(root, late);
      const again = await syncDay(base);
      expect(again.status).toBe("verified");
      expect(again.files).toBe(5);
    } finally {
      await remove();
    }
  });

  it("--force deletes the old manifest first: a forced run that fails leaves the day without one", async () => {
    const { root, bucket, dest, remove } = await freshDay();
    try {
      const base = runOptions(root, dest);
      expect((await syncDay(base)).status).toBe("verified");
      expect(await manifestObject(bucket)).not.toBeNull();
      // A file rewritten on EFS (the copy will be replaced) and an object that fails the run.
      await writeDataset(root, daySpecs(["okx"], 1, 99));
      await putObject(storage, { bucket, key: `ticks/${DATE}/okx/stray.bin` }, new Uint8Array([1]));
      const forced = await syncDay({ ...base, force: true });
      expect(forced.status).toBe("failed");
      expect(await manifestObject(bucket)).toBeNull();
    } finally {
      await remove();
    }
  });

  it("a dataset opened with requireManifest reads only verified days and checks files against the manifest", async () => {
    const { root, bucket, dest, remove } = await freshDay();
    try {
      // Copied, but not proven: the day has no manifest and is not read.
      const day = (await listDay(root, DATE)).sealed;
      await s3.upload(
        bucket,
        "ticks/",
        root,
        day.map((f) => f.path),
      );
      await expect(openDataset(dest, { s3: s3.options(), requireManifest: true })).resolves.toMatchObject({
        files: [],
        unverifiedDays: [DATE],
      });
      // With a range, the days next to it are looked at too; as they are not there, they are not unverified.
      const bounded = await openDataset(dest, {
        s3: s3.options(),
        requireManifest: true,
        from: `${DATE}T00:00:00Z`,
        to: `${DATE}T23:59:59Z`,
      });
      expect(bounded.unverifiedDays).toEqual([DATE]);
      await bounded.sources.close();
      // A bucket that does not exist is an error, not days without a manifest (a range needs no LIST).
      const range = { from: `${DATE}T00:00:00Z`, to: `${DATE}T01:00:00Z` };
      await expect(
        openDataset(dest.replace(bucket, `${bucket}-missing`), {
          s3: s3.options(),
          requireManifest: true,
          ...range,
        }),
      ).rejects.toMatchObject({ code: "E_TAPE_S3", message: expect.stringContaining("no such bucket") });
      await syncDay({ root, destination: dest, date: DATE, storage, uploadAlgorithm: "CRC32", now: LATER });
      const ds = await openDataset(dest, { s3: s3.options(), requireManifest: true });
      expect(ds.files).toHaveLength(4);
      let n = 0;
      for await (const _ of ds.replay()) n++;
      expect(n).toBe(4 * 2001);
      await ds.sources.close();
      // The local root has no manifest: nothing is read from it.
      const local = await openDataset(root, { requireManifest: true });
      expect(local.files).toEqual([]);
      // A block of an object damaged after the manifest (same size, same footer): its CRC refuses it.
      const bytes = await readFile(day[0]!.path);
      bytes[40] = bytes[40]! ^ 2;
      await s3.put(bucket, `ticks/${day[0]!.relative}`, bytes);
      const damaged = await openDataset(dest, { s3: s3.options(), requireManifest: true });
      await expect(collectAll(damaged.replay())).rejects.toMatchObject({ code: "E_TAPE_CRC" });
      await damaged.sources.close();
      // Another tape in its place (another file's bytes): the manifest refuses it.
      await s3.put(bucket, `ticks/${day[0]!.relative}`, await readFile(day[2]!.path));
      await expect(openDataset(dest, { s3: s3.options(), requireManifest: true })).rejects.toMatchObject({
        code: "E_TAPE_MANIFEST",
      });
      await s3.put(bucket, `ticks/${day[0]!.relative}`, await readFile(day[0]!.path));
      // An object gone: the listing no longer matches the manifest.
      await deleteObject(storage, { bucket, key: `ticks/${day[1]!.relative}` });
      await expect(openDataset(dest, { s3: s3.options(), requireManifest: true })).rejects.toMatchObject({
        code: "E_TAPE_MANIFEST",
      });
      // A whole exchange folder gone (the binance files are back, okx's deleted): still a missing file.
      await s3.put(bucket, `ticks/${day[1]!.relative}`, await readFile(day[1]!.path));
      await expect(openDataset(dest, { s3: s3.options(), requireManifest: true })).resolves.toBeDefined();
      for (const f of day.filter((f) => f.relative.includes("/okx/")))
        await deleteObject(storage, { bucket, key: `ticks/${f.relative}` });
      await expect(openDataset(dest, { s3: s3.options(), requireManifest: true })).rejects.toMatchObject({
        code: "E_TAPE_MANIFEST",
        message: expect.stringMatching(/okx.*listed in .*_MANIFEST\.json but absent/),
      });
    } finally {
      await remove();
    }
  });
});

describe("prune", () => {
  it("deletes only days proven by a manifest whose files and copies still match", async () => {
    const { root, bucket, dest, remove } = await freshDay();
    try {
      await syncDay({ root, destination: dest, date: DATE, storage, uploadAlgorithm: "CRC32", now: LATER });
      const files = (await listDay(root, DATE)).sealed;
      // Today's and recent days are never touched.
      expect(await prune({ root, destination: dest, keepDays: 30, storage, now: LATER })).toEqual([]);
      const dry = await prune({ root, destination: dest, keepDays: 3, storage, now: LATER, dryRun: true });
      expect(dry).toEqual([expect.objectContaining({ date: DATE, action: "would-delete", files: 4 })]);
      expect((await listDay(root, DATE)).sealed).toHaveLength(4);
      // A copy damaged in S3 after the manifest: kept.
      await putObject(
        storage,
        { bucket, key: `ticks/${files[2]!.relative}` },
        new Uint8Array(files[2]!.size),
      );
      const kept = await prune({ root, destination: dest, keepDays: 3, storage, now: LATER });
      expect(kept[0]).toMatchObject({ action: "kept" });
      expect(kept[0]!.reason).toMatch(/no longer matches/);
      expect((await listDay(root, DATE)).sealed).toHaveLength(4);
    } finally {
      await remove();
    }
  });

  it("never deletes a file whose copy is missing or different (random fault sets)", async () => {
    const faults = ["none", "missing", "different", "manifest-gone", "local-extra", "local-changed"] as const;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...faults), { minLength: 1, maxLength: 3 }), async (set) => {
        const { root, bucket, dest, remove } = await freshDay();
        try {
          await syncDay({
            root,
            destination: dest,
            date: DATE,
            storage,
            uploadAlgorithm: "CRC32",
            now: LATER,
          });
          const files = (await listDay(root, DATE)).sealed;
          const key = (i: number) => `ticks/${files[i % files.length]!.relative}`;
          let i = 0;
          for (const fault of set) {
            i++;
            if (fault === "missing") await deleteObject(storage, { bucket, key: key(i) });
            if (fault === "different") {
              const bytes = await readFile(files[i % files.length]!.path);
              bytes[50] = bytes[50]! ^ 4;
              await putObject(storage, { bucket, key: key(i) }, bytes);
            }
            if (fault === "manifest-gone")
              await deleteObject(storage, { bucket, key: `ticks/${DATE}/_MANIFEST.json` });
            if (fault === "local-extra")
              await writeFile(join(root, DATE, "okx", "okx-2024-08-08T11.pod-a.tape"), "new");
            if (fault === "local-changed") {
              const p = files[i % files.length]!.path;
              const bytes = await readFile(p);
              bytes[60] = bytes[60]! ^ 8;
              await writeFile(p, bytes);
            }
          }
          const [day] = await prune({ root, destination: dest, keepDays: 2, storage, now: LATER });
          const faulty = set.some((f) => f !== "none");
          expect(day!.action).toBe(faulty ? "kept" : "deleted");
          for (const f of files) {
            const exists = await stat(f.path).then(
              () => true,
              () => false,
            );
            expect(exists).toBe(faulty);
          }
        } finally {
          await remove();
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
