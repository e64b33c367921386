/**
 * A worker thread of `convert`: runs the passes the main thread hands it, one at a time, with its own file
 * handles, S3 client and Parquet writer, and reports each block converted and each pass done.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Dataset } from "../reader/dataset.js";
import { Sources } from "../reader/sources.js";
import { type Pass, runPass } from "./convert-pass.js";
import { serializeError, type ToMain, type ToWorker, type WorkerSetup } from "./convert-pool.js";

const setup = workerData as WorkerSetup;
const port = parentPort!;
const sources = new Sources(setup.s3, setup.cache);
for (const [path, file] of setup.expected) sources.expect(path, file);
const dataset = new Dataset(setup.root, setup.files, setup.selection, [], sources);
const outputs = new Map(setup.outputs);
let stopped = false;

const post = (m: ToMain) => port.postMessage(m);

async function run(pass: Pass): Promise<void> {
  try {
    const result = await runPass(
      dataset,
      pass,
      outputs,
      setup.settings,
      (bytes, rows) => post({ type: "block", bytes, rows }),
      () => stopped,
    );
    post({ type: "done", result });
  } catch (err) {
    post({ type: "failed", error: serializeError(err) });
  }
}

port.on("message", (m: ToWorker) => {
  if (m.type === "pass") void run(m.pass);
  else if (m.type === "stop") stopped = true;
  else
    void (async () => {
      post({ type: "ended", s3: await sources.s3Stats(), cache: sources.cacheStats() });
      await sources.close();
      port.close();
    })();
});
