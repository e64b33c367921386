/**
 * Task executions of the local DataSync emulator: the walk through DataSync's statuses, the faults that can
 * be injected into them, and the copy each one makes (see datasync-copy.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type ChecksumAlgorithm,
  isUnchanged,
  listFiles,
  restat,
  type SourceFile,
  type UploadedFile,
  type UploadFaults,
  uploadFile,
} from "./datasync-copy.js";
import { type FilterRule, PathFilter } from "./datasync-filters.js";

export type ExecutionStatus =
  | "QUEUED"
  | "LAUNCHING"
  | "PREPARING"
  | "TRANSFERRING"
  | "VERIFYING"
  | "CANCELLING"
  | "SUCCESS"
  | "ERROR";
export type Phase = "QUEUED" | "LAUNCHING" | "PREPARING" | "TRANSFERRING" | "VERIFYING";
export const PHASES: readonly Phase[] = ["QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING"];
type PhaseStatus = "PENDING" | "SUCCESS" | "ERROR";

/** A file, by its path relative to the source location (leading `/` optional), or a test on that path. */
export type FileSelector = string | ((path: string) => boolean);

/**
 * Faults. File faults apply to every matching file of the next `executions` (default 1) executions that
 * transfer a matching file; execution faults to the next `executions` executions (of `taskArn`, when given).
 */
export type DataSyncFault =
  /** The file is never listed: the execution reports SUCCESS without it (a silent miss). */
  | { kind: "skipFile"; file: FileSelector; executions?: number }
  /** The file is uploaded `bytes` short. */
  | { kind: "truncateFile"; file: FileSelector; bytes: number; executions?: number }
  /** One byte is flipped in transit (`offset` into the file, negative from the end; default 0). */
  | { kind: "flipByte"; file: FileSelector; offset?: number; executions?: number }
  /** The execution stays QUEUED until it is cancelled (and blocks its task's queue meanwhile). */
  | { kind: "stuckQueued"; taskArn?: string; executions?: number }
  /**
   * The execution ends in ERROR with this code and detail, in `phase` (default TRANSFERRING, after copying
   * `afterFiles` files, default 0).
   */
  | {
      kind: "error";
      taskArn?: string;
      errorCode?: string;
      errorDetail?: string;
      phase?: "PREPARING" | "TRANSFERRING" | "VERIFYING";
      afterFiles?: number;
      executions?: number;
    }
  /** The next `calls` API calls (of `operation`, e.g. "DescribeTaskExecution", or of any) get a ThrottlingException. */
  | { kind: "throttle"; operation?: string; calls: number };

type ErrorFault = Extract<DataSyncFault, { kind: "error" }>;
type FileFault = Extract<DataSyncFault, { file: FileSelector }>;

/** An execution, as tests see it. */
export interface ExecutionRecord {
  readonly arn: string;
  readonly taskArn: string;
  status: ExecutionStatus;
  /** Every status it went through, in order. */
  readonly history: ExecutionStatus[];
  /** What reached S3. */
  readonly copied: UploadedFile[];
  /** Paths left alone by TransferMode CHANGED. */
  readonly unchanged: string[];
  /** Paths dropped by a skipFile fault. */
  readonly missed: string[];
  /** Paths skipped because they changed or vanished between listing and copying (FilesSkipped). */
  readonly skipped: string[];
  errorCode?: string;
  errorDetail?: string;
}

/** An error answered to an API call (or, from an injected fault, the result of an execution). */
export class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export function invalid(message: string): ApiError {
  return new ApiError("InvalidRequestException", message);
}

/** The faults injected and not used up yet. */
export class FaultBook {
  private readonly faults: (DataSyncFault & { left: number })[] = [];

  add(fault: DataSyncFault): void {
    this.faults.push({ ...fault, left: fault.kind === "throttle" ? fault.calls : (fault.executions ?? 1) });
  }

  pending(): DataSyncFault[] {
    return this.faults.filter((f) => f.left > 0).map(({ left: _, ...f }) => f as DataSyncFault);
  }

  clear(): void {
    this.faults.length = 0;
  }

  /** True (and one call used) when a call of `operation` is to be throttled. */
  throttles(operation: string): boolean {
    const fault = this.faults.find(
      (f) => f.kind === "throttle" && f.left > 0 && (f.operation === undefined || f.operation === operation),
    );
    if (fault !== undefined) fault.left--;
    return fault !== undefined;
  }

  /** The next stuckQueued or error fault for a new execution of `taskArn`, used up. */
  forExecution<K extends "stuckQueued" | "error">(kind: K, taskArn: string) {
    const fault = this.faults.find(
      (f) => f.kind === kind && f.left > 0 && ((f as { taskArn?: string }).taskArn ?? taskArn) === taskArn,
    );
    if (fault !== undefined) fault.left--;
    return fault as Extract<DataSyncFault, { kind: K }> | undefined;
  }

  /** The file faults for the files an execution is about to copy; each fault that matches is used once. */
  forFiles(files: readonly SourceFile[]): { missed: Set<string>; faults: Map<string, UploadFaults> } {
    const missed = new Set<string>();
    const faults = new Map<string, UploadFaults>();
    for (const fault of this.faults) {
      if (fault.left <= 0 || !("file" in fault)) continue;
      const test = selectorTest((fault as FileFault).file);
      const matches = files.filter((f) => test(f.path));
      if (matches.length === 0) continue;
      fault.left--;
      for (const f of matches) {
        const entry = faults.get(f.path) ?? {};
        if (fault.kind === "skipFile") missed.add(f.path);
        if (fault.kind === "truncateFile") entry.truncateBytes = fault.bytes;
        if (fault.kind === "flipByte") entry.flipOffset = fault.offset ?? 0;
        faults.set(f.path, entry);
      }
    }
    return { missed, faults };
  }
}

function selectorTest(file: FileSelector): (path: string) => boolean {
  if (typeof file === "function") return file;
  const want = file.replace(/^\/+/, "");
  return (path) => path === want;
}

/** What an execution needs from the emulator. */
export interface ExecutionEnv {
  readonly s3: S3Client;
  readonly faults: FaultBook;
  readonly phaseMs: Readonly<Record<Phase, number>>;
  readonly partBytes: number;
  readonly algorithm: ChecksumAlgorithm;
}

/** The state of one execution; `record` is what tests see. */
export interface Run {
  readonly record: ExecutionRecord;
  /** The task's executions not finished yet, in start order: the first runs, the others wait. */
  readonly queue: Run[];
  readonly sourceDir: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly includes: FilterRule[] | undefined;
  readonly excludes: FilterRule[] | undefined;
  readonly abort: AbortController;
  readonly stuck: boolean;
  readonly error: ErrorFault | undefined;
  readonly startTime: number;
  launchTime?: number;
  endTime?: number;
  readonly counters: { estFiles: number; estBytes: number; files: number; bytes: number; verified: number };
  readonly phase: { prepare: PhaseStatus; transfer: PhaseStatus; verify: PhaseStatus };
  readonly durations: { prepare: number; transfer: number; verify: number };
}

export function setStatus(run: Run, status: ExecutionStatus): void {
  run.record.status = status;
  run.record.history.push(status);
}

function injectedError(run: Run, phase: "PREPARING" | "TRANSFERRING" | "VERIFYING", copied: number): void {
  const fault = run.error;
  if (fault === undefined || (fault.phase ?? "TRANSFERRING") !== phase) return;
  if (phase === "TRANSFERRING" && copied < (fault.afterFiles ?? 0)) return;
  throw new ApiError(fault.errorCode ?? "InternalError", fault.errorDetail ?? "injected failure");
}

/** Runs an execution from QUEUED to SUCCESS or ERROR; never rejects. */
export async function runExecution(run: Run, env: ExecutionEnv): Promise<void> {
  const { record } = run;
  const signal = run.abort.signal;
  const dest = { s3: env.s3, bucket: run.bucket, prefix: run.prefix };
  const pause = (phase: Phase) => sleep(env.phaseMs[phase], undefined, { signal });
  // The phase running (its status set, then its result and duration in the execution's description).
  const current: { phase: "prepare" | "transfer" | "verify" | null; t0: number } = { phase: null, t0: 0 };
  const begin = (
    status: "PREPARING" | "TRANSFERRING" | "VERIFYING",
    phase: "prepare" | "transfer" | "verify",
  ) => {
    setStatus(run, status);
    current.phase = phase;
    current.t0 = Date.now();
  };
  const succeeded = () => {
    run.phase[current.phase!] = "SUCCESS";
    run.durations[current.phase!] = Date.now() - current.t0;
  };
  try {
    await pause("QUEUED");
    // Basic mode: one execution of a task at a time, in start order.
    while (run.queue[0] !== run || run.stuck) await sleep(5, undefined, { signal });
    setStatus(run, "LAUNCHING");
    run.launchTime = Date.now();
    await pause("LAUNCHING");

    begin("PREPARING", "prepare");
    const filter = new PathFilter(run.includes, run.excludes);
    const toCopy: SourceFile[] = [];
    for (const file of await listFiles(run.sourceDir)) {
      if (!filter.selects(file.path)) continue;
      signal.throwIfAborted();
      if (run.options["TransferMode"] !== "ALL" && (await isUnchanged(dest, file)))
        record.unchanged.push(file.path);
      else toCopy.push(file);
    }
    const { missed, faults } = env.faults.forFiles(toCopy);
    record.missed.push(...missed);
    const plan = toCopy.filter((f) => !missed.has(f.path));
    run.counters.estFiles = plan.length;
    run.counters.estBytes = plan.reduce((n, f) => n + f.size, 0);
    injectedError(run, "PREPARING", 0);
    await pause("PREPARING");
    succeeded();

    begin("TRANSFERRING", "transfer");
    for (const file of plan) {
      injectedError(run, "TRANSFERRING", record.copied.length);
      // A file that changed or vanished since it was listed is skipped, as DataSync does.
      const now = await restat(file);
      if (now === null || now.size !== file.size || now.mtimeNs !== file.mtimeNs) {
        record.skipped.push(file.path);
        continue;
      }
      const uploaded = await uploadFile(dest, file, faults.get(file.path) ?? {}, {
        partBytes: env.partBytes,
        algorithm: env.algorithm,
        signal,
      });
      record.copied.push(uploaded);
      run.counters.files++;
      run.counters.bytes += uploaded.uploadedBytes;
    }
    // An error due after more files than there were comes at the end of the transfer.
    injectedError(run, "TRANSFERRING", Number.POSITIVE_INFINITY);
    await pause("TRANSFERRING");
    succeeded();

    begin("VERIFYING", "verify");
    injectedError(run, "VERIFYING", 0);
    await pause("VERIFYING");
    const mode = run.options["VerifyMode"];
    run.counters.verified =
      mode === "NONE"
        ? 0
        : mode === "ONLY_FILES_TRANSFERRED"
          ? record.copied.length
          : record.copied.length + record.unchanged.length;
    succeeded();
    setStatus(run, "SUCCESS");
  } catch (e) {
    if (current.phase !== null) run.phase[current.phase] = "ERROR";
    if (signal.aborted) {
      record.errorCode = "OpCancelled";
      record.errorDetail = "Cancelled by user";
    } else if (e instanceof ApiError) {
      record.errorCode = e.type;
      record.errorDetail = e.message;
    } else {
      record.errorCode = "InternalError";
      record.errorDetail = e instanceof Error ? e.message : String(e);
    }
    setStatus(run, "ERROR");
  } finally {
    run.endTime = Date.now();
    run.queue.splice(run.queue.indexOf(run), 1);
  }
}
