import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage } from "../../src/s3/index.js";
import { getSmallObject, putObject } from "../../src/s3/object-ops.js";
import { listDay } from "../../src/sync/index.js";
import { tempDir } from "../reader/helpers.js";
import { DataSyncEmulator } from "../support/datasync-emulator.js";
import { S3Emulator } from "../support/s3-emulator.js";
import { createTask, DATE, FS_ARN, writeDay } from "./helpers.js";

// The built command (npm test builds first), as a CronJob runs it: a child process, with the local stand-ins.
const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");

function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          TICKTAPE_DATASYNC_POLL_MS: "5",
        },
      },
      (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let s3: S3Emulator;
let ds: DataSyncEmulator;
let root: string;
let remove: () => Promise<void>;
let taskArn: string;
const dest = "s3://cli-sync/ticks";

beforeAll(async () => {
  ({ dir: root, remove } = await tempDir());
  await writeDay(root, ["binance", "okx"], 2);
  s3 = await S3Emulator.start();
  await s3.createBucket("cli-sync");
  ds = await DataSyncEmulator.start({ efs: { [FS_ARN]: root }, s3: s3.client, phaseMs: 5 });
  taskArn = await createTask(ds, dest);
}, 60_000);
afterAll(async () => {
  await ds?.stop();
  await s3?.stop();
  await remove?.();
});

describe("ticktape sync and prune", () => {
  it("sync run proves the day (exit 0, JSON, metrics), verify finds a damaged copy (exit 1), prune keeps it", async () => {
    const s3Args = ["--s3-endpoint", s3.endpoint, "--s3-path-style", "--s3-checksums", "when_required"];
    const metrics = join(root, "sync.prom");
    const first = await run([
      "sync",
      "run",
      "--root",
      root,
      "--dest",
      dest,
      "--date",
      DATE,
      "--task",
      taskArn,
      "--datasync-endpoint",
      ds.endpoint,
      "--metrics",
      metrics,
      "--json",
      ...s3Args,
    ]);
    expect(first.stderr).toMatch(/DataSync .* SUCCESS/);
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ status: "verified", files: 4 });
    const prom = await readFile(metrics, "utf8");
    expect(prom).toMatch(/^ticktape_sync_success\{date="2024-08-08"\} 1$/m);
    expect(prom).toMatch(/^ticktape_sync_verified_files\{date="2024-08-08"\} 4$/m);
    const lastSuccess = /^ticktape_sync_last_success_timestamp_seconds (\d+)$/m.exec(prom)?.[1];
    expect(Number(lastSuccess)).toBeGreaterThan(Date.now() / 1000 - 600);

    // A run that cannot finish (today is not over) still writes metrics, and keeps the last success time.
    const today = new Date().toISOString().slice(0, 10);
    const failed = await run([
      "sync",
      "run",
      "--root",
      root,
      "--dest",
      dest,
      "--date",
      today,
      "--metrics",
      metrics,
      ...s3Args,
    ]);
    expect(failed.status).toBe(2);
    expect(failed.stderr).toMatch(/E_TAPE_SYNC: .*is not over yet/);
    const after = await readFile(metrics, "utf8");
    expect(after).toMatch(new RegExp(`^ticktape_sync_error\\{date="${today}"\\} 1$`, "m"));
    expect(after).toMatch(new RegExp(`^ticktape_sync_success\\{date="${today}"\\} 0$`, "m"));
    expect(after).toMatch(new RegExp(`^ticktape_sync_last_success_timestamp_seconds ${lastSuccess}$`, "m"));

    // The proven day, replayed from S3 as far as its manifest vouches for it.
    const replayed = await run(["head", "--root", dest, "--require-manifest", "-n", "3", ...s3Args]);
    expect(replayed.status).toBe(0);
    expect(replayed.stdout.trim().split("\n")).toHaveLength(3);
    // book from S3 says what S3 did, as replay does.
    const book = await run([
      "book",
      "--root",
      dest,
      "-e",
      "okx",
      "-s",
      "NONE",
      "--at",
      `${DATE}T00:30:00Z`,
      ...s3Args,
    ]);
    expect(book.status).toBe(0);
    expect(book.stderr).toMatch(/^s3: \d+ GETs, \d+ HEADs, \d+ LISTs/m);
    const badEndpoint = await run(["head", "--root", dest, "--s3-endpoint", "notaurl"]);
    expect(badEndpoint.status).toBe(2);
    expect(badEndpoint.stderr).toMatch(/--s3-endpoint notaurl: give a URL/);
    const noRoot = await run(["head", join(root, DATE, "okx", "x.tape"), "--require-manifest"]);
    expect(noRoot.status).toBe(2);
    expect(noRoot.stderr).toMatch(/--require-manifest reads the day folders of --root/);

    const again = await run(["sync", "run", "--root", root, "--dest", dest, "--date", DATE, ...s3Args]);
    expect(again.status).toBe(0);
    // The last line says what happened (the manifest's address comes before it).
    const lines = again.stdout.trim().split("\n");
    expect(lines.at(-1)).toMatch(/already proven: nothing to do/);
    expect(lines.at(-2)).toMatch(/^manifest s3:\/\//);

    const ok = await run(["sync", "verify", "--root", root, "--dest", dest, "--date", DATE, ...s3Args]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/PROVEN: 4 of 4 files ok/);

    // Damage one copy: verify alerts, prune keeps the day.
    const file = (await listDay(root, DATE)).sealed[0]!;
    const storage = await S3Storage.create(s3.options());
    const bytes = await readFile(file.path);
    bytes[200] = bytes[200]! ^ 1;
    await putObject(storage, { bucket: "cli-sync", key: `ticks/${file.relative}` }, bytes, {
      algorithm: "CRC32",
    });
    storage.close();
    const bad = await run([
      "sync",
      "verify",
      "--root",
      root,
      "--dest",
      dest,
      "--date",
      DATE,
      "--json",
      ...s3Args,
    ]);
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).files[0]).toMatchObject({
      verdict: "checksum-differs",
      file: file.relative,
    });
    const pruned = await run([
      "prune",
      "--root",
      root,
      "--dest",
      dest,
      "--keep-days",
      "2",
      "--json",
      ...s3Args,
    ]);
    expect(pruned.status).toBe(0);
    expect(JSON.parse(pruned.stdout)).toEqual([expect.objectContaining({ date: DATE, action: "kept" })]);
    expect((await listDay(root, DATE)).sealed).toHaveLength(4);
  }, 60_000);

  it("convert --require-manifest on worker threads refuses a file that is not the one the manifest lists", async () => {
    // The day's manifest (written to S3 by the first test) placed in the local day folder, and one local file
    // replaced by another tape: a local listing gives no sizes, so only the check on open can see it.
    const storage = await S3Storage.create(s3.options());
    const manifest = await getSmallObject(
      storage,
      { bucket: "cli-sync", key: `ticks/${DATE}/_MANIFEST.json` },
      1 << 20,
    );
    storage.close();
    const manifestPath = join(root, DATE, "_MANIFEST.json");
    await writeFile(manifestPath, manifest!);
    const [first, , third] = (await listDay(root, DATE)).sealed;
    const original = await readFile(first!.path);
    await writeFile(first!.path, await readFile(third!.path));
    const out = join(root, "converted");
    try {
      const r = await run([
        "convert",
        "--root",
        root,
        "--require-manifest",
        "--to",
        "ndjson",
        "--out",
        out,
        "--workers",
        "2",
      ]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        new RegExp(
          `E_TAPE_MANIFEST: .*${first!.relative.split("/").at(-1)!.replace(".", "\\.")}.*does not match`,
        ),
      );
    } finally {
      await writeFile(first!.path, original);
      await rm(manifestPath);
      await rm(out, { recursive: true, force: true });
    }
  });

  it("setup --dry-run prints the requests; bad input is a usage error", async () => {
    const dry = await run([
      "sync",
      "setup",
      "--efs",
      FS_ARN,
      "--subnet",
      "s",
      "--security-group",
      "g",
      "--dest",
      dest,
      "--bucket-role",
      "r",
      "--dry-run",
    ]);
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout).requests.map((r: { operation: string }) => r.operation)).toEqual([
      "CreateLocationEfs",
      "CreateLocationS3",
      "CreateTask",
    ]);
    const badDate = await run(["sync", "verify", "--root", root, "--dest", dest, "--date", "2024-13-01"]);
    expect(badDate.status).toBe(2);
    expect(badDate.stderr).toMatch(/E_TAPE_VALUE: .*not a date/);
    for (const command of [["sync"], ["sync", "run"], ["sync", "verify"], ["sync", "setup"], ["prune"]]) {
      const help = await run([...command, "--help"]);
      expect(help.stdout, command.join(" ")).toMatch(/Examples?( \([^)]*\))?:\n\s+ticktape /);
    }
  });
});
