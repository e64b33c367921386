/**
 * The recorder side of the benchmark: a real recorder process (`ticktape record`, run with the Node flags of
 * deploy/Dockerfile) recording a Binance simulator (another process) with raw capture on, as in production. Where
 * `taskset` is available the recorder is pinned to one core and the simulator to another. Measured from outside,
 * as an operator would: messages from the recorder's own `/metrics`, CPU and memory from /proc (Linux), latency
 * and sizes from the files it wrote.
 * - throughput: messages per second over the run, and per CPU-second of the recorder process; sustained means
 *   that nothing was lost on the way (no gap, no record dropped);
 * - latency: the simulator stamps each depth update with the time it makes it (Binance `E`, in µs as the recorder
 *   asks for them, on the same clock as the recorder's); the recorder stamps its receive time as it reads the frame
 *   (with feed threads: the socket thread, which puts the frame in the batch it hands to the feed thread). The p99
 *   of the difference over the measured window is an upper bound of send → queued: it includes the simulator's
 *   own time from stamping to sending, and the time waiting in the socket buffer while the recorder is busy. How
 *   long frames then wait for the feed thread (which parses, sequences and writes them) is read from the
 *   recorder's own histogram (`ticktape_feed_thread_wait_seconds`), as the bound of the bucket of its p99;
 * - memory: the recorder's RSS after the warm-up and at the end of the run, and the medians of its first and last
 *   fifths (RSS swings with garbage collection);
 * - sizes: the bytes a sealed hour takes against the same records written in one go, for a busy feed (sealed as
 *   written) and a quiet one (written again with full blocks at the seal).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type IntColumn, openTape, type U8Column } from "../src/index.js";
import { sealHour } from "../src/recorder/hour-sealer.js";

const cli = fileURLToPath(new URL("../cli/main.js", import.meta.url));

/**
 * The Node flags deploy/Dockerfile runs the recorder with (a test keeps the two the same): garbage collection on
 * the main thread only, which on a core of its own is both faster and steadier, no pretenuring by allocation site,
 * which left the young generation copying garbage, and room for the old generation to grow before its first full
 * collections (docs/RECORDER.md, "Node flags").
 */
export const RECORDER_NODE_FLAGS = [
  "--single-threaded-gc",
  "--no-allocation-site-pretenuring",
  "--initial-old-space-size=128",
];

/**
 * With feed threads, also `--heap-growing-percent=300` (docs/RECORDER.md, "Feed threads"): a feed thread's heap
 * does not keep the initial old-space size, and without it ran a full collection about once a second.
 */
export const FEED_THREAD_NODE_FLAGS = [...RECORDER_NODE_FLAGS, "--heap-growing-percent=300"];

/** Cores to pin the recorder and the simulator to, when the machine has two and `taskset` is there. */
function pinning(): { recorder: string; simulator: string } | null {
  if (process.platform !== "linux" || availableParallelism() < 2) return null;
  if (spawnSync("taskset", ["-c", "0", "true"]).status !== 0) return null;
  return { recorder: String(availableParallelism() - 1), simulator: "0" };
}

export interface RecordFigures {
  seconds: number;
  symbols: number;
  ratePerSymbol: number;
  /** The recorder ran on one core of its own (taskset), the simulator on another. */
  pinned: boolean;
  /** The recorder ran with feed threads (`feedThreads: true`). */
  feedThreads: boolean;
  nodeFlags: string[];
  messages: number;
  recordMsgsPerSec: number;
  /** Share of one core the recorder used over the run. */
  cpuCores: number;
  msgsPerCpuSecond: number;
  latencyP50Ms: number;
  recordP99LatencyMs: number;
  latencyMaxMs: number;
  latencySamples: number;
  /**
   * Each whole minute of the run: the recorder's share of its core and the p99 send → queued latency of the rows
   * received in it. The host's speed for this workload moves within minutes; the figure over the run mixes them.
   */
  minutes: { cpu: number; p99Ms: number }[];
  /**
   * Receive → taken by the feed thread (the recorder's `ticktape_feed_thread_wait_seconds`): the bound of the
   * histogram bucket that holds the 99th percentile, so an upper bound. NaN without feed threads.
   */
  feedThreadWaitP99Ms: number;
  rssStartMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  /** Median RSS over the first and the last fifth of the run. */
  rssEarlyMiB: number;
  rssLateMiB: number;
  stopSeconds: number;
  gaps: number;
  dropped: number;
  /** Busy feed: sealed bytes per record, and against the same records written in one go. */
  busyBytesPerRecord: number;
  sealedVsFormatBytesRatio: number;
  /** Quiet feed: bytes per record as flushed (small blocks), as sealed, and sealed against one go. */
  quietOpenBytesPerRecord: number;
  quietSealedBytesPerRecord: number;
  quietSealedVsFormatRatio: number;
  /** The same feed at a fifth of the rate: messages/s and send → queued latency. */
  moderateMsgsPerSec: number;
  moderateLatencyP50Ms: number;
  moderateLatencyP99Ms: number;
}

interface Child {
  proc: ChildProcess;
  lines: string[];
  waitFor(pattern: RegExp, ms: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

/** Runs the CLI with `nodeFlags`, on core `cpu` when given (taskset execs node: the pid is node's). */
function launch(args: string[], nodeFlags: string[] = [], cpu?: string): Child {
  const command = [process.execPath, ...nodeFlags, cli, ...args];
  const proc =
    cpu === undefined
      ? spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("taskset", ["-c", cpu, ...command], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const onLine = (line: string) => {
    if (lines.length < 10_000) lines.push(line);
    for (const w of [...waiters]) {
      const m = w.re.exec(line);
      if (m !== null) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  createInterface({ input: proc.stdout! }).on("line", onLine);
  createInterface({ input: proc.stderr! }).on("line", onLine);
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        for (const l of lines) {
          const m = re.exec(l);
          if (m !== null) return resolve(m);
        }
        waiters.push({ re, resolve });
        setTimeout(
          () => reject(new Error(`no line matching ${re} within ${ms} ms:\n${lines.slice(-20).join("\n")}`)),
          ms,
        ).unref();
      }),
  };
}

/** utime + stime (s) and RSS (bytes) of a process, from /proc. */
async function usage(pid: number): Promise<{ cpu: number; rss: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return { cpu: ticks / 100, rss: rssKb * 1024 };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(" ").pop());
  return sum;
}

/** A histogram's cumulative bucket counts (`le` in seconds → count), summed over its labels. */
async function buckets(port: number, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<number, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.split(" ").pop()));
  }
  return out;
}

/** The smallest bucket bound (ms) under which a share `q` of what was observed between two readings falls. */
function bucketQuantileMs(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return Number.NaN;
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b * 1000;
  return Number.NaN;
}

async function tapes(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith(".tape")) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

const symbolsOf = (n: number) => Array.from({ length: n }, (_, i) => `SYM${i}USDT`);

/** Starts a simulator and a recorder of it; resolves once the recorder serves its metrics. */
async function start(root: string, symbols: string[], rate: number, feedThreads: boolean, logLevel = "info") {
  const pin = pinning();
  const sim = launch(
    ["simulate", "binance", "--symbols", symbols.join(","), "--rate", String(rate), "--seed", "1"],
    [],
    pin?.simulator,
  );
  const url = (await sim.waitFor(/(ws:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
  const config = join(root, "recorder.yaml");
  await mkdir(root, { recursive: true });
  await writeFile(
    config,
    [
      `root: ${join(root, "data")}`,
      "captureId: bench",
      "status: { port: 0, host: 127.0.0.1 }",
      `log: { level: ${logLevel} }`,
      "stopTimeoutSeconds: 600",
      `feedThreads: ${feedThreads}`,
      "feeds:",
      "  - venue: binance",
      `    symbols: [${symbols.join(", ")}]`,
      `    urls: { ws: "${url}", rest: "${url.replace("ws://", "http://")}" }`,
      "",
    ].join("\n"),
  );
  const flags = feedThreads ? FEED_THREAD_NODE_FLAGS : RECORDER_NODE_FLAGS;
  const rec = launch(["record", "--config", config], flags, pin?.recorder);
  try {
    const port = Number((await rec.waitFor(/"statusPort":(\d+)/, 20_000))[1]);
    return { sim, rec, port, pinned: pin !== null };
  } catch (err) {
    // A recorder that did not start leaves no simulator behind (it would keep a core busy, and the bench alive).
    for (const c of [rec, sim]) c.proc.kill("SIGKILL");
    throw err;
  }
}

async function stop(c: Child): Promise<number> {
  const t0 = performance.now();
  c.proc.kill("SIGTERM");
  const code = await c.exited;
  if (code !== 0)
    throw new Error(
      `${c.proc.spawnargs.slice(2, 3).join(" ")} exited with ${code}:\n${c.lines.slice(-10).join("\n")}`,
    );
  return (performance.now() - t0) / 1000;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/**
 * recvTs − ts (ms) of depth-update book rows (not snapshots) received from `fromNs` on (the measured window: not the
 * start, when the recorder catches up with its first snapshots), from every `step`-th book block: sorted, and by
 * minute of receipt from `fromNs` (unsorted).
 */
async function latencies(
  files: string[],
  step: number,
  fromNs: bigint,
): Promise<{ sorted: Float64Array; byMinute: number[][] }> {
  const out: number[] = [];
  const byMinute: number[][] = [];
  for (const f of files) {
    const r = await openTape(f);
    const blocks = r.selectBlocks({ kinds: ["book"] });
    for (let i = 0; i < blocks.length; i += step) {
      const { columns } = await r.readBlock(blocks[i]!);
      const ts = columns.ts as IntColumn;
      const recv = columns.recvTs as IntColumn;
      const flags = columns.flags as U8Column;
      const delta = Number(recv.base - ts.base);
      const from = Number(fromNs - recv.base);
      for (let j = 0; j < ts.offsets.length; j++) {
        // Snapshot rows (flag 1) and rows without a receive time are not depth updates on the wire.
        if ((flags.values[j]! & 1) === 1 || (recv.valid !== null && recv.valid[j] === 0)) continue;
        if (recv.offsets[j]! < from) continue;
        const ms = (delta + recv.offsets[j]! - ts.offsets[j]!) / 1e6;
        out.push(ms);
        const minute = Math.floor((recv.offsets[j]! - from) / 60e9);
        const of = byMinute[minute] ?? [];
        byMinute[minute] = of;
        of.push(ms);
      }
    }
    await r.close();
  }
  return { sorted: Float64Array.from(out).sort(), byMinute };
}

/**
 * Each whole minute of the run: the recorder's share of the core, from the samples (every 2 s) nearest the
 * minute's bounds, and the p99 of the latencies received in it.
 */
function byMinuteFigures(
  samples: { at: number; cpu: number }[],
  byMinute: number[][],
  count: number,
): { cpu: number; p99Ms: number }[] {
  const nearest = (at: number) =>
    samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
  const out: { cpu: number; p99Ms: number }[] = [];
  for (let k = 0; k < count; k++) {
    const a = nearest(60 * k);
    const b = nearest(60 * (k + 1));
    const lat = Float64Array.from(byMinute[k] ?? []).sort();
    out.push({
      cpu: b.at > a.at ? (b.cpu - a.cpu) / (b.at - a.at) : Number.NaN,
      p99Ms: percentile(lat, 0.99),
    });
  }
  return out;
}

async function rowsAndBytes(files: string[]): Promise<{ rows: number; bytes: number }> {
  let rows = 0;
  let bytes = 0;
  for (const f of files) {
    const r = await openTape(f);
    rows += r.blocks.reduce((n, b) => n + (b.kind === null ? 0 : b.rowCount), 0);
    bytes += r.size;
    await r.close();
  }
  return { rows, bytes };
}

/** Bytes of the same records written in one go (the hour sealer's full-block pass, on a copy). */
async function oneGoBytes(files: string[], dir: string): Promise<number> {
  let bytes = 0;
  for (const [i, f] of files.entries()) {
    const final = join(dir, `binance-2000-01-01T00.copy${i}.tape`);
    await copyFile(f, `${final}.open`);
    // The copy is a sealed file under an `.open` name: the sealer reads its records and writes them again.
    const report = await sealHour(final);
    bytes += report.bytes;
  }
  return bytes;
}

export async function measureRecording(
  log: (msg: string) => void,
  o: { seconds: number; symbols: number; rate: number; feedThreads: boolean },
): Promise<RecordFigures> {
  const root = await mkdtemp(join(tmpdir(), "ticktape-bench-record-"));
  try {
    const symbols = symbolsOf(o.symbols);
    log(
      `record: a recorder process on a Binance simulator, ${o.symbols} symbols × ${o.rate} book messages/s, ${o.seconds} s`,
    );
    const { sim, rec, port, pinned } = await start(root, symbols, o.rate, o.feedThreads);
    const pid = rec.proc.pid!;
    await new Promise((r) => setTimeout(r, 10_000));
    const m0 = await metric(port, "ticktape_messages_total");
    const wait0 = await buckets(port, "ticktape_feed_thread_wait_seconds");
    const u0 = await usage(pid);
    const t0 = performance.now();
    const windowStartNs = BigInt(Date.now()) * 1_000_000n;
    // RSS every 2 s: it swings with garbage collection, so flatness compares medians of the run's first and last
    // fifths rather than two single readings.
    const rss: { at: number; rss: number; cpu: number }[] = [{ at: 0, rss: u0.rss, cpu: u0.cpu }];
    const end = t0 + o.seconds * 1000;
    let nextLog = t0 + 10_000;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(0, end - performance.now()))));
      const u = await usage(pid);
      rss.push({ at: (performance.now() - t0) / 1000, rss: u.rss, cpu: u.cpu });
      if (performance.now() >= nextLog || performance.now() >= end) {
        nextLog += 10_000;
        const done = (performance.now() - t0) / 1000;
        const m = await metric(port, "ticktape_messages_total");
        log(
          `record: ${done.toFixed(0)} s, ${((m - m0) / done / 1e3).toFixed(1)}k msgs/s, RSS ${(u.rss / 2 ** 20).toFixed(0)} MiB`,
        );
      }
    }
    const fifth = o.seconds / 5;
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    const rssEarly = median(rss.filter((s) => s.at <= fifth).map((s) => s.rss));
    const rssLate = median(rss.filter((s) => s.at >= o.seconds - fifth).map((s) => s.rss));
    const rssMax = Math.max(...rss.map((s) => s.rss));
    // Counters reach /metrics at each flush (every second): read them after one more.
    await new Promise((r) => setTimeout(r, 1100));
    const m1 = await metric(port, "ticktape_messages_total");
    const wait1 = await buckets(port, "ticktape_feed_thread_wait_seconds");
    const u1 = await usage(pid);
    const wall = (performance.now() - t0) / 1000 - 1.1;
    const gaps = await metric(port, "ticktape_gaps_total");
    const dropped = await metric(port, "ticktape_records_dropped_total");
    await stop(sim);
    log("record: stopping the recorder (drain and seal)");
    const stopSeconds = await stop(rec);
    const files = await tapes(join(root, "data"));
    const { sorted: lat, byMinute } = await latencies(files, 20, windowStartNs);
    const minutes = byMinuteFigures(rss, byMinute, Math.floor(o.seconds / 60));
    const busy = await rowsAndBytes(files);
    log("record: writing the busy hour again in one go, for its size");
    const busyOneGo = await oneGoBytes(files, root);
    for (const f of files) await rm(f);

    const moderateRate = Math.max(1, Math.round(o.rate / 5));
    log(
      `record: the same symbols at a fifth of the rate (${moderateRate} book messages/s a symbol), 40 s, for latency`,
    );
    const moderateRoot = join(root, "moderate");
    const md = await start(moderateRoot, symbols, moderateRate, o.feedThreads);
    await new Promise((r) => setTimeout(r, 10_000));
    const moderateFromNs = BigInt(Date.now()) * 1_000_000n;
    const moderateMessages0 = await metric(md.port, "ticktape_messages_total");
    const moderateT0 = performance.now();
    await new Promise((r) => setTimeout(r, 30_000));
    const moderateMsgsPerSec =
      ((await metric(md.port, "ticktape_messages_total")) - moderateMessages0) /
      ((performance.now() - moderateT0) / 1000);
    await stop(md.sim);
    await stop(md.rec);
    const moderateLat = (await latencies(await tapes(join(moderateRoot, "data")), 1, moderateFromNs)).sorted;
    await rm(moderateRoot, { recursive: true, force: true });

    log("record: a quiet feed (2 book messages/s a symbol), 20 s");
    const quietRoot = join(root, "quiet");
    const q = await start(quietRoot, symbols.slice(0, 5), 2, o.feedThreads);
    await new Promise((r) => setTimeout(r, 20_000));
    await stop(q.sim);
    await stop(q.rec);
    const sealedLine = q.rec.lines.find((l) => l.includes('"msg":"sealed"'));
    const fromBytes = Number(/"fromBytes":(\d+)/.exec(sealedLine ?? "")?.[1] ?? Number.NaN);
    const quietFiles = await tapes(join(quietRoot, "data"));
    const quiet = await rowsAndBytes(quietFiles);
    const quietOneGo = await oneGoBytes(quietFiles, quietRoot);

    const messages = m1 - m0;
    const cpu = u1.cpu - u0.cpu;
    return {
      seconds: wall,
      symbols: o.symbols,
      ratePerSymbol: o.rate,
      pinned,
      feedThreads: o.feedThreads,
      nodeFlags: o.feedThreads ? FEED_THREAD_NODE_FLAGS : RECORDER_NODE_FLAGS,
      messages,
      recordMsgsPerSec: messages / wall,
      cpuCores: cpu / wall,
      msgsPerCpuSecond: messages / cpu,
      latencyP50Ms: percentile(lat, 0.5),
      recordP99LatencyMs: percentile(lat, 0.99),
      latencyMaxMs: lat[lat.length - 1] ?? Number.NaN,
      latencySamples: lat.length,
      minutes,
      feedThreadWaitP99Ms: bucketQuantileMs(wait0, wait1, 0.99),
      rssStartMiB: u0.rss / 2 ** 20,
      rssEndMiB: u1.rss / 2 ** 20,
      rssMaxMiB: rssMax / 2 ** 20,
      rssEarlyMiB: rssEarly / 2 ** 20,
      rssLateMiB: rssLate / 2 ** 20,
      stopSeconds,
      gaps,
      dropped,
      busyBytesPerRecord: busy.bytes / busy.rows,
      sealedVsFormatBytesRatio: busy.bytes / busyOneGo,
      quietOpenBytesPerRecord: fromBytes / quiet.rows,
      quietSealedBytesPerRecord: quiet.bytes / quiet.rows,
      quietSealedVsFormatRatio: quiet.bytes / quietOneGo,
      moderateMsgsPerSec,
      moderateLatencyP50Ms: percentile(moderateLat, 0.5),
      moderateLatencyP99Ms: percentile(moderateLat, 0.99),
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function recordKeys(r: RecordFigures): Record<string, number> {
  return {
    recordMsgsPerSec: r.recordMsgsPerSec,
    recordP99LatencyMs: r.recordP99LatencyMs,
    recordFeedThreadWaitP99Ms: r.feedThreadWaitP99Ms,
    recordRssStartMiB: r.rssStartMiB,
    recordRssEndMiB: r.rssEndMiB,
    recordRssEarlyMiB: r.rssEarlyMiB,
    recordRssLateMiB: r.rssLateMiB,
    sealedVsFormatBytesRatio: r.sealedVsFormatBytesRatio,
  };
}

const k = (n: number) => `${(n / 1e3).toFixed(1)}k/s`;

export function recordTargets(r: RecordFigures): [string, boolean, string][] {
  return [
    [
      "recorder ≥ 100k exchange messages/s sustained (one core, raw on; nothing lost)",
      r.recordMsgsPerSec >= 100e3 && r.gaps === 0 && r.dropped === 0,
      `${k(r.recordMsgsPerSec)}, ${r.gaps} gaps, ${r.dropped} dropped`,
    ],
    [
      "recorder p99 receive → queued ≤ 5 ms",
      r.recordP99LatencyMs <= 5,
      `${r.recordP99LatencyMs.toFixed(1)} ms`,
    ],
    [
      "recorder memory flat over the run (median RSS of the last fifth within 10% of the first fifth's)",
      r.rssLateMiB <= r.rssEarlyMiB * 1.1,
      `${r.rssEarlyMiB.toFixed(0)} → ${r.rssLateMiB.toFixed(0)} MiB (start ${r.rssStartMiB.toFixed(0)}, end ${r.rssEndMiB.toFixed(0)})`,
    ],
    [
      "sealed bytes within 10% of one-go writing",
      r.sealedVsFormatBytesRatio <= 1.1,
      r.sealedVsFormatBytesRatio.toFixed(3),
    ],
  ];
}

export function recordMarkdown(r: RecordFigures | null): string[] {
  const lines = ["## Recorder (a `ticktape record` process on a Binance simulator, raw capture on)", ""];
  if (r === null) return [...lines, "Not measured (`--no-record`)."];
  return [
    ...lines,
    `${r.symbols} symbols, the simulator asked for ${r.ratePerSymbol} book messages/s a symbol (plus trades and best bid/offer), ${r.seconds.toFixed(0)} s after a 10 s warm-up; the simulator runs in its own process. The recorder runs ${r.feedThreads ? "with feed threads, as deploy/Dockerfile runs it plus one flag" : "as deploy/Dockerfile runs it"} (\`node ${r.nodeFlags.join(" ")}\`)${r.pinned ? ", pinned to one core (taskset), the simulator to another" : "; it was not pinned to a core (no taskset or fewer than 2 cores)"}.`,
    "",
    "| what | measured |",
    "|---|---:|",
    `| messages recorded | ${r.messages.toLocaleString("en-US")} (${k(r.recordMsgsPerSec)}) |`,
    `| recorder CPU | ${(100 * r.cpuCores).toFixed(0)}% of a core; ${k(r.msgsPerCpuSecond)} per CPU-second |`,
    `| send → queued latency (upper bound, ${r.latencySamples.toLocaleString("en-US")} book rows) | p50 ${r.latencyP50Ms.toFixed(1)} ms, p99 ${r.recordP99LatencyMs.toFixed(1)} ms, max ${r.latencyMaxMs.toFixed(1)} ms |`,
    `| by minute: recorder CPU, p99 send → queued (${r.minutes.filter((m) => m.p99Ms <= 5).length} of ${r.minutes.length} minutes at ≤ 5 ms) | ${r.minutes.map((m) => `${(100 * m.cpu).toFixed(0)}% ${m.p99Ms.toFixed(1)} ms`).join("; ")} |`,
    ...(r.feedThreads
      ? [
          `| receive → taken by the feed thread, which parses and writes (the recorder's histogram, the first frame of each batch) | p99 ≤ ${r.feedThreadWaitP99Ms} ms |`,
        ]
      : []),
    `| the same at a fifth of the rate (${k(r.moderateMsgsPerSec)}): send → queued latency | p50 ${r.moderateLatencyP50Ms.toFixed(1)} ms, p99 ${r.moderateLatencyP99Ms.toFixed(1)} ms |`,
    `| recorder RSS (read every 2 s) | ${r.rssStartMiB.toFixed(0)} MiB after the warm-up, ${r.rssEndMiB.toFixed(0)} MiB at the end; median ${r.rssEarlyMiB.toFixed(0)} MiB over the first fifth of the run, ${r.rssLateMiB.toFixed(0)} MiB over the last; max ${r.rssMaxMiB.toFixed(0)} |`,
    `| gaps / records dropped | ${r.gaps} / ${r.dropped} |`,
    `| stop (drain, seal) | ${r.stopSeconds.toFixed(1)} s |`,
    `| busy hour: bytes per record (raw included), sealed as written | ${r.busyBytesPerRecord.toFixed(2)} B; ${r.sealedVsFormatBytesRatio.toFixed(3)}x the same records written in one go |`,
    `| quiet feed (5 symbols × 2 msgs/s): bytes per record as flushed each second → sealed | ${r.quietOpenBytesPerRecord.toFixed(2)} B → ${r.quietSealedBytesPerRecord.toFixed(2)} B; sealed ${r.quietSealedVsFormatRatio.toFixed(3)}x one go |`,
  ];
}
