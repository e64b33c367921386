/**
 * A local AWS DataSync endpoint for tests, the demo and the benchmark: an HTTP server on 127.0.0.1 that speaks
 * DataSync's JSON 1.1 protocol (`X-Amz-Target: FmrsService.<Operation>`) to the real `@aws-sdk/client-datasync`,
 * runs task executions through DataSync's statuses (Basic mode: one execution per task at a time, the others
 * queued), copies a local directory standing in for EFS into the S3 emulator, and injects faults on demand.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import type { ChecksumAlgorithm } from "./datasync-copy.js";
import {
  ApiError,
  type DataSyncFault,
  type ExecutionEnv,
  type ExecutionRecord,
  FaultBook,
  invalid,
  PHASES,
  type Phase,
  type Run,
  runExecution,
  setStatus,
} from "./datasync-execution.js";
import { checkFilterRules, type FilterRule } from "./datasync-filters.js";

export type { ChecksumAlgorithm, UploadedFile } from "./datasync-copy.js";
export type {
  DataSyncFault,
  ExecutionRecord,
  ExecutionStatus,
  FileSelector,
  Phase,
} from "./datasync-execution.js";

export interface DataSyncEmulatorOptions {
  /** The directory standing in for each EFS file system, by file system ARN; a string serves every ARN. */
  efs: string | Readonly<Record<string, string>>;
  /** The S3 the copies go to: a client, or the endpoint of the S3 emulator. */
  s3: S3Client | { endpoint: string };
  /** How long each phase lasts at least, in ms (default 20 each). */
  phaseMs?: number | Partial<Record<Phase, number>>;
  /** Files larger than this go as multipart uploads in parts of this size (default 8 MiB, at least 5 MiB). */
  partBytes?: number;
  /** The checksum sent with every upload (default CRC32). */
  checksumAlgorithm?: ChecksumAlgorithm;
}

/** An API call received (throttled ones included). */
export interface ApiCall {
  readonly operation: string;
  readonly input: Record<string, unknown>;
  readonly throttled: boolean;
}

const ACCOUNT = "111122223333";
const REGION = "us-east-1";
const DEFAULT_OPTIONS = {
  VerifyMode: "POINT_IN_TIME_CONSISTENT",
  OverwriteMode: "ALWAYS",
  Atime: "BEST_EFFORT",
  Mtime: "PRESERVE",
  Uid: "INT_VALUE",
  Gid: "INT_VALUE",
  PreserveDeletedFiles: "PRESERVE",
  PreserveDevices: "NONE",
  PosixPermissions: "PRESERVE",
  BytesPerSecond: -1,
  TaskQueueing: "ENABLED",
  LogLevel: "OFF",
  TransferMode: "CHANGED",
  ObjectTags: "PRESERVE",
} as const;
type Options = Record<string, unknown>;

function hex17(): string {
  return randomBytes(9).toString("hex").slice(0, 17);
}

/** Epoch seconds: what the SDK's JSON 1.1 deserializer turns into a Date. */
function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

function trimSlashes(s: string | undefined): string {
  return (s ?? "").replace(/^\/+|\/+$/g, "");
}

interface Location {
  readonly arn: string;
  readonly uri: string;
  readonly created: number;
  readonly efs?: { fileSystemArn: string; dir: string; ec2Config: unknown };
  readonly s3?: { bucket: string; prefix: string; s3Config: unknown; storageClass: string };
}

interface Task {
  readonly arn: string;
  readonly request: Record<string, unknown>;
  readonly options: Options;
  readonly created: number;
  readonly source: Location;
  readonly destination: Location;
  /** Executions not finished yet, in start order: the first runs, the others wait. */
  readonly queue: Run[];
  lastExecutionArn?: string;
}

export class DataSyncEmulator {
  /** Every API call received, in order. */
  readonly calls: ApiCall[] = [];
  private readonly locations = new Map<string, Location>();
  private readonly tasks = new Map<string, Task>();
  private readonly runs = new Map<string, Run>();
  private readonly faults = new FaultBook();
  private readonly done = new Map<string, Promise<void>>();
  private readonly env: ExecutionEnv;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly s3: S3Client,
    private readonly ownsS3: boolean,
    private readonly opts: DataSyncEmulatorOptions,
  ) {
    const p = opts.phaseMs ?? 20;
    const phaseMs = Object.fromEntries(
      PHASES.map((ph) => [ph, typeof p === "number" ? p : (p[ph] ?? 20)]),
    ) as Record<Phase, number>;
    this.env = {
      s3,
      faults: this.faults,
      phaseMs,
      partBytes: opts.partBytes ?? 8 * 1024 * 1024,
      algorithm: opts.checksumAlgorithm ?? "CRC32",
    };
  }

  static async start(options: DataSyncEmulatorOptions): Promise<DataSyncEmulator> {
    if (options.partBytes !== undefined && options.partBytes < 5 * 1024 * 1024)
      throw new Error("partBytes must be at least 5 MiB (S3's smallest part but the last)");
    const owns = !(options.s3 instanceof S3Client);
    const s3 =
      options.s3 instanceof S3Client
        ? options.s3
        : new S3Client({
            endpoint: options.s3.endpoint,
            region: REGION,
            forcePathStyle: true,
            credentials: { accessKeyId: "test", secretAccessKey: "test" },
            requestChecksumCalculation: "WHEN_REQUIRED",
            responseChecksumValidation: "WHEN_REQUIRED",
          });
    let emulator: DataSyncEmulator | null = null;
    const server = createServer((req, res) => void emulator!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    emulator = new DataSyncEmulator(server, `http://127.0.0.1:${port}`, s3, owns, options);
    return emulator;
  }

  /** Configuration for a `DataSyncClient` talking to this emulator. */
  clientConfig() {
    return {
      endpoint: this.endpoint,
      region: REGION,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    };
  }

  inject(...faults: DataSyncFault[]): void {
    for (const f of faults) this.faults.add(f);
  }

  /** Faults not used up yet. */
  pendingFaults(): DataSyncFault[] {
    return this.faults.pending();
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Every execution started, in order. */
  executions(): ExecutionRecord[] {
    return [...this.runs.values()].map((r) => r.record);
  }

  execution(arn: string): ExecutionRecord | undefined {
    return this.runs.get(arn)?.record;
  }

  /** Resolves once no execution is queued or running. */
  async idle(): Promise<void> {
    await Promise.all(this.done.values());
  }

  /** Cancels whatever still runs and closes the server. */
  async stop(): Promise<void> {
    for (const run of this.runs.values()) run.abort.abort();
    await this.idle();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.ownsS3) this.s3.destroy();
  }

  // ---- protocol ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const operation = target.startsWith("FmrsService.") ? target.slice("FmrsService.".length) : target;
    const reply = (status: number, body: unknown, errorType?: string) => {
      const headers: Record<string, string> = {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
      };
      if (errorType !== undefined) headers["x-amzn-errortype"] = errorType;
      res.writeHead(status, headers);
      res.end(JSON.stringify(body ?? {}));
    };
    let input: Record<string, unknown> = {};
    try {
      const text = Buffer.concat(chunks).toString("utf8");
      input = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      reply(400, { __type: "SerializationException", message: "body is not JSON" }, "SerializationException");
      return;
    }
    const throttled = this.faults.throttles(operation);
    this.calls.push({ operation, input, throttled });
    if (throttled) {
      reply(400, { __type: "ThrottlingException", message: "Rate exceeded" }, "ThrottlingException");
      return;
    }
    const handler = this.operations[operation];
    if (req.method !== "POST" || !target.startsWith("FmrsService.") || handler === undefined) {
      const message = `operation ${target || "(none)"} is not supported`;
      reply(400, { __type: "UnknownOperationException", message }, "UnknownOperationException");
      return;
    }
    try {
      reply(200, await handler(input));
    } catch (e) {
      const error = e instanceof ApiError ? e : invalid(e instanceof Error ? e.message : String(e));
      reply(400, { __type: error.type, message: error.message }, error.type);
    }
  }

  private readonly operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateLocationEfs: (i) => this.createLocationEfs(i),
    CreateLocationS3: (i) => this.createLocationS3(i),
    DescribeLocationEfs: (i) => this.describeLocation(i, "efs"),
    DescribeLocationS3: (i) => this.describeLocation(i, "s3"),
    ListLocations: (i) =>
      this.page(
        [...this.locations.values()].map((l) => ({ LocationArn: l.arn, LocationUri: l.uri })),
        i,
        "Locations",
      ),
    CreateTask: (i) => this.createTask(i),
    DescribeTask: (i) => this.describeTask(i),
    ListTasks: (i) =>
      this.page(
        [...this.tasks.values()].map((t) => ({
          TaskArn: t.arn,
          Status: this.taskStatus(t),
          Name: t.request["Name"],
          TaskMode: "BASIC",
        })),
        i,
        "Tasks",
      ),
    StartTaskExecution: (i) => this.startTaskExecution(i),
    DescribeTaskExecution: (i) => this.describeTaskExecution(i),
    CancelTaskExecution: (i) => this.cancelTaskExecution(i),
    ListTaskExecutions: (i) =>
      this.page(
        [...this.runs.values()]
          .filter((r) => i["TaskArn"] === undefined || r.record.taskArn === i["TaskArn"])
          .map((r) => ({ TaskExecutionArn: r.record.arn, Status: r.record.status, TaskMode: "BASIC" })),
        i,
        "TaskExecutions",
      ),
  };

  /** MaxResults / NextToken over a list (the token is an offset). */
  private page(items: unknown[], input: Record<string, unknown>, field: string) {
    const from = input["NextToken"] === undefined ? 0 : Number(input["NextToken"]);
    const max = typeof input["MaxResults"] === "number" ? input["MaxResults"] : 100;
    const next = from + max < items.length ? String(from + max) : undefined;
    return { [field]: items.slice(from, from + max), NextToken: next };
  }

  private required(input: Record<string, unknown>, field: string): string {
    const v = input[field];
    if (typeof v !== "string" || v === "") throw invalid(`${field} is required`);
    return v;
  }

  private createLocationEfs(input: Record<string, unknown>) {
    const fsArn = this.required(input, "EfsFilesystemArn");
    const ec2 = input["Ec2Config"] as { SubnetArn?: string; SecurityGroupArns?: string[] } | undefined;
    if (!ec2?.SubnetArn || !ec2.SecurityGroupArns?.length)
      throw invalid("Ec2Config with SubnetArn and SecurityGroupArns is required");
    const fsId = /file-system\/(fs-[0-9a-f]+)$/.exec(fsArn)?.[1];
    if (fsId === undefined) throw invalid(`EfsFilesystemArn ${fsArn} is not an EFS file system ARN`);
    const root = typeof this.opts.efs === "string" ? this.opts.efs : this.opts.efs[fsArn];
    if (root === undefined) throw invalid(`EFS file system ${fsArn} not found`);
    const sub = trimSlashes(input["Subdirectory"] as string | undefined);
    const arn = `arn:aws:datasync:${REGION}:${ACCOUNT}:location/loc-${hex17()}`;
    this.locations.set(arn, {
      arn,
      uri: `efs://${REGION}.${fsId}/${sub === "" ? "" : `${sub}/`}`,
      created: Date.now(),
      efs: { fileSystemArn: fsArn, dir: join(root, sub), ec2Config: ec2 },
    });
    return { LocationArn: arn };
  }

  private createLocationS3(input: Record<string, unknown>) {
    const bucketArn = this.required(input, "S3BucketArn");
    const bucket = /^arn:aws[a-z-]*:s3:::([^/]+)$/.exec(bucketArn)?.[1];
    if (bucket === undefined) throw invalid(`S3BucketArn ${bucketArn} is not an S3 bucket ARN`);
    const s3Config = input["S3Config"] as { BucketAccessRoleArn?: string } | undefined;
    if (!s3Config?.BucketAccessRoleArn) throw invalid("S3Config.BucketAccessRoleArn is required");
    const sub = trimSlashes(input["Subdirectory"] as string | undefined);
    const arn = `arn:aws:datasync:${REGION}:${ACCOUNT}:location/loc-${hex17()}`;
    this.locations.set(arn, {
      arn,
      uri: `s3://${bucket}/${sub === "" ? "" : `${sub}/`}`,
      created: Date.now(),
      s3: {
        bucket,
        prefix: sub === "" ? "" : `${sub}/`,
        s3Config,
        storageClass: (input["S3StorageClass"] as string | undefined) ?? "STANDARD",
      },
    });
    return { LocationArn: arn };
  }

  private location(arn: string): Location {
    const loc = this.locations.get(arn);
    if (loc === undefined) throw invalid(`Location ${arn} not found`);
    return loc;
  }

  private describeLocation(input: Record<string, unknown>, kind: "efs" | "s3") {
    const loc = this.location(this.required(input, "LocationArn"));
    const common = { LocationArn: loc.arn, LocationUri: loc.uri, CreationTime: seconds(loc.created) };
    if (kind === "efs") {
      if (loc.efs === undefined) throw invalid(`${loc.arn} is not an EFS location`);
      return { ...common, Ec2Config: loc.efs.ec2Config };
    }
    if (loc.s3 === undefined) throw invalid(`${loc.arn} is not an S3 location`);
    return { ...common, S3Config: loc.s3.s3Config, S3StorageClass: loc.s3.storageClass };
  }

  private createTask(input: Record<string, unknown>) {
    const source = this.location(this.required(input, "SourceLocationArn"));
    const destination = this.location(this.required(input, "DestinationLocationArn"));
    // Only what ticktape uses: EFS to S3.
    if (source.efs === undefined) throw invalid("this emulator copies from EFS locations only");
    if (destination.s3 === undefined) throw invalid("this emulator copies to S3 locations only");
    checkFilterRules(input["Includes"] as FilterRule[] | undefined, "Includes");
    checkFilterRules(input["Excludes"] as FilterRule[] | undefined, "Excludes");
    const arn = `arn:aws:datasync:${REGION}:${ACCOUNT}:task/task-${hex17()}`;
    const options = { ...DEFAULT_OPTIONS, ...((input["Options"] as Options | undefined) ?? {}) };
    this.tasks.set(arn, {
      arn,
      request: input,
      options,
      created: Date.now(),
      source,
      destination,
      queue: [],
    });
    return { TaskArn: arn };
  }

  private task(arn: string): Task {
    const task = this.tasks.get(arn);
    if (task === undefined) throw invalid(`Task ${arn} not found`);
    return task;
  }

  private taskStatus(task: Task): string {
    const head = task.queue[0];
    if (head === undefined) return "AVAILABLE";
    return head.record.status === "QUEUED" ? "QUEUED" : "RUNNING";
  }

  private describeTask(input: Record<string, unknown>) {
    const task = this.task(this.required(input, "TaskArn"));
    const r = task.request;
    return {
      TaskArn: task.arn,
      Status: this.taskStatus(task),
      Name: r["Name"],
      CurrentTaskExecutionArn: task.queue[0]?.record.arn ?? task.lastExecutionArn,
      SourceLocationArn: task.source.arn,
      DestinationLocationArn: task.destination.arn,
      CloudWatchLogGroupArn: r["CloudWatchLogGroupArn"],
      SourceNetworkInterfaceArns: [],
      DestinationNetworkInterfaceArns: [],
      Options: task.options,
      Includes: r["Includes"],
      Excludes: r["Excludes"],
      CreationTime: seconds(task.created),
      TaskMode: "BASIC",
    };
  }

  private startTaskExecution(input: Record<string, unknown>) {
    const task = this.task(this.required(input, "TaskArn"));
    const includes = input["Includes"] as FilterRule[] | undefined;
    const excludes = input["Excludes"] as FilterRule[] | undefined;
    checkFilterRules(includes, "Includes");
    checkFilterRules(excludes, "Excludes");
    const options = { ...task.options, ...((input["OverrideOptions"] as Options | undefined) ?? {}) };
    if (options["TaskQueueing"] === "DISABLED" && task.queue.length > 0)
      throw invalid(`Task ${task.arn} already has an execution running and task queueing is disabled`);
    const arn = `${task.arn}/execution/exec-${hex17()}`;
    const run: Run = {
      record: {
        arn,
        taskArn: task.arn,
        status: "QUEUED",
        history: ["QUEUED"],
        copied: [],
        unchanged: [],
        missed: [],
        skipped: [],
      },
      queue: task.queue,
      sourceDir: task.source.efs!.dir,
      bucket: task.destination.s3!.bucket,
      prefix: task.destination.s3!.prefix,
      options,
      includes: includes ?? (task.request["Includes"] as FilterRule[] | undefined),
      excludes: excludes ?? (task.request["Excludes"] as FilterRule[] | undefined),
      abort: new AbortController(),
      stuck: this.faults.forExecution("stuckQueued", task.arn) !== undefined,
      error: this.faults.forExecution("error", task.arn),
      startTime: Date.now(),
      counters: { estFiles: 0, estBytes: 0, files: 0, bytes: 0, verified: 0 },
      phase: { prepare: "PENDING", transfer: "PENDING", verify: "PENDING" },
      durations: { prepare: 0, transfer: 0, verify: 0 },
    };
    this.runs.set(arn, run);
    task.queue.push(run);
    task.lastExecutionArn = arn;
    this.done.set(arn, runExecution(run, this.env));
    return { TaskExecutionArn: arn };
  }

  private run(arn: string): Run {
    const run = this.runs.get(arn);
    if (run === undefined) throw invalid(`Task execution ${arn} not found`);
    return run;
  }

  private describeTaskExecution(input: Record<string, unknown>) {
    const run = this.run(this.required(input, "TaskExecutionArn"));
    const { record, counters: c, phase, durations: d } = run;
    return {
      TaskExecutionArn: record.arn,
      Status: record.status,
      Options: run.options,
      Includes: run.includes,
      Excludes: run.excludes,
      StartTime: seconds(run.startTime),
      LaunchTime: seconds(run.launchTime),
      EndTime: seconds(run.endTime),
      EstimatedFilesToTransfer: c.estFiles,
      EstimatedBytesToTransfer: c.estBytes,
      EstimatedFilesToDelete: 0,
      FilesPrepared: c.estFiles,
      FilesTransferred: c.files,
      BytesTransferred: c.bytes,
      BytesWritten: c.bytes,
      BytesCompressed: c.bytes,
      FilesVerified: c.verified,
      FilesSkipped: record.skipped.length,
      FilesDeleted: 0,
      TaskMode: "BASIC",
      Result: {
        PrepareDuration: d.prepare,
        PrepareStatus: phase.prepare,
        TransferDuration: d.transfer,
        TransferStatus: phase.transfer,
        VerifyDuration: d.verify,
        VerifyStatus: phase.verify,
        TotalDuration: (run.endTime ?? Date.now()) - run.startTime,
        ErrorCode: record.errorCode,
        ErrorDetail: record.errorDetail,
      },
    };
  }

  private cancelTaskExecution(input: Record<string, unknown>) {
    const run = this.run(this.required(input, "TaskExecutionArn"));
    const s = run.record.status;
    if (s === "SUCCESS" || s === "ERROR" || s === "CANCELLING")
      throw invalid(`Cannot cancel a task execution with status ${s}`);
    setStatus(run, "CANCELLING");
    run.abort.abort();
    return {};
  }
}
