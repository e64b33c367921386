/**
 * Runs an execution of a configured AWS DataSync task (EFS → S3) limited by filters, and waits for its end: polls
 * with backoff through QUEUED, LAUNCHING, PREPARING, TRANSFERRING and VERIFYING, bounded in total time; adopts an
 * execution of the same filters that is already under way instead of starting a second; retries an ERROR result
 * up to a limit; rides out throttling; cancels the execution when the caller's signal aborts (SIGTERM).
 *
 * The SDK is loaded on first use.
 */
import type { DataSyncClient, DescribeTaskExecutionResponse } from "@aws-sdk/client-datasync";
import { TapeError } from "../format/errors.js";
import { backoffMs, isRetryable } from "../s3/retry.js";

export interface DataSyncOptions {
  /** The task's ARN (`ticktape sync setup` makes one). */
  taskArn: string;
  /** Another endpoint (a local stand-in); default: AWS for the region. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** First wait between polls, ms (default 5000); doubles up to `pollMaxMs`. */
  pollMs?: number;
  /** Longest wait between polls, ms (default 60000). */
  pollMaxMs?: number;
  /** Longest the whole run may take, ms, queueing included (default 6 hours). */
  timeoutMs?: number;
  /** Further executions after an ERROR result (default 2). */
  errorRetries?: number;
  /** Aborting cancels the execution (SIGTERM of a CronJob pod). */
  signal?: AbortSignal;
  /** Each status seen, once per change. */
  onStatus?: (status: string, executionArn: string) => void;
}

export interface DataSyncFilter {
  /** SIMPLE_PATTERN values, joined with `|`. */
  includes: readonly string[];
  excludes: readonly string[];
  /** Copy every included file whatever the destination holds (a repair); default: the task's mode. */
  transferAll?: boolean;
}

export interface DataSyncResult {
  executionArn: string;
  /** Executions started or adopted (more than 1 after ERROR results). */
  attempts: number;
  /** Whether the first execution was one already under way. */
  adopted: boolean;
  filesTransferred: number;
  bytesTransferred: number;
  durationMs: number;
}

const TERMINAL = new Set(["SUCCESS", "ERROR"]);

export class DataSyncRunner {
  private constructor(
    private readonly client: DataSyncClient,
    private readonly sdk: typeof import("@aws-sdk/client-datasync"),
    private readonly options: DataSyncOptions,
  ) {}

  static async create(options: DataSyncOptions): Promise<DataSyncRunner> {
    const sdk = await import("@aws-sdk/client-datasync");
    const client = new sdk.DataSyncClient({
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      // Retries are ours (below), with the same policy for every call.
      maxAttempts: 1,
    });
    return new DataSyncRunner(client, sdk, options);
  }

  close(): void {
    this.client.destroy();
  }

  /** Runs the task once with these filters (again after an ERROR result, up to the limit) and waits for its end. */
  async run(filter: DataSyncFilter): Promise<DataSyncResult> {
    const started = performance.now();
    const deadline = started + (this.options.timeoutMs ?? 6 * 3600_000);
    const retries = this.options.errorRetries ?? 2;
    let adopted = false;
    for (let attempt = 1; ; attempt++) {
      let arn = attempt === 1 ? await this.runningWith(filter) : null;
      if (arn !== null) adopted = true;
      else arn = await this.start(filter);
      const end = await this.wait(arn, deadline);
      if (end.Status === "SUCCESS") {
        return {
          executionArn: arn,
          attempts: attempt,
          adopted,
          filesTransferred: Number(end.FilesTransferred ?? 0),
          bytesTransferred: Number(end.BytesTransferred ?? 0),
          durationMs: performance.now() - started,
        };
      }
      const why = `${end.Result?.ErrorCode ?? "ERROR"}: ${end.Result?.ErrorDetail ?? "no detail"}`;
      if (attempt > retries) {
        throw new TapeError(
          "E_TAPE_SYNC",
          `DataSync execution ${arn} ended in ERROR (${why}) after ${attempt} tries`,
          {
            field: "datasync",
          },
        );
      }
    }
  }

  /** An execution of the task with the same filters that has not ended (a previous run killed mid-way). */
  private async runningWith(filter: DataSyncFilter): Promise<string | null> {
    const list = await this.call("ListTaskExecutions", () =>
      this.client.send(new this.sdk.ListTaskExecutionsCommand({ TaskArn: this.options.taskArn })),
    );
    for (const e of list.TaskExecutions ?? []) {
      if (e.TaskExecutionArn === undefined || TERMINAL.has(e.Status ?? "")) continue;
      const d = await this.describe(e.TaskExecutionArn);
      if (sameFilter(d.Includes, filter.includes) && sameFilter(d.Excludes, filter.excludes))
        return e.TaskExecutionArn;
    }
    return null;
  }

  private async start(filter: DataSyncFilter): Promise<string> {
    const out = await this.call("StartTaskExecution", () =>
      this.client.send(
        new this.sdk.StartTaskExecutionCommand({
          TaskArn: this.options.taskArn,
          ...patterns("Includes", filter.includes),
          ...patterns("Excludes", filter.excludes),
          ...(filter.transferAll ? { OverrideOptions: { TransferMode: "ALL" } } : {}),
        }),
      ),
    );
    if (out.TaskExecutionArn === undefined) {
      throw new TapeError("E_TAPE_SYNC", "StartTaskExecution gave no execution ARN", { field: "datasync" });
    }
    return out.TaskExecutionArn;
  }

  /** Polls until the execution ends; cancels it on abort or when the deadline passes. */
  private async wait(arn: string, deadline: number): Promise<DescribeTaskExecutionResponse> {
    let last = "";
    let waitMs = this.options.pollMs ?? 5000;
    for (;;) {
      const d = await this.describe(arn);
      const status = d.Status ?? "UNKNOWN";
      if (status !== last) {
        last = status;
        this.options.onStatus?.(status, arn);
      }
      if (TERMINAL.has(status)) return d;
      if (performance.now() + waitMs > deadline) {
        await this.cancel(arn);
        throw new TapeError(
          "E_TAPE_SYNC",
          `DataSync execution ${arn} still ${status} at the time limit: cancelled`,
          { field: "datasync" },
        );
      }
      await this.sleep(waitMs, arn);
      waitMs = Math.min(waitMs * 2, this.options.pollMaxMs ?? 60_000);
    }
  }

  private async sleep(ms: number, arn: string): Promise<void> {
    const signal = this.options.signal;
    const aborted = await new Promise<boolean>((resolve) => {
      if (signal?.aborted) return resolve(true);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(false);
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        resolve(true);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    if (aborted) {
      await this.cancel(arn);
      throw new TapeError("E_TAPE_SYNC", `stopped: DataSync execution ${arn} cancelled`, {
        field: "datasync",
      });
    }
  }

  private async cancel(arn: string): Promise<void> {
    await this.call("CancelTaskExecution", () =>
      this.client.send(new this.sdk.CancelTaskExecutionCommand({ TaskExecutionArn: arn })),
    );
  }

  private describe(arn: string): Promise<DescribeTaskExecutionResponse> {
    return this.call("DescribeTaskExecution", () =>
      this.client.send(new this.sdk.DescribeTaskExecutionCommand({ TaskExecutionArn: arn })),
    );
  }

  /** One API call, retried with backoff on throttling and transient failures. */
  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        if (attempt < 7 && isRetryable(err)) {
          await new Promise((r) => setTimeout(r, backoffMs(attempt, 200, 10_000)));
          continue;
        }
        const e = err as Error;
        throw new TapeError("E_TAPE_SYNC", `DataSync ${what}: ${e.name}: ${e.message}`, {
          field: "datasync",
          cause: err,
        });
      }
    }
  }
}

function patterns(field: "Includes" | "Excludes", values: readonly string[]) {
  return values.length === 0
    ? {}
    : { [field]: [{ FilterType: "SIMPLE_PATTERN" as const, Value: values.join("|") }] };
}

function sameFilter(got: { Value?: string | undefined }[] | undefined, want: readonly string[]): boolean {
  const values = (got ?? []).flatMap((f) => (f.Value ?? "").split("|")).filter((v) => v !== "");
  return values.length === want.length && values.every((v, i) => v === want[i]);
}
