import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  CancelTaskExecutionCommand,
  CreateLocationEfsCommand,
  CreateLocationS3Command,
  CreateTaskCommand,
  DataSyncClient,
  DescribeLocationEfsCommand,
  DescribeLocationS3Command,
  DescribeTaskCommand,
  DescribeTaskExecutionCommand,
  type DescribeTaskExecutionCommandOutput,
  InvalidRequestException,
  ListLocationsCommand,
  ListTaskExecutionsCommand,
  ListTasksCommand,
  type Options,
  StartTaskExecutionCommand,
  type StartTaskExecutionCommandInput,
} from "@aws-sdk/client-datasync";
import {
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { crc32 } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataSyncEmulator, type DataSyncEmulatorOptions } from "../support/datasync-emulator.js";
import { PathFilter } from "../support/datasync-filters.js";
import { S3Emulator } from "../support/s3-emulator.js";

const FS_ARN = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0";
const BUCKET = "tape";
const DAY = "2026-11-24";
const FILES: Record<string, number> = {
  [`${DAY}/binance/binance-${DAY}T00.host-a.tape`]: 4000,
  [`${DAY}/binance/binance-${DAY}T01.host-a.tape`]: 3000,
  [`${DAY}/okx/okx-${DAY}T00.host-a.tape`]: 2500,
  [`${DAY}/okx/okx-${DAY}T01.host-a.tape.open`]: 1000,
  "2026-11-25/binance/binance-2026-11-25T00.host-a.tape": 1500,
};
const SEALED = Object.keys(FILES).filter((p) => p.startsWith(DAY) && !p.endsWith(".open"));
const DAY_FILTERS = {
  Includes: [{ FilterType: "SIMPLE_PATTERN" as const, Value: `/${DAY}` }],
  Excludes: [{ FilterType: "SIMPLE_PATTERN" as const, Value: "*.open" }],
};

let s3e: S3Emulator;
let root: string;
let prefixes = 0;
const emulators: DataSyncEmulator[] = [];

function crc32Of(bytes: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(bytes) >>> 0);
  return out.toString("base64");
}

async function source(path: string): Promise<Buffer> {
  return readFile(join(root, path));
}

async function startEmulator(options: Partial<DataSyncEmulatorOptions> = {}): Promise<DataSyncEmulator> {
  const emulator = await DataSyncEmulator.start({
    efs: { [FS_ARN]: root },
    s3: s3e.client,
    phaseMs: 5,
    ...options,
  });
  emulators.push(emulator);
  return emulator;
}

interface Setup {
  client: DataSyncClient;
  taskArn: string;
  prefix: string;
}

/** An EFS location (a subdirectory of the source root), an S3 location at a fresh prefix, and a task. */
async function setup(
  emulator: DataSyncEmulator,
  task: {
    Options?: Options;
    Includes?: typeof DAY_FILTERS.Includes;
    Excludes?: typeof DAY_FILTERS.Excludes;
  } = {},
  efsSubdirectory = "/",
  clientOptions: { maxAttempts?: number } = {},
): Promise<Setup> {
  const client = new DataSyncClient({ ...emulator.clientConfig(), ...clientOptions });
  const prefix = `run-${++prefixes}/`;
  const efs = await client.send(
    new CreateLocationEfsCommand({
      EfsFilesystemArn: FS_ARN,
      Subdirectory: efsSubdirectory,
      Ec2Config: {
        SubnetArn: "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-0123456789abcdef0",
        SecurityGroupArns: ["arn:aws:ec2:us-east-1:111122223333:security-group/sg-0123456789abcdef0"],
      },
    }),
  );
  const s3 = await client.send(
    new CreateLocationS3Command({
      S3BucketArn: `arn:aws:s3:::${BUCKET}`,
      Subdirectory: `/${prefix}`,
      S3Config: { BucketAccessRoleArn: "arn:aws:iam::111122223333:role/datasync" },
    }),
  );
  const { TaskArn } = await client.send(
    new CreateTaskCommand({
      SourceLocationArn: efs.LocationArn,
      DestinationLocationArn: s3.LocationArn,
      Name: `ticktape-${prefix}`,
      CloudWatchLogGroupArn: "arn:aws:logs:us-east-1:111122223333:log-group:/ticktape/datasync:*",
      ...task,
    }),
  );
  return { client, taskArn: TaskArn!, prefix };
}

async function start(s: Setup, input: Omit<StartTaskExecutionCommandInput, "TaskArn"> = {}): Promise<string> {
  const { TaskExecutionArn } = await s.client.send(
    new StartTaskExecutionCommand({ TaskArn: s.taskArn, ...input }),
  );
  return TaskExecutionArn!;
}

async function describe_(s: Setup, arn: string): Promise<DescribeTaskExecutionCommandOutput> {
  return s.client.send(new DescribeTaskExecutionCommand({ TaskExecutionArn: arn }));
}

/** Polls until the execution ends; returns the last description and the distinct statuses seen, in order. */
async function finish(s: Setup, arn: string, pollMs = 2) {
  const seen: string[] = [];
  for (;;) {
    const d = await describe_(s, arn);
    if (seen.at(-1) !== d.Status) seen.push(d.Status!);
    if (d.Status === "SUCCESS" || d.Status === "ERROR") return { d, seen };
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function keys(prefix: string): Promise<string[]> {
  const out = await s3e.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
}

async function head(key: string) {
  return s3e.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: "ENABLED" }));
}

async function body(key: string): Promise<Buffer> {
  const out = await s3e.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

beforeAll(async () => {
  s3e = await S3Emulator.start();
  await s3e.createBucket(BUCKET);
  root = await mkdtemp(join(tmpdir(), "ticktape-datasync-"));
  for (const [path, size] of Object.entries(FILES)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), randomBytes(size));
  }
});

afterAll(async () => {
  for (const e of emulators) await e.stop();
  await s3e?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe("filters", () => {
  it("an include of a day takes that folder and everything below; an exclude of *.open every .open file", () => {
    const f = new PathFilter(DAY_FILTERS.Includes, DAY_FILTERS.Excludes);
    expect(f.selects(`${DAY}/binance/x.tape`)).toBe(true);
    expect(f.selects(`/${DAY}/okx/deep/y.tape`)).toBe(true);
    expect(f.selects(`${DAY}/okx/y.tape.open`)).toBe(false);
    expect(f.selects("2026-11-25/binance/x.tape")).toBe(false);
    expect(f.selects(`${DAY}0/binance/x.tape`)).toBe(false);
    const several = new PathFilter([{ FilterType: "SIMPLE_PATTERN", Value: "/a|/b/" }], undefined);
    expect(["a/1", "b/2", "c/3", "ab/4"].filter((p) => several.selects(p))).toEqual(["a/1", "b/2"]);
    const bare = new PathFilter(undefined, [{ FilterType: "SIMPLE_PATTERN", Value: "tmp" }]);
    expect(["x/tmp/1", "tmp", "x/tmpfile"].filter((p) => bare.selects(p))).toEqual(["x/tmpfile"]);
  });
});

describe("DataSync emulator driven by @aws-sdk/client-datasync", () => {
  it("runs an execution through every status to SUCCESS and copies the day's sealed files", async () => {
    const emulator = await startEmulator({ phaseMs: 60 });
    const s = await setup(emulator, { Options: { VerifyMode: "ONLY_FILES_TRANSFERRED", LogLevel: "BASIC" } });
    const arn = await start(s, DAY_FILTERS);
    expect(arn).toMatch(
      /^arn:aws:datasync:us-east-1:111122223333:task\/task-[0-9a-f]{17}\/execution\/exec-[0-9a-f]{17}$/,
    );
    const running = await s.client.send(new DescribeTaskCommand({ TaskArn: s.taskArn }));
    expect(["QUEUED", "RUNNING"]).toContain(running.Status);
    expect(running.CurrentTaskExecutionArn).toBe(arn);

    const { d, seen } = await finish(s, arn);
    expect(seen).toEqual(["QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING", "SUCCESS"]);
    expect(emulator.execution(arn)!.history).toEqual(seen);
    expect(d.Result).toMatchObject({
      PrepareStatus: "SUCCESS",
      TransferStatus: "SUCCESS",
      VerifyStatus: "SUCCESS",
    });
    expect(d.Result!.ErrorCode).toBeUndefined();
    const bytes = SEALED.reduce((n, p) => n + FILES[p]!, 0);
    expect(d).toMatchObject({
      EstimatedFilesToTransfer: 3,
      EstimatedBytesToTransfer: bytes,
      FilesTransferred: 3,
      BytesTransferred: bytes,
      BytesWritten: bytes,
      FilesVerified: 3,
      FilesSkipped: 0,
      Includes: DAY_FILTERS.Includes,
      Excludes: DAY_FILTERS.Excludes,
    });
    expect(d.Options).toMatchObject({
      TransferMode: "CHANGED",
      VerifyMode: "ONLY_FILES_TRANSFERRED",
      LogLevel: "BASIC",
    });
    expect(d.StartTime).toBeInstanceOf(Date);
    expect(Math.abs(d.StartTime!.getTime() - Date.now())).toBeLessThan(30_000);
    expect(d.EndTime!.getTime()).toBeGreaterThanOrEqual(d.StartTime!.getTime());

    // Filters: exactly the day's sealed files, each with the CRC32 of its bytes stored by S3.
    expect(await keys(s.prefix)).toEqual([...SEALED].sort());
    for (const path of SEALED) {
      const h = await head(s.prefix + path);
      expect(h.ContentLength).toBe(FILES[path]);
      expect(h.ChecksumCRC32).toBe(crc32Of(await source(path)));
      expect(h.Metadata?.["file-mtime"]).toMatch(/^\d+ns$/);
    }

    const task = await s.client.send(new DescribeTaskCommand({ TaskArn: s.taskArn }));
    expect(task).toMatchObject({
      Status: "AVAILABLE",
      CurrentTaskExecutionArn: arn,
      Name: `ticktape-${s.prefix}`,
    });
    expect(task.CreationTime).toBeInstanceOf(Date);
    const list = await s.client.send(new ListTaskExecutionsCommand({ TaskArn: s.taskArn }));
    expect(list.TaskExecutions).toEqual([{ TaskExecutionArn: arn, Status: "SUCCESS", TaskMode: "BASIC" }]);
    const tasks = await s.client.send(new ListTasksCommand({}));
    expect(tasks.Tasks?.map((t) => t.TaskArn)).toContain(s.taskArn);
    const locations = await s.client.send(new ListLocationsCommand({}));
    expect(locations.Locations?.map((l) => l.LocationUri).sort()).toEqual([
      "efs://us-east-1.fs-0123456789abcdef0/",
      `s3://${BUCKET}/${s.prefix}`,
    ]);
    const efsArn = task.SourceLocationArn!;
    expect(efsArn).toMatch(/^arn:aws:datasync:us-east-1:111122223333:location\/loc-[0-9a-f]{17}$/);
    const efs = await s.client.send(new DescribeLocationEfsCommand({ LocationArn: efsArn }));
    expect(efs.Ec2Config?.SubnetArn).toContain("subnet-");
    const s3 = await s.client.send(
      new DescribeLocationS3Command({ LocationArn: task.DestinationLocationArn }),
    );
    expect(s3.LocationUri).toBe(`s3://${BUCKET}/${s.prefix}`);
    expect(emulator.calls.map((c) => c.operation)).toContain("StartTaskExecution");
    expect(emulator.calls.find((c) => c.operation === "StartTaskExecution")?.input["Includes"]).toEqual(
      DAY_FILTERS.Includes,
    );
  });

  it("answers errors the SDK recognises (InvalidRequestException)", async () => {
    const emulator = await startEmulator();
    const s = await setup(emulator);
    const err = await s.client
      .send(new DescribeTaskCommand({ TaskArn: `${s.taskArn.slice(0, -3)}fff` }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestException);
    expect((err as Error).message).toMatch(/not found/);
    const bad = await s.client
      .send(new StartTaskExecutionCommand({ TaskArn: s.taskArn, Includes: [{ Value: "/x" }] }))
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidRequestException);
  });

  it("in CHANGED mode copies nothing the second time, then only what changed; ALL copies everything", async () => {
    const emulator = await startEmulator();
    const s = await setup(emulator, DAY_FILTERS);
    expect((await finish(s, await start(s))).d.FilesTransferred).toBe(3);

    const again = await start(s);
    const { d } = await finish(s, again);
    expect(d).toMatchObject({
      Status: "SUCCESS",
      FilesTransferred: 0,
      EstimatedFilesToTransfer: 0,
      FilesVerified: 3,
    });
    expect(emulator.execution(again)!.copied).toEqual([]);
    expect(emulator.execution(again)!.unchanged.sort()).toEqual([...SEALED].sort());

    const touched = SEALED[1]!;
    await utimes(join(root, touched), new Date(), new Date(Date.now() + 5000));
    const third = await start(s);
    expect((await finish(s, third)).d.FilesTransferred).toBe(1);
    expect(emulator.execution(third)!.copied.map((c) => c.path)).toEqual([touched]);

    const all = await start(s, { OverrideOptions: { TransferMode: "ALL" } });
    expect((await finish(s, all)).d.FilesTransferred).toBe(3);
  });

  it("queues a second execution of a task until the first ends", async () => {
    const emulator = await startEmulator({ phaseMs: 30 });
    const s = await setup(emulator, DAY_FILTERS);
    const first = await start(s);
    const second = await start(s);
    let overlapped = false;
    let sawQueuedWhileFirstRan = false;
    for (;;) {
      // The second first: if the first is still running afterwards, it was running when the second was seen.
      const b = await describe_(s, second);
      const a = await describe_(s, first);
      const firstDone = a.Status === "SUCCESS" || a.Status === "ERROR";
      if (!firstDone && b.Status !== "QUEUED") overlapped = true;
      if (a.Status === "TRANSFERRING" && b.Status === "QUEUED") sawQueuedWhileFirstRan = true;
      if (b.Status === "SUCCESS" || b.Status === "ERROR") break;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(overlapped).toBe(false);
    expect(sawQueuedWhileFirstRan).toBe(true);
    expect(emulator.execution(first)!.status).toBe("SUCCESS");
    expect(emulator.execution(second)!.status).toBe("SUCCESS");
    // The second one listed after the first had copied: nothing left to copy.
    expect(emulator.execution(second)!.copied).toEqual([]);
  });

  it("cancels a running execution without leaving a half-written object", async () => {
    // A client that holds the second part of a multipart upload until the test has cancelled.
    const s3 = new S3Client({ ...s3Options(), maxAttempts: 1 });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let reachedPart2!: () => void;
    const atPart2 = new Promise<void>((r) => {
      reachedPart2 = r;
    });
    s3.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { PartNumber?: number }).PartNumber === 2) {
          reachedPart2();
          await gate;
        }
        return next(args);
      },
      { step: "initialize" },
    );
    const big = "big/cancel.tape";
    await mkdir(join(root, "big"), { recursive: true });
    await writeFile(join(root, big), randomBytes(11 * 1024 * 1024));
    try {
      const emulator = await startEmulator({ s3, partBytes: 5 * 1024 * 1024 });
      const s = await setup(emulator, { Includes: [{ FilterType: "SIMPLE_PATTERN", Value: "/big" }] });
      const arn = await start(s);
      await atPart2;
      await s.client.send(new CancelTaskExecutionCommand({ TaskExecutionArn: arn }));
      expect((await describe_(s, arn)).Status).toBe("CANCELLING");
      release();
      const { d } = await finish(s, arn);
      expect(d.Status).toBe("ERROR");
      expect(d.Result).toMatchObject({
        ErrorCode: "OpCancelled",
        TransferStatus: "ERROR",
        VerifyStatus: "PENDING",
      });
      expect(await keys(s.prefix)).toEqual([]);
      const again = await s.client
        .send(new CancelTaskExecutionCommand({ TaskExecutionArn: arn }))
        .catch((e: unknown) => e);
      expect(again).toBeInstanceOf(InvalidRequestException);
    } finally {
      release();
      await rm(join(root, "big"), { recursive: true, force: true });
    }
  });

  it("uploads a large file in parts: a COMPOSITE checksum with per-part values", async () => {
    const emulator = await startEmulator({ partBytes: 5 * 1024 * 1024 });
    const path = "multi/m.tape";
    const data = randomBytes(12 * 1024 * 1024 + 123);
    await mkdir(join(root, "multi"), { recursive: true });
    await writeFile(join(root, path), data);
    try {
      const s = await setup(emulator, { Includes: [{ FilterType: "SIMPLE_PATTERN", Value: "/multi" }] });
      expect((await finish(s, await start(s))).d.Status).toBe("SUCCESS");
      const key = s.prefix + path;
      const slices = [0, 1, 2].map((i) => data.subarray(i * 5 * 1024 * 1024, (i + 1) * 5 * 1024 * 1024));
      const partCrcs = slices.map(crc32Of);
      const composite = crc32Of(Buffer.concat(partCrcs.map((c) => Buffer.from(c, "base64"))));
      const h = await head(key);
      expect(h.ContentLength).toBe(data.length);
      expect(h.ChecksumType).toBe("COMPOSITE");
      expect(h.ChecksumCRC32).toBe(`${composite}-3`);
      const attrs = await s3e.client.send(
        new GetObjectAttributesCommand({
          Bucket: BUCKET,
          Key: key,
          ObjectAttributes: ["ObjectParts", "Checksum"],
        }),
      );
      expect(attrs.ObjectParts?.TotalPartsCount).toBe(3);
      expect(attrs.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32])).toEqual([
        [1, 5 * 1024 * 1024, partCrcs[0]],
        [2, 5 * 1024 * 1024, partCrcs[1]],
        [3, 2 * 1024 * 1024 + 123, partCrcs[2]],
      ]);
      expect((await body(key)).equals(data)).toBe(true);
      // The mtime kept in the metadata of a multipart object too: CHANGED leaves it alone next time.
      expect((await finish(s, await start(s))).d.FilesTransferred).toBe(0);
    } finally {
      await rm(join(root, "multi"), { recursive: true, force: true });
    }
  });

  it("sends SHA-256 checksums when asked to", async () => {
    const emulator = await startEmulator({ checksumAlgorithm: "SHA256" });
    const s = await setup(emulator, DAY_FILTERS);
    expect((await finish(s, await start(s))).d.Status).toBe("SUCCESS");
    const path = SEALED[0]!;
    const h = await head(s.prefix + path);
    expect(h.ChecksumSHA256).toBe(
      createHash("sha256")
        .update(await source(path))
        .digest("base64"),
    );
    expect(h.ChecksumCRC32).toBeUndefined();
  });
});

describe("injected faults", () => {
  let emulator: DataSyncEmulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });

  it("a skipped file: SUCCESS without it", async () => {
    const s = await setup(emulator, DAY_FILTERS);
    const missed = SEALED[2]!;
    emulator.inject({ kind: "skipFile", file: `/${missed}` });
    const arn = await start(s);
    const { d } = await finish(s, arn);
    expect(d).toMatchObject({ Status: "SUCCESS", FilesTransferred: 2, EstimatedFilesToTransfer: 2 });
    expect(await keys(s.prefix)).toEqual(SEALED.filter((p) => p !== missed).sort());
    expect(emulator.execution(arn)!.missed).toEqual([missed]);
    expect(emulator.pendingFaults()).toEqual([]);
    // Used up: the next CHANGED run brings the missing file.
    expect((await finish(s, await start(s))).d.FilesTransferred).toBe(1);
    expect(await keys(s.prefix)).toEqual([...SEALED].sort());
  });

  it("a truncated file: uploaded short, with the checksum of what was sent", async () => {
    const s = await setup(emulator, DAY_FILTERS);
    const path = SEALED[0]!;
    emulator.inject({ kind: "truncateFile", file: (p) => p === path, bytes: 100 });
    const { d } = await finish(s, await start(s));
    expect(d.Status).toBe("SUCCESS");
    const src = await source(path);
    const h = await head(s.prefix + path);
    expect(h.ContentLength).toBe(src.length - 100);
    expect(h.ChecksumCRC32).toBe(crc32Of(src.subarray(0, src.length - 100)));
    expect(h.ChecksumCRC32).not.toBe(crc32Of(src));
    expect((await body(s.prefix + path)).equals(src.subarray(0, src.length - 100))).toBe(true);
    // The other files are intact.
    const other = SEALED[1]!;
    expect((await head(s.prefix + other)).ChecksumCRC32).toBe(crc32Of(await source(other)));
  });

  it("a byte flipped in transit: same size, the checksum S3 stores is of the flipped bytes", async () => {
    const s = await setup(emulator, DAY_FILTERS);
    const path = SEALED[1]!;
    emulator.inject({ kind: "flipByte", file: path, offset: 1234 });
    const { d } = await finish(s, await start(s));
    expect(d.Status).toBe("SUCCESS");
    const src = await source(path);
    const got = await body(s.prefix + path);
    expect(got.length).toBe(src.length);
    const differing = [...got.keys()].filter((i) => got[i] !== src[i]);
    expect(differing).toEqual([1234]);
    expect(got[1234]).toBe(src[1234]! ^ 0xff);
    const h = await head(s.prefix + path);
    expect(h.ChecksumCRC32).toBe(crc32Of(got));
    expect(h.ChecksumCRC32).not.toBe(crc32Of(src));
    // CHANGED compares size and mtime only, as DataSync does: the damage stays until a full copy.
    expect((await finish(s, await start(s))).d.FilesTransferred).toBe(0);
    await finish(s, await start(s, { OverrideOptions: { TransferMode: "ALL" } }));
    expect((await head(s.prefix + path)).ChecksumCRC32).toBe(crc32Of(src));
  });

  it("an execution stuck in QUEUED until cancelled", async () => {
    const s = await setup(emulator, DAY_FILTERS);
    emulator.inject({ kind: "stuckQueued", taskArn: s.taskArn });
    const arn = await start(s);
    await new Promise((r) => setTimeout(r, 200));
    expect((await describe_(s, arn)).Status).toBe("QUEUED");
    expect((await s.client.send(new DescribeTaskCommand({ TaskArn: s.taskArn }))).Status).toBe("QUEUED");
    await s.client.send(new CancelTaskExecutionCommand({ TaskExecutionArn: arn }));
    const { d } = await finish(s, arn);
    expect(d).toMatchObject({ Status: "ERROR", FilesTransferred: 0 });
    expect(d.Result?.ErrorCode).toBe("OpCancelled");
    expect(await keys(s.prefix)).toEqual([]);
    expect((await finish(s, await start(s))).d.Status).toBe("SUCCESS");
  });

  it("an ERROR result after part of the files", async () => {
    const s = await setup(emulator, DAY_FILTERS);
    emulator.inject({
      kind: "error",
      errorCode: "S3AccessDenied",
      errorDetail: "DataSync can't write to the bucket",
      afterFiles: 1,
    });
    const arn = await start(s);
    const { d, seen } = await finish(s, arn);
    expect(seen.at(-1)).toBe("ERROR");
    expect(d.Result).toMatchObject({
      PrepareStatus: "SUCCESS",
      TransferStatus: "ERROR",
      VerifyStatus: "PENDING",
      ErrorCode: "S3AccessDenied",
      ErrorDetail: "DataSync can't write to the bucket",
    });
    expect(d.FilesTransferred).toBe(1);
    expect(await keys(s.prefix)).toHaveLength(1);
    expect((await finish(s, await start(s))).d).toMatchObject({ Status: "SUCCESS", FilesTransferred: 2 });
  });

  it("throttling reaches the client as a ThrottlingException, and the SDK retries it", async () => {
    const s = await setup(emulator, DAY_FILTERS, "/", { maxAttempts: 1 });
    const arn = await start(s);
    emulator.inject({ kind: "throttle", operation: "DescribeTaskExecution", calls: 1 });
    const err = await describe_(s, arn).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "ThrottlingException", $metadata: { httpStatusCode: 400 } });
    expect(await describe_(s, arn)).toMatchObject({ TaskExecutionArn: arn });

    emulator.inject({ kind: "throttle", calls: 1 });
    expect(await s.client.send(new ListTasksCommand({})).catch((e: unknown) => e)).toMatchObject({
      name: "ThrottlingException",
    });
    const throttled = emulator.calls.filter((c) => c.throttled).map((c) => c.operation);
    expect(throttled).toEqual(["DescribeTaskExecution", "ListTasks"]);

    // With retries on, a throttled call succeeds on the next attempt.
    const retrying = new DataSyncClient({ ...emulator.clientConfig(), maxAttempts: 3 });
    emulator.inject({ kind: "throttle", operation: "DescribeTaskExecution", calls: 1 });
    const before = emulator.calls.length;
    expect(await retrying.send(new DescribeTaskExecutionCommand({ TaskExecutionArn: arn }))).toMatchObject({
      TaskExecutionArn: arn,
    });
    expect(emulator.calls.slice(before).map((c) => c.throttled)).toEqual([true, false]);
    retrying.destroy();
    await finish(s, arn);
  });
});

function s3Options() {
  return {
    endpoint: s3e.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const,
  };
}
