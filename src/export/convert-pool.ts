/**
 * Runs the passes of a conversion in worker threads, one pass per worker at a time: the Parquet writer and the
 * decoding use one core each, so a machine's cores convert several symbols (or files) at once. The first failure
 * stops the other workers between two blocks; their unfinished files are removed as in a single thread.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { fromThreadError, type ThreadError, toThreadError } from "../common/thread-error.js";
import type { DatasetFile, Selection } from "../reader/dataset.js";
import type { ExpectedFile } from "../reader/sources.js";
import type { BlockCacheOptions, BlockCacheStats, S3Options, S3Stats } from "../s3/index.js";
import { type Output, type Pass, type PassResult, type PassSettings, PassStopped } from "./convert-pass.js";

/** What a worker needs to open the dataset and write its outputs (structured-clonable). */
export interface WorkerSetup {
  root: string | null;
  files: DatasetFile[];
  selection: Selection;
  s3: S3Options;
  cache: BlockCacheOptions | null;
  /** What files must be when opened (a dataset opened with `requireManifest`). */
  expected: [string, ExpectedFile][];
  outputs: [string, Output][];
  settings: PassSettings;
}

export type ToWorker = { type: "pass"; pass: Pass } | { type: "stop" } | { type: "end" };
export type ToMain =
  | { type: "block"; bytes: number; rows: number }
  | { type: "done"; result: PassResult }
  | { type: "failed"; error: SerializedError }
  | { type: "ended"; s3: S3Stats | null; cache: BlockCacheStats | null };

interface SerializedError extends ThreadError {
  stopped: boolean;
}

export function serializeError(err: unknown): SerializedError {
  return { ...toThreadError(err), stopped: err instanceof Error && err.name === "PassStopped" };
}

const WORKER = new URL("./convert-worker.js", import.meta.url);

/** Whether the compiled worker is there (it is in the package; not when the sources run untranspiled). */
export function workersAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER));
}

export interface PoolResult {
  results: PassResult[];
  s3: S3Stats[];
  cache: BlockCacheStats[];
}

export async function runPassesInWorkers(
  setup: WorkerSetup,
  passes: readonly Pass[],
  count: number,
  onBlock: (bytes: number, rows: number) => void,
  signal?: AbortSignal,
): Promise<PoolResult> {
  const out: PoolResult = { results: [], s3: [], cache: [] };
  let next = 0;
  const state: { failure: Error | null } = { failure: null };
  const workers: Worker[] = [];
  const stopAll = (failure: Error) => {
    if (state.failure !== null) return;
    state.failure = failure;
    for (const w of workers) w.postMessage({ type: "stop" } satisfies ToWorker);
  };
  const onAbort = () => stopAll(new PassStopped("the conversion was stopped"));
  signal?.addEventListener("abort", onAbort, { once: true });
  const runOne = (worker: Worker) =>
    new Promise<void>((resolve) => {
      const give = () => {
        const pass = state.failure === null ? passes[next++] : undefined;
        worker.postMessage(
          (pass === undefined ? { type: "end" } : { type: "pass", pass }) satisfies ToWorker,
        );
      };
      worker.on("message", (m: ToMain) => {
        if (m.type === "block") onBlock(m.bytes, m.rows);
        else if (m.type === "done") {
          out.results.push(m.result);
          give();
        } else if (m.type === "failed") {
          if (!m.error.stopped) stopAll(fromThreadError(m.error));
          give();
        } else {
          if (m.s3 !== null) out.s3.push(m.s3);
          if (m.cache !== null) out.cache.push(m.cache);
        }
      });
      // A worker that dies (its error reaches here) stops the others as a failed pass does.
      worker.on("error", (err) => stopAll(err));
      worker.on("exit", () => resolve());
      give();
    });
  for (let i = 0; i < Math.min(count, passes.length); i++)
    workers.push(new Worker(WORKER, { workerData: setup }));
  if (signal?.aborted) onAbort();
  await Promise.all(workers.map(runOne));
  signal?.removeEventListener("abort", onAbort);
  if (state.failure !== null) throw state.failure;
  return out;
}
