/**
 * The recorder as a child process, killed with SIGKILL at random moments and started again, 20 times, then
 * stopped with SIGTERM: every record acknowledged as flushed before a kill is in the files, and every file
 * verifies. The acknowledgements are the recorder's own debug log lines ("flushed", with the count of records
 * on disk and the receive time of the last).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { datasetOfFiles, openTape, type TapeRecord } from "../../src/index.js";
import { type Simulator, startSimulator } from "../../src/recorder/simulators/index.js";
import { tempDir } from "../reader/helpers.js";

const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");
const KILLS = 20;

interface Run {
  startedNs: bigint;
  /** The last acknowledgement seen before the kill. */
  ack: { records: number; throughRecvNs: bigint } | null;
}

function start(
  config: string,
  run: Run,
): { child: ChildProcess; firstAck: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, "record", "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let ackSeen: () => void = () => {};
  const firstAck = new Promise<void>((resolve) => {
    ackSeen = resolve;
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let o: { msg?: string; records?: number; throughRecvNs?: string | null };
    try {
      o = JSON.parse(line);
    } catch {
      return;
    }
    if (
      o.msg === "flushed" &&
      typeof o.records === "number" &&
      o.records > 0 &&
      typeof o.throughRecvNs === "string"
    ) {
      run.ack = { records: o.records, throughRecvNs: BigInt(o.throughRecvNs) };
      ackSeen();
    }
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, firstAck, exited };
}

let sim: Simulator | null = null;
afterAll(async () => {
  await sim?.close();
});

describe("crash safety", () => {
  it(`loses nothing acknowledged across ${KILLS} SIGKILLs, and seals everything after a SIGTERM`, async () => {
    sim = await startSimulator("binance", { rate: 100, seed: 3 });
    const root = (await tempDir()).dir;
    const config = join(root, "recorder.yaml");
    await writeFile(
      config,
      [
        `root: ${join(root, "data")}`,
        "captureId: crash",
        "flush: { intervalMs: 50, sync: true }",
        "log: { level: debug }",
        "feeds:",
        "  - venue: binance",
        `    symbols: [${sim.symbols.join(", ")}]`,
        `    urls: { ws: ${sim.urls.ws}, rest: ${sim.urls.rest} }`,
        "",
      ].join("\n"),
    );
    const runs: Run[] = [];
    for (let i = 0; i < KILLS; i++) {
      const run: Run = { startedNs: BigInt(Date.now()) * 1_000_000n, ack: null };
      runs.push(run);
      const { child, firstAck, exited } = start(config, run);
      await Promise.race([firstAck, exited]);
      // Somewhere between right after the first flush and half a second later.
      await new Promise((r) => setTimeout(r, Math.random() * 500));
      child.kill("SIGKILL");
      expect(await exited).toBe(null);
    }
    const last: Run = { startedNs: BigInt(Date.now()) * 1_000_000n, ack: null };
    const { child, firstAck, exited } = start(config, last);
    await firstAck;
    child.kill("SIGTERM");
    expect(await exited).toBe(0);

    const files: string[] = [];
    for (const e of await readdir(join(root, "data"), { recursive: true, withFileTypes: true })) {
      if (e.isFile()) files.push(join(e.parentPath, e.name));
    }
    // Sealed, nothing left over: no .open file, no part, no temporary file.
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(f).toMatch(/\/binance-\d{4}-\d{2}-\d{2}T\d{2}\.crash\.tape$/);
      const reader = await openTape(f);
      const report = await reader.verify();
      await reader.close();
      expect(report.ok, f).toBe(true);
    }
    const recvs: bigint[] = [];
    for await (const r of datasetOfFiles(files).replay({ exact: true }))
      recvs.push((r as TapeRecord).recvTs!);
    recvs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const countBetween = (from: bigint, to: bigint) => recvs.filter((t) => t >= from && t <= to).length;
    const acked = runs.filter((r) => r.ack !== null);
    expect(acked.length).toBeGreaterThanOrEqual(KILLS - 2);
    for (const [i, r] of runs.entries()) {
      if (r.ack === null) continue;
      expect(countBetween(r.startedNs, r.ack.throughRecvNs), `run ${i + 1}`).toBeGreaterThanOrEqual(
        r.ack.records,
      );
    }
  }, 120_000);
});
