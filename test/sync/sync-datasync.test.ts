import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DataSyncClient, StartTaskExecutionCommand } from "@aws-sdk/client-datasync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { S3Storage } from "../../src/s3/index.js";
import { getSmallObject } from "../../src/s3/object-ops.js";
import {
  DataSyncRunner,
  listDay,
  type Manifest,
  type SyncOptions,
  syncDay,
  verifyDay,
} from "../../src/sync/index.js";
import { setupDataSync } from "../../src/sync/setup.js";
import { tempDir } from "../reader/helpers.js";
import { DataSyncEmulator, type DataSyncFault } from "../support/datasync-emulator.js";
import type { S3Emulator } from "../support/s3-emulator.js";
import { CREDENTIALS, createTask, DATE, FS_ARN, LATER, startS3, stopS3, writeDay } from "./helpers.js";

let s3: S3Emulator;
let storage: S3Storage;
let bucketNo = 0;

beforeAll(async () => {
  ({ s3, storage } = await startS3());
}, 60_000);
afterAll(() => stopS3(s3, storage));

/** A day on a fresh "EFS" root, a fresh bucket, a local DataSync with a task made by `setupDataSync`. */
async function stage() {
  const { dir: root, remove } = await tempDir();
  await writeDay(root, ["binance", "okx"], 2);
  const bucket = `ds-${++bucketNo}`;
  await s3.createBucket(bucket);
  const ds = await DataSyncEmulator.start({ efs: { [FS_ARN]: root }, s3: s3.client, phaseMs: 5 });
  const dest = `s3://${bucket}/ticks`;
  const datasync = {
    taskArn: await createTask(ds, dest),
    endpoint: ds.endpoint,
    credentials: CREDENTIALS,
    pollMs: 5,
    pollMaxMs: 20,
  };
  const files = (await listDay(root, DATE)).sealed;
  return {
    /** `syncDay` of the day through this stand-in's task, with `more` options. */
    sync: (more: Partial<SyncOptions> = {}) =>
      syncDay({ root, destination: dest, date: DATE, storage, datasync, now: LATER, ...more }),
    root,
    bucket,
    dest,
    ds,
    datasync,
    files,
    cleanup: async () => {
      await ds.stop();
      await remove();
    },
  };
}

describe("sync run with DataSync", () => {
  it("set-up creates the locations and a task with the options the sync needs", async () => {
    const st = await stage();
    try {
      const dry = await setupDataSync({
        efsFileSystemArn: FS_ARN,
        subnetArn: "s",
        securityGroupArns: ["g"],
        destination: st.dest,
        bucketAccessRoleArn: "r",
        dryRun: true,
      });
      expect(dry.taskArn).toBeNull();
      expect(dry.requests.map((r) => r.operation)).toEqual([
        "CreateLocationEfs",
        "CreateLocationS3",
        "CreateTask",
      ]);
      const create = st.ds.calls.find((c) => c.operation === "CreateTask")!;
      expect(create.input).toMatchObject({
        Options: { TransferMode: "CHANGED", VerifyMode: "ONLY_FILES_TRANSFERRED" },
      });
    } finally {
      await st.cleanup();
    }
  });

  it("copies a clean day, proves it, writes the manifest; a second run does nothing", async () => {
    const st = await stage();
    try {
      const statuses: string[] = [];
      const result = await st.sync({ datasync: { ...st.datasync, onStatus: (s) => statuses.push(s) } });
      expect(result.status).toBe("verified");
      expect(result.datasync).toMatchObject({ attempts: 1, adopted: false, filesTransferred: 4 });
      expect(statuses.at(-1)).toBe("SUCCESS");
      expect(result.repairs).toEqual([]);
      // The DataSync run was limited to the day, without open files.
      const start = st.ds.calls.find((c) => c.operation === "StartTaskExecution")!;
      expect(start.input).toMatchObject({
        Includes: [{ FilterType: "SIMPLE_PATTERN", Value: `/${DATE}` }],
        Excludes: [{ FilterType: "SIMPLE_PATTERN", Value: "*.open" }],
      });
      const again = await st.sync();
      expect(again.status).toBe("already-verified");
      expect(st.ds.executions()).toHaveLength(1);
    } finally {
      await st.cleanup();
    }
  });

  it("a file the recorder set aside is copied and proven with the day, and left out of the manifest", async () => {
    const st = await stage();
    try {
      const aside = `${DATE}/okx/okx-2024-08-08T05.pod-a.tape.unreadable-1`;
      await writeFile(join(st.root, aside), "bytes no reader could use");
      const result = await st.sync();
      expect(result.status).toBe("verified");
      expect(result.verify!.other).toEqual([aside]);
      expect(result.verify!.files.find((f) => f.file === aside)).toMatchObject({
        verdict: "ok",
        method: "checksum",
      });
      const text = await getSmallObject(
        storage,
        { bucket: st.bucket, key: `ticks/${DATE}/_MANIFEST.json` },
        1 << 20,
      );
      const manifest = JSON.parse(Buffer.from(text!).toString()) as Manifest;
      expect(manifest.files.map((f) => f.path)).toEqual(st.files.map((f) => f.relative));
    } finally {
      await st.cleanup();
    }
  });

  it("the default verify catches a byte flipped in transit without reading the object", async () => {
    const st = await stage();
    try {
      st.ds.inject({ kind: "flipByte", file: st.files[1]!.relative, offset: 500 });
      const runner = await DataSyncRunner.create(st.datasync);
      await runner.run({ includes: [`/${DATE}`], excludes: ["*.open"] });
      runner.close();
      const report = await verifyDay({ root: st.root, destination: st.dest, date: DATE, storage });
      expect(report.files.map((f) => f.verdict)).toEqual(["ok", "checksum-differs", "ok", "ok"]);
      // Only the intact files' 71-byte tails were read: the flipped object was judged by its stored checksum.
      expect(report.s3.bytesFetched).toBe(3 * 71);
      expect(report.s3.gets).toBe(3);
    } finally {
      await st.cleanup();
    }
  });

  const faults: [string, (files: { relative: string }[]) => DataSyncFault, string][] = [
    ["a file skipped", (f) => ({ kind: "skipFile", file: f[2]!.relative }), "missing"],
    ["a file truncated", (f) => ({ kind: "truncateFile", file: f[0]!.relative, bytes: 10 }), "size-differs"],
    [
      "a byte flipped in transit",
      (f) => ({ kind: "flipByte", file: f[3]!.relative, offset: 100 }),
      "checksum-differs",
    ],
  ];
  for (const [name, fault, verdict] of faults) {
    it(`${name}: found by verify, copied again by a DataSync run of that file, proven`, async () => {
      const st = await stage();
      try {
        const f = fault(st.files);
        st.ds.inject(f);
        const result = await st.sync();
        expect(result.status).toBe("verified");
        expect(result.repairs).toHaveLength(1);
        const file = (f as { file: string }).file;
        expect(result.repairs[0]).toMatchObject({
          method: "datasync",
          files: [file],
          found: [{ file, verdict }],
        });
        // The repair ran DataSync on exactly that file, copying it whatever the destination held.
        const repair = st.ds.calls.filter((c) => c.operation === "StartTaskExecution")[1]!;
        expect(repair.input).toMatchObject({
          Includes: [{ Value: `/${file}` }],
          OverrideOptions: { TransferMode: "ALL" },
        });
        expect(result.verify!.counts.ok).toBe(4);
        expect(result.manifest).not.toBeNull();
      } finally {
        await st.cleanup();
      }
    });
  }

  it("repairs by direct upload when asked", async () => {
    const st = await stage();
    try {
      st.ds.inject({ kind: "truncateFile", file: st.files[1]!.relative, bytes: 1 });
      const result = await st.sync({ repair: "upload", uploadAlgorithm: "CRC32" });
      expect(result.status).toBe("verified");
      expect(result.repairs[0]).toMatchObject({ method: "upload", files: [st.files[1]!.relative] });
      expect(st.ds.executions()).toHaveLength(1);
    } finally {
      await st.cleanup();
    }
  });

  it("retries an ERROR result, and gives up after the limit", async () => {
    const st = await stage();
    try {
      st.ds.inject({
        kind: "error",
        errorCode: "InternalError",
        errorDetail: "transfer failed",
        afterFiles: 1,
      });
      const ok = await st.sync();
      expect(ok.status).toBe("verified");
      expect(ok.datasync!.attempts).toBe(2);

      const st2 = await stage();
      try {
        st2.ds.inject({ kind: "error", errorCode: "InternalError", errorDetail: "disk", executions: 3 });
        await expect(st2.sync()).rejects.toMatchObject({
          code: "E_TAPE_SYNC",
          message: expect.stringMatching(/ERROR \(InternalError: disk\) after 3 tries/),
        });
      } finally {
        await st2.cleanup();
      }
    } finally {
      await st.cleanup();
    }
  });

  it("rides out throttling", async () => {
    const st = await stage();
    try {
      st.ds.inject({ kind: "throttle", operation: "DescribeTaskExecution", calls: 3 });
      st.ds.inject({ kind: "throttle", operation: "StartTaskExecution", calls: 1 });
      const result = await st.sync();
      expect(result.status).toBe("verified");
      expect(st.ds.calls.filter((c) => c.throttled)).toHaveLength(4);
    } finally {
      await st.cleanup();
    }
  });

  it("cancels an execution stuck in QUEUED at the time limit, and on SIGTERM", async () => {
    const st = await stage();
    try {
      st.ds.inject({ kind: "stuckQueued" });
      await expect(st.sync({ datasync: { ...st.datasync, timeoutMs: 300 } })).rejects.toMatchObject({
        code: "E_TAPE_SYNC",
        message: expect.stringMatching(/still QUEUED at the time limit: cancelled/),
      });
      await st.ds.idle();
      expect(st.ds.executions()[0]!.status).toBe("ERROR");

      st.ds.inject({ kind: "stuckQueued" });
      const controller = new AbortController();
      const run = st.sync({ datasync: { ...st.datasync, signal: controller.signal } });
      setTimeout(() => controller.abort(), 100);
      await expect(run).rejects.toMatchObject({
        code: "E_TAPE_SYNC",
        message: expect.stringMatching(/cancelled/),
      });
      await st.ds.idle();
      expect(st.ds.executions()[1]!.status).toBe("ERROR");
      expect(st.ds.calls.filter((c) => c.operation === "CancelTaskExecution")).toHaveLength(2);
    } finally {
      await st.cleanup();
    }
  });

  it("the run's own signal (SIGTERM in the CLI) cancels the DataSync execution and stops before the manifest", async () => {
    const st = await stage();
    try {
      st.ds.inject({ kind: "stuckQueued" });
      const controller = new AbortController();
      const run = st.sync({ signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      await expect(run).rejects.toMatchObject({
        code: "E_TAPE_SYNC",
        message: expect.stringMatching(/cancelled/),
      });
      await st.ds.idle();
      expect(st.ds.executions()[0]!.status).toBe("ERROR");
      // Already stopped: nothing is started, verified or written.
      await expect(
        syncDay({
          root: st.root,
          destination: st.dest,
          date: DATE,
          storage,
          signal: controller.signal,
          now: LATER,
        }),
      ).rejects.toMatchObject({
        code: "E_TAPE_SYNC",
        message: expect.stringMatching(/stopped before the copy/),
      });
      expect(st.ds.executions()).toHaveLength(1);
      await expect(
        verifyDay({ root: st.root, destination: st.dest, date: DATE, storage, signal: controller.signal }),
      ).rejects.toMatchObject({ code: "E_TAPE_SYNC" });
    } finally {
      await st.cleanup();
    }
  });

  it("adopts an execution of the same day already under way instead of starting a second", async () => {
    const st = await stage();
    try {
      const client = new DataSyncClient(st.ds.clientConfig());
      await client.send(
        new StartTaskExecutionCommand({
          TaskArn: st.datasync.taskArn,
          Includes: [{ FilterType: "SIMPLE_PATTERN", Value: `/${DATE}` }],
          Excludes: [{ FilterType: "SIMPLE_PATTERN", Value: "*.open" }],
        }),
      );
      client.destroy();
      const result = await st.sync();
      expect(result.status).toBe("verified");
      expect(result.datasync!.adopted).toBe(true);
      expect(st.ds.executions()).toHaveLength(1);
    } finally {
      await st.cleanup();
    }
  });
});
