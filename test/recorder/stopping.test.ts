/**
 * `ticktape record` as a child process, stopped by signals: its exit code, its last log line and the files it
 * leaves must say what happened (docs/DURABILITY.md, "Stopping").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { type Simulator, startSimulator } from "../../src/recorder/simulators/index.js";
import { tempDir } from "../reader/helpers.js";
import { waitFor } from "../support/wait.js";

const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Running {
  child: ChildProcess;
  /** Log lines (JSON) as they come. */
  lines: { msg?: string; alert?: boolean; [k: string]: unknown }[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function record(config: string): Running {
  const child = spawn(process.execPath, [cli, "record", "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Running["lines"] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      lines.push(JSON.parse(line));
    } catch {
      lines.push({ msg: line });
    }
  });
  child.stderr!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  return { child, lines, exited };
}

async function tapeFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.includes(".tape")) out.push(e.name);
  }
  return out.sort();
}

async function configFile(root: string, lines: string[]): Promise<string> {
  const file = join(root, "recorder.yaml");
  await writeFile(file, [`root: ${join(root, "data")}`, "captureId: stop", ...lines, ""].join("\n"));
  return file;
}

describe("ticktape record, stopped", () => {
  it("a seal that fails as it stops is no clean stop: exit code 1, and no line saying everything is sealed", async () => {
    const sim: Simulator = await startSimulator("okx", { rate: 40, seed: 5 });
    cleanups.push(() => sim.close());
    const root = (await tempDir()).dir;
    const config = await configFile(root, [
      "flush: { intervalMs: 50, sync: false }",
      "feeds:",
      "  - venue: okx",
      `    symbols: [${sim.symbols.join(", ")}]`,
      `    urls: { ws: ${sim.urls.ws} }`,
    ]);
    const run = record(config);
    let open = "";
    await waitFor(async () => {
      const names = await tapeFiles(join(root, "data")).catch(() => []);
      open = names.find((n) => n.endsWith(".tape.open")) ?? "";
      return open !== "" && run.lines.some((l) => l.msg === "recording");
    }, "the hour's file");
    await new Promise((r) => setTimeout(r, 500));
    // The seal's temporary file cannot be made (the disk refuses it): the hour stays an .open file.
    const day = (await readdir(join(root, "data")))[0]!;
    const temp = `.${open.replace(/\.open$/, "")}.reblock.tape.open`;
    await mkdir(join(root, "data", day, "okx", temp));
    run.child.kill("SIGTERM");
    const { code } = await run.exited;
    const names = await tapeFiles(join(root, "data"));
    // What the disk did: the hour is not sealed.
    expect(names).toContain(open);
    expect(run.lines.some((l) => l.alert === true && /seal failed/.test(String(l.msg)))).toBe(true);
    // What the process says about it.
    expect(
      run.lines.map((l) => l.msg),
      "the log claims a clean stop",
    ).not.toContain("stopped: everything received is written and sealed");
    expect(code).toBe(1);
  });
});
