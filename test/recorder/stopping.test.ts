/**
 * `ticktape record` as a child process, stopped by signals: its exit code, its last log line and the files it
 * leaves must say what happened (docs/DURABILITY.md, "Stopping").
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { constants } from "node:fs";
import { mkdir, open, readdir, writeFile } from "node:fs/promises";
import { type AddressInfo, connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { HOUR_NS, hourOf, tapeRelativePath } from "../../src/reader/layout.js";
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

/** A WebSocket server on 127.0.0.1 standing for the venue (closed after the test); returns its port. */
async function venueServer(onConnection: (ws: WebSocket) => void = () => {}): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", onConnection);
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  return (wss.address() as { port: number }).port;
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

  it("a second SIGTERM while the stop drains does not kill the process: the drain ends, and the hour is sealed", async () => {
    // A venue that takes the connection and then reads nothing more: the close handshake of the stop goes
    // unanswered, and the stop waits for it (2 s) before it writes and seals.
    // The venue takes the connection and then reads nothing more.
    const port = await venueServer((ws) => (ws as unknown as { _socket: { pause(): void } })._socket.pause());
    const root = (await tempDir()).dir;
    const config = await configFile(root, [
      "flush: { intervalMs: 50, sync: false }",
      "feeds:",
      "  - venue: okx",
      "    symbols: [BTC-USDT]",
      `    urls: { ws: "ws://127.0.0.1:${port}" }`,
    ]);
    const run = record(config);
    // The connect event opens the hour's file.
    await waitFor(
      async () => (await tapeFiles(join(root, "data")).catch(() => [])).some((n) => n.endsWith(".open")),
      "the hour's file",
    );
    await waitFor(() => run.lines.some((l) => l.msg === "recording"), "recording");
    run.child.kill("SIGTERM");
    await waitFor(() => run.lines.some((l) => l.msg === "stopping"), "stopping");
    await new Promise((r) => setTimeout(r, 300));
    // Sent again (an impatient operator, a supervisor that repeats it).
    run.child.kill("SIGTERM");
    const exit = await run.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(run.lines.at(-1)?.msg).toBe("stopped: everything received is written and sealed");
    const names = await tapeFiles(join(root, "data"));
    expect(names.filter((n) => n.endsWith(".open"))).toEqual([]);
  });

  it("SIGTERM during start-up (the repair of what an earlier process left) is not the signal's default action: the recorder stops once it started, with exit code 0", async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    // The current hour's files must stay the current hour's for the test.
    if (hourOf(now) + HOUR_NS - now < 20_000_000_000n) await new Promise((r) => setTimeout(r, 21_000));
    const root = (await tempDir()).dir;
    const hour = hourOf(BigInt(Date.now()) * 1_000_000n);
    // An earlier process of this capture left the current hour's .open file beside a file of the sealed name, so
    // the start reads the sealed one (a seal cut off after its rename). Here that read waits for the test: the
    // sealed name is a FIFO, whose open waits for a writer (a slow network file system).
    const final = join(root, "data", tapeRelativePath("okx", hour, "stop"));
    await mkdir(dirname(final), { recursive: true });
    await writeFile(`${final}.open`, "");
    expect(spawnSync("mkfifo", [final]).status).toBe(0);
    const port = await venueServer();
    const config = await configFile(root, [
      "flush: { intervalMs: 50, sync: false }",
      "feeds:",
      "  - venue: okx",
      "    symbols: [BTC-USDT]",
      `    urls: { ws: "ws://127.0.0.1:${port}" }`,
    ]);
    const run = record(config);
    // The FIFO has a reader once the start-up is in the repair (before that, a non-blocking open for writing
    // fails with ENXIO).
    let writer: Awaited<ReturnType<typeof open>> | null = null;
    await waitFor(async () => {
      writer = await open(final, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => null);
      return writer !== null;
    }, "the start-up reading the leftover");
    expect(run.lines.map((l) => l.msg)).not.toContain("recording");
    run.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    // The read ends (the file is no tape: the repair fails, with an alert), and the start goes on.
    await writer!.write("not a tape").catch(() => {}); // EPIPE: the process is gone
    await writer!.close();
    const exit = await run.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(run.lines.at(-1)?.msg).toBe("stopped: everything received is written and sealed");
  });

  it("ends within stopTimeoutSeconds also while a client holds a connection to the status port", async () => {
    const sim: Simulator = await startSimulator("okx", { rate: 40, seed: 5 });
    cleanups.push(() => sim.close());
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, "127.0.0.1", r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const root = (await tempDir()).dir;
    const config = await configFile(root, [
      "flush: { intervalMs: 50, sync: false }",
      "stopTimeoutSeconds: 2",
      `status: { port: ${port}, host: 127.0.0.1 }`,
      "feeds:",
      "  - venue: okx",
      `    symbols: [${sim.symbols.join(", ")}]`,
      `    urls: { ws: ${sim.urls.ws} }`,
    ]);
    const run = record(config);
    await waitFor(() => run.lines.some((l) => l.msg === "recording"), "recording");
    // A client that connected and has not sent (all of) its request yet: a TCP probe, a scraper's spare connection.
    const client = connect(port, "127.0.0.1");
    await new Promise<void>((r) => client.once("connect", () => r()));
    client.on("error", () => {});
    cleanups.push(async () => void client.destroy());
    await new Promise((r) => setTimeout(r, 500));
    const asked = Date.now();
    run.child.kill("SIGTERM");
    const exit = await Promise.race([
      run.exited,
      new Promise<"still running">((r) => setTimeout(() => r("still running"), 8000)),
    ]);
    expect(exit, `${Date.now() - asked} ms after SIGTERM`).toEqual({ code: 0, signal: null });
  });
});
