/**
 * `ticktape sync run|verify|setup` and `ticktape prune`: the daily EFS → S3 copy, proven, and the retention that
 * relies on it (docs/SYNC.md, docs/OPERATIONS.md). The sync code is loaded on first use.
 */
import type { Command } from "commander";
import type { ChecksumAlgorithm } from "../src/s3/index.js";
import type { DataSyncOptions, PruneDay, SyncResult, VerifyReport } from "../src/sync/index.js";
import { addS3Options, type DatasetCliOptions, s3Options } from "./dataset-options.js";
import { formatBytes, formatCount, table, toJson, writeOut } from "./output.js";
import { progress } from "./progress.js";
import { usage } from "./usage.js";

interface SyncCliOptions extends DatasetCliOptions {
  root: string;
  dest: string;
  date?: string;
  json?: boolean;
  deep?: boolean;
  stateDir?: string;
  task?: string;
  datasyncEndpoint?: string;
  repair?: string;
  uploadChecksum?: string;
  grace?: string;
  force?: boolean;
  allowEmpty?: boolean;
  metrics?: string;
}

const EXIT =
  "\nExit codes: 0 the day is proven (or was already), 1 something is missing, different or not sealed (alert), 2 the command could not run.";

export function registerSync(program: Command): void {
  const sync = program
    .command("sync")
    .description(
      "copy a finished UTC day from EFS to S3 with AWS DataSync, prove the copy, write the day's manifest",
    )
    .addHelpText(
      "after",
      `
Examples:
  ticktape sync run --root /efs/ticks --dest s3://ticks-archive/v1 --task arn:aws:datasync:us-east-1:111122223333:task/task-0abc
  ticktape sync verify --root /efs/ticks --dest s3://ticks-archive/v1 --date 2026-11-24 --json
  ticktape sync setup --help        # the DataSync locations and task, created once`,
    );

  const run = sync
    .command("run")
    .description(
      "sync one day: check it is closed, run DataSync, verify, repair, verify again, write the manifest",
    )
    .option("--task <arn>", "the DataSync task (EFS → S3); without it files are uploaded directly")
    .option("--datasync-endpoint <url>", "another DataSync endpoint (a local stand-in)")
    .option("--repair <how>", "copy bad files again by datasync (default with --task) or upload")
    .option(
      "--upload-checksum <alg>",
      "checksum of direct uploads: CRC64NVME (default), CRC32C, CRC32, SHA256, SHA1",
    )
    .option(
      "--grace <duration>",
      "wait this long for .open files of the day to be sealed (e.g. 15m; default 0)",
    )
    .option(
      "--force",
      "prove the day again even when it has a manifest (deleted first; rewritten once the day is proven)",
    )
    .option("--allow-empty", "prove a day that has no files (default: no files fails the run)")
    .option("--metrics <file>", "write Prometheus metrics of the run to this file (node-exporter textfile)");
  common(run).addHelpText(
    "after",
    `${EXIT}\n\nExample (a CronJob after midnight UTC):\n  ticktape sync run --root /efs/ticks --dest s3://ticks-archive/v1 --task arn:aws:datasync:us-east-1:111122223333:task/task-0abc --metrics /metrics/ticktape-sync.prom`,
  );
  run.action(async (o: SyncCliOptions) => {
    const { metricsOf, metricsOfError, syncDay, writeMetrics } = await import("../src/sync/index.js");
    const date = o.date ?? yesterday();
    const started = performance.now();
    let result: SyncResult;
    try {
      result = await syncDay({
        root: o.root,
        destination: o.dest,
        date,
        s3: s3Options(o),
        ...(o.task !== undefined ? { datasync: dataSyncOptions(o) } : {}),
        ...(o.repair !== undefined ? { repair: repairMethod(o.repair) } : {}),
        ...(o.uploadChecksum !== undefined ? { uploadAlgorithm: await algorithm(o.uploadChecksum) } : {}),
        ...(o.grace !== undefined ? { graceMs: await durationMs(o.grace) } : {}),
        ...(o.deep ? { deep: true } : {}),
        ...(o.force ? { force: true } : {}),
        ...(o.allowEmpty ? { allowEmpty: true } : {}),
        ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}),
        signal: stopSignal(),
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
    } catch (err) {
      // The alert must see a run that could not finish, too.
      if (o.metrics !== undefined)
        await writeMetrics(o.metrics, metricsOfError(date, (performance.now() - started) / 1000));
      throw err;
    }
    if (o.metrics !== undefined) await writeMetrics(o.metrics, metricsOf(result));
    await writeOut(o.json ? `${toJson(result, 2)}\n` : describeSync(result));
    process.exitCode = result.status === "verified" || result.status === "already-verified" ? 0 : 1;
  });

  const verify = sync
    .command("verify")
    .description("prove a day's S3 copy against EFS without downloading it (stored checksums, tape tails)");
  common(verify).addHelpText(
    "after",
    `\nExit codes: 0 every copy proven, 1 a copy is missing or different, an .open file or an extra object, 2 the command could not run.\n\nExample:\n  ticktape sync verify --root /efs/ticks --dest s3://ticks-archive/v1 --date 2026-11-24 --json`,
  );
  verify.action(async (o: SyncCliOptions) => {
    const { verifyDay } = await import("../src/sync/index.js");
    const bar = progress(`verify ${o.date ?? yesterday()}`, process.stderr, (d, t) => `${d}/${t} files`);
    const report = await verifyDay({
      root: o.root,
      destination: o.dest,
      date: o.date ?? yesterday(),
      s3: s3Options(o),
      ...(o.deep ? { deep: true } : {}),
      ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}),
      onProgress: bar.update,
    });
    bar.finish();
    await writeOut(o.json ? `${toJson(report, 2)}\n` : describeVerify(report));
    process.exitCode = report.ok ? 0 : 1;
  });

  sync
    .command("setup")
    .description("create the DataSync EFS and S3 locations and the task the daily sync runs (or print them)")
    .requiredOption("--efs <arn>", "the EFS file system's ARN")
    .option("--efs-dir <path>", "the dataset root inside the file system", "/")
    .requiredOption("--subnet <arn>", "subnet ARN for the EFS mount target")
    .requiredOption("--security-group <arn...>", "security group ARNs")
    .requiredOption("--dest <s3url>", "destination s3://bucket/prefix")
    .requiredOption("--bucket-role <arn>", "IAM role DataSync assumes to write to the bucket")
    .option("--name <name>", "task name")
    .option("--log-group <arn>", "CloudWatch log group ARN for the task's logs")
    .option("--datasync-endpoint <url>", "another DataSync endpoint (a local stand-in)")
    .option("--dry-run", "print the requests, create nothing")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  ticktape sync setup --efs arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0abc --subnet arn:aws:ec2:us-east-1:111122223333:subnet/subnet-0abc --security-group arn:aws:ec2:us-east-1:111122223333:security-group/sg-0abc --dest s3://ticks-archive/v1 --bucket-role arn:aws:iam::111122223333:role/ticktape-datasync --dry-run",
    )
    .action(
      async (o: {
        efs: string;
        efsDir: string;
        subnet: string;
        securityGroup: string[];
        dest: string;
        bucketRole: string;
        name?: string;
        logGroup?: string;
        datasyncEndpoint?: string;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const { setupDataSync } = await import("../src/sync/setup.js");
        const result = await setupDataSync({
          efsFileSystemArn: o.efs,
          efsSubdirectory: o.efsDir,
          subnetArn: o.subnet,
          securityGroupArns: o.securityGroup,
          destination: o.dest,
          bucketAccessRoleArn: o.bucketRole,
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.logGroup !== undefined ? { cloudWatchLogGroupArn: o.logGroup } : {}),
          ...(o.datasyncEndpoint !== undefined ? { endpoint: o.datasyncEndpoint } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
        });
        if (o.json || o.dryRun) await writeOut(`${toJson(result, 2)}\n`);
        else
          await writeOut(
            `task ${result.taskArn}\n  source ${result.efsLocationArn}\n  destination ${result.s3LocationArn}\n`,
          );
      },
    );

  const pruneCmd = program
    .command("prune")
    .description("delete from EFS the days older than --keep-days whose S3 copy is proven by its manifest")
    .requiredOption("--root <dir>", "the dataset root on EFS")
    .requiredOption("--dest <s3url>", "where the days were synced: s3://bucket/prefix")
    .requiredOption("--keep-days <n>", "days kept on EFS, today included")
    .option("--dry-run", "say what would be deleted, delete nothing")
    .option("--state-dir <dir>", "where source checksums are kept (default <root>/.ticktape-sync)")
    .option("--json", "print one JSON array, a day per entry");
  addS3Options(pruneCmd).addHelpText(
    "after",
    "\nA day is deleted only when its manifest exists in S3, the files on EFS are exactly its files (sizes and CRC64NVME), and every S3 copy still matches; anything else is kept and reported.\nExit codes: 0 done (days may have been kept: see the report), 2 the command could not run.\n\nExample:\n  ticktape prune --root /efs/ticks --dest s3://ticks-archive/v1 --keep-days 14 --dry-run",
  );
  pruneCmd.action(
    async (
      o: DatasetCliOptions & {
        root: string;
        dest: string;
        keepDays: string;
        dryRun?: boolean;
        stateDir?: string;
        json?: boolean;
      },
    ) => {
      const { prune } = await import("../src/sync/index.js");
      const keepDays = Number(o.keepDays);
      const days = await prune({
        root: o.root,
        destination: o.dest,
        keepDays,
        s3: s3Options(o),
        ...(o.dryRun ? { dryRun: true } : {}),
        ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}),
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      await writeOut(o.json ? `${toJson(days, 2)}\n` : describePrune(days));
    },
  );
}

/** The options `sync run` and `sync verify` share. */
function common(cmd: Command): Command {
  cmd
    .requiredOption("--root <dir>", "the dataset root on EFS (<root>/<YYYY-MM-DD>/<exchange>/…)")
    .requiredOption("--dest <s3url>", "the S3 copy of the root: s3://bucket/prefix")
    .option("--date <YYYY-MM-DD>", "the UTC day (default: yesterday)")
    .option("--deep", "read every object in full and check every block CRC and the file digest")
    .option("--state-dir <dir>", "where source checksums are kept (default <root>/.ticktape-sync)")
    .option("--json", "print the report as JSON");
  return addS3Options(cmd);
}

function dataSyncOptions(o: SyncCliOptions): DataSyncOptions {
  return {
    taskArn: o.task!,
    ...(o.datasyncEndpoint !== undefined ? { endpoint: o.datasyncEndpoint } : {}),
    ...(o.s3Region !== undefined ? { region: o.s3Region } : {}),
    ...(process.env.TICKTAPE_DATASYNC_POLL_MS !== undefined
      ? {
          pollMs: Number(process.env.TICKTAPE_DATASYNC_POLL_MS),
          pollMaxMs: Number(process.env.TICKTAPE_DATASYNC_POLL_MS) * 4,
        }
      : {}),
  };
}

/** Aborted on SIGTERM or SIGINT: a running DataSync execution is cancelled, then the command stops. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return controller.signal;
}

function yesterday(): string {
  return new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
}

function repairMethod(s: string): "datasync" | "upload" {
  if (s !== "datasync" && s !== "upload") throw usage("--repair is datasync or upload");
  return s;
}

async function algorithm(s: string): Promise<ChecksumAlgorithm> {
  const { CHECKSUM_ALGORITHMS, isChecksumAlgorithm } = await import("../src/s3/checksums.js");
  const a = s.toUpperCase().replace("-", "");
  if (!isChecksumAlgorithm(a)) throw usage(`--upload-checksum is one of ${CHECKSUM_ALGORITHMS.join(", ")}`);
  return a;
}

async function durationMs(s: string): Promise<number> {
  const { parseDuration } = await import("../src/index.js");
  return Number(parseDuration(s, "grace") / 1_000_000n);
}

function describeVerify(r: VerifyReport): string {
  const rows = r.files.map((f) => [
    f.verdict === "ok" ? "ok" : "FAIL",
    f.file,
    formatBytes(f.size),
    f.method ?? "",
    f.algorithm ?? "",
    f.verdict === "ok" ? "" : `${f.verdict}: ${f.detail}`,
  ]);
  const lines = [table(["", "file", "size", "proven by", "checksum", "problem"], rows)];
  for (const f of r.open) lines.push(`FAIL ${f}: not sealed on the source (a recorder fault)`);
  for (const o of r.extra) lines.push(`FAIL s3 object ${o.key} (${formatBytes(o.size)}) has no source file`);
  lines.push(
    `${r.date}: ${r.ok ? "PROVEN" : "NOT PROVEN"}: ${formatCount(r.counts.ok)} of ${formatCount(r.files.length)} files ok, ` +
      `${formatBytes(r.objectBytes)} in S3, ${formatBytes(r.s3.bytesFetched)} read (${r.s3.heads} HEADs, ${r.s3.gets} GETs), ` +
      `${(r.durationMs / 1000).toFixed(1)} s`,
  );
  return `${lines.join("\n")}\n`;
}

function describeSync(r: SyncResult): string {
  const lines: string[] = [];
  if (r.verify !== null) lines.push(describeVerify(r.verify).trimEnd());
  const what = {
    verified: "PROVEN, manifest written",
    "already-verified": "already proven: nothing to do",
    "not-closed": "NOT SYNCED: the day is not closed",
    failed: "FAILED",
  }[r.status];
  if (r.manifest !== null) lines.push(`manifest ${r.manifest}`);
  // Last: the line that says what happened (docs/OPERATIONS.md).
  lines.push(`${r.date}: ${what}${r.detail ? `: ${r.detail}` : ""}`);
  return `${lines.join("\n")}\n`;
}

function describePrune(days: PruneDay[]): string {
  if (days.length === 0) return "nothing older than the days kept\n";
  const rows = days.map((d) => [d.date, d.action, formatCount(d.files), formatBytes(d.bytes), d.reason]);
  return `${table(["day", "action", "files", "bytes", "why kept"], rows)}\n`;
}
