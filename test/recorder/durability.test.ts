import { randomBytes } from "node:crypto";
/**
 * Writing as the recorder does: flushed small blocks, hours sealed with full blocks, parts joined after a restart,
 * a seal cut off at each step, a disk that fails, a queue that overflows.
 */
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, readFile, rename, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import {
  datasetOfFiles,
  OrderBook,
  openTape,
  type RecordInput,
  TapeError,
  type TapeRecord,
  TapeWriter,
} from "../../src/index.js";
import { BinanceConnector } from "../../src/recorder/connectors/binance.js";
import { Feed } from "../../src/recorder/feed.js";
import { BACKLOG_HIGH, FeedWriter, type FlushAck } from "../../src/recorder/feed-writer.js";
import { listParts, sealHour, setAside } from "../../src/recorder/hour-sealer.js";
import { HourlyWriter } from "../../src/recorder/hourly-writer.js";
import type { RecorderLog } from "../../src/recorder/log.js";
import { tempDir } from "../reader/helpers.js";
import { diskFull, heldFsync, realWrite, withFaults } from "../support/faulty-file.js";
import { H10, HOUR, trade } from "./trades.js";

async function allRecords(path: string): Promise<TapeRecord[]> {
  const r = await openTape(path);
  const out: TapeRecord[] = [];
  for await (const rec of r.records()) out.push(rec);
  await r.close();
  return out;
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Writes `n` trades to `path.open` in flushes of `per` records (small blocks, as while recording). */
async function writeOpen(path: string, from: number, n: number, per: number): Promise<void> {
  const w = await TapeWriter.create(path, {
    exchange: "binance",
    captureId: "t",
    periodStart: H10,
    periodEnd: H10 + HOUR,
  });
  for (let i = from; i < from + n; i++) {
    w.append(trade(i, H10 + BigInt(i) * 1_000_000n));
    if ((i + 1) % per === 0) await w.flush();
  }
  await w.close();
}

const quietLog = (): RecorderLog & { alerts: string[]; warnings: string[] } => {
  const alerts: string[] = [];
  const warnings: string[] = [];
  const log: RecorderLog & { alerts: string[]; warnings: string[] } = {
    alerts,
    warnings,
    debug: () => {},
    info: () => {},
    warn: (m) => warnings.push(m),
    alert: (m) => alerts.push(m),
    child: () => log,
  };
  return log;
};

describe("sealing an hour", () => {
  it("writes the records again in full blocks and removes the sources", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(final, 0, 1000, 10);
    const before = await openTape(`${final}.open`);
    const smallBlocks = before.blocks.length;
    await before.close();
    const report = await sealHour(final);
    expect(report.rows).toBe(1000);
    expect(report.sources).toEqual([`${final}.open`]);
    expect(await names(dir)).toEqual(["binance-2026-11-27T10.t.tape"]);
    const sealed = await openTape(final);
    expect(sealed.sealed).toBe(true);
    // The first trade's exchange time is 1 µs before the hour: it is in the minute before, a block of its own.
    expect(smallBlocks).toBe(101);
    expect(sealed.blocks.map((b) => b.rowCount)).toEqual([1, 999]);
    expect(report.bytes).toBeLessThan(report.sourceBytes);
    await sealed.close();
    expect((await allRecords(final)).map((r) => (r.kind === "trade" ? r.tradeId : ""))).toEqual(
      Array.from({ length: 1000 }, (_, i) => `${i}`),
    );
  });

  it("joins the parts of earlier processes in order, with a torn tail cut", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(final, 0, 300, 50);
    // A crash tore the last write: append half a block's worth of garbage.
    const fh = await open(`${final}.open`, "a");
    await fh.write(Buffer.alloc(777, 0xab));
    await fh.close();
    expect(await setAside(final)).toEqual([join(dir, "binance-2026-11-27T10.t.part1.tape.open")]);
    await writeOpen(final, 300, 200, 50);
    // A stop within the hour sealed it; the next process sets the sealed file aside too.
    await sealHour(final);
    expect(await setAside(final)).toEqual([join(dir, "binance-2026-11-27T10.t.part1.tape.open")]);
    await writeOpen(final, 500, 100, 50);
    expect(await listParts(final)).toHaveLength(1);
    const report = await sealHour(final);
    expect(report.droppedBytes).toBe(0);
    expect(report.rows).toBe(600);
    const ids = (await allRecords(final)).map((r) => (r.kind === "trade" ? Number(r.tradeId) : -1));
    expect(ids).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(await names(dir)).toEqual(["binance-2026-11-27T10.t.tape"]);
  });

  it("recognises a seal cut off after its rename: the sources are in the file and are removed", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(final, 0, 100, 10);
    const copy = join(dir, "copy.open");
    await writeFile(copy, await (await import("node:fs/promises")).readFile(`${final}.open`));
    await sealHour(final);
    await rename(copy, `${final}.open`);
    const report = await sealHour(final);
    expect(report.alreadySealed).toBe(true);
    expect(report.rows).toBe(100);
    expect(await names(dir)).toEqual(["binance-2026-11-27T10.t.tape"]);
  });

  it("a seal whose writes fail closes and removes its unfinished output, and keeps the sources", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(final, 0, 1000, 10);
    // A disk that takes the header and refuses the rest; every handle opened is followed to its close.
    const handles = { opened: 0, closed: 0 };
    const openFile = async (path: string, flags: string): Promise<FileHandle> => {
      const fh = await open(path, flags);
      handles.opened++;
      return withFaults(fh, {
        close: (real) => {
          handles.closed++;
          return real.close();
        },
        // (buffer, offset, length, position): the header is the write at position 0.
        write: (real, args) => (args[3] === 0 ? realWrite(real, args) : diskFull()),
      });
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(sealHour(final, { openFile })).rejects.toMatchObject({ code: "E_TAPE_IO" });
    }
    expect(handles.opened).toBe(3);
    expect(handles.closed).toBe(3);
    expect(await names(dir)).toEqual(["binance-2026-11-27T10.t.tape.open"]);
    const report = await sealHour(final);
    expect(report.rows).toBe(1000);
  });

  it("keeps an unreadable source aside instead of deleting it", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(final, 0, 50, 10);
    await setAside(final);
    await writeFile(`${final}.open`, "this is not a tape file at all");
    const report = await sealHour(final);
    expect(report.rows).toBe(50);
    expect(report.unreadable).toEqual([`${final}.unreadable-2`]);
    expect(await names(dir)).toEqual([
      "binance-2026-11-27T10.t.tape",
      "binance-2026-11-27T10.t.tape.unreadable-2",
    ]);
  });

  it("never replaces an unreadable source kept by an earlier seal of the hour", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeFile(`${final}.unreadable-1`, "kept by an earlier seal");
    await writeFile(`${final}.open`, "this is not a tape file at all");
    const report = await sealHour(final);
    expect(report.unreadable).toEqual([`${final}.unreadable-2`]);
    expect(await readFile(`${final}.unreadable-1`, "utf8")).toBe("kept by an earlier seal");
  });
});

/** Opens real files whose writes fail with ENOSPC while `full` is set. */
function fillableDisk() {
  const disk = { full: false, failures: 0 };
  const openFile = async (path: string, flags: string): Promise<FileHandle> => {
    const fh = await open(path, flags);
    return withFaults(fh, {
      write: (real, args) => {
        if (!disk.full) return realWrite(real, args);
        disk.failures++;
        return diskFull();
      },
    });
  };
  return { disk, openFile };
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the recorder's writer", () => {
  it("says at once when it stops with an error, and stop() rejects with it", async () => {
    const root = (await tempDir()).dir;
    const log = quietLog();
    const failures: unknown[] = [];
    const listenerBroke = new Error("a listener broke");
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log,
      flushIntervalMs: 20,
      onFlushed: () => {
        throw listenerBroke;
      },
      onFailure: (err) => failures.push(err),
    });
    w.start();
    w.push(trade(0, H10 + 1n));
    // Without being stopped: a writer that stopped is not left unnoticed (nor an unhandled rejection).
    await waitFor(() => failures.length > 0);
    expect(failures).toEqual([listenerBroke]);
    expect(log.alerts).toContain("the writer stopped: records pushed from now on are dropped");
    // Pushed after the failure: counted as dropped, not queued without end.
    w.push(trade(1, H10 + 2n));
    expect(w.stats.dropped).toBe(1);
    expect(w.stats.queued).toBe(0);
    await expect(w.stop()).rejects.toBe(listenerBroke);
    expect(failures).toHaveLength(1);
    // What was taken before the failure is written, and the hour sealed, before stop() rejects.
    const dayDir = join(root, "2026-11-27", "binance");
    expect(await names(dayDir)).toEqual(["binance-2026-11-27T10.t.tape"]);
    expect((await allRecords(join(dayDir, "binance-2026-11-27T10.t.tape"))).map((r) => r.kind)).toEqual([
      "trade",
    ]);
  });

  it("counts the record whose append failed, seals the ones before it, and survives a throwing onFailure", async () => {
    const root = (await tempDir()).dir;
    const log = quietLog();
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log,
      flushIntervalMs: 20,
      onFailure: () => {
        throw new Error("a failure listener broke");
      },
    });
    w.start();
    w.push(trade(0, H10 + 1n));
    await waitFor(() => w.hourly.writer !== null && w.stats.written === 1);
    // Not a value the format refuses: appending throws something else (here, a state error of the file's writer).
    const file = w.hourly.writer!;
    const append = file.append.bind(file);
    let broken = true;
    file.append = (rec) => {
      if (broken) {
        broken = false;
        throw new TapeError("E_TAPE_STATE", "broken on purpose");
      }
      append(rec);
    };
    w.push(trade(1, H10 + 2n));
    await waitFor(() => log.alerts.includes("onFailure threw"));
    expect(w.stats.dropped).toBe(1);
    await expect(w.stop()).rejects.toThrow("broken on purpose");
    const dayDir = join(root, "2026-11-27", "binance");
    expect(await names(dayDir)).toEqual(["binance-2026-11-27T10.t.tape"]);
    expect((await allRecords(join(dayDir, "binance-2026-11-27T10.t.tape"))).length).toBe(1);
  });

  it("writes each queued record once when one of them fails to append, and counts that one as dropped", async () => {
    const root = (await tempDir()).dir;
    const failures: unknown[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log: quietLog(),
      flushIntervalMs: 20,
      onFailure: (err) => failures.push(err),
    });
    // Queued before the start (no file yet), so the loop writes them as one batch; the second one's price cannot
    // be read: a fault, not a value the format refuses.
    const broken = {
      ...trade(1, H10 + 2n),
      get price(): string {
        throw new Error("unreadable price");
      },
    };
    w.push(trade(0, H10 + 1n));
    w.push(broken);
    w.push(trade(2, H10 + 3n));
    w.start();
    await waitFor(() => failures.length > 0);
    expect(w.stats.dropped).toBe(1);
    await expect(w.stop()).rejects.toThrow("unreadable price");
    const dayDir = join(root, "2026-11-27", "binance");
    const ids = (await allRecords(join(dayDir, "binance-2026-11-27T10.t.tape"))).map((r) =>
      r.kind === "trade" ? r.tradeId : r.kind,
    );
    expect(ids).toEqual(["0", "2"]);
    expect(w.stats).toMatchObject({ written: 2, dropped: 1, queued: 0 });
  });

  it("acknowledges flushed records, rotates at the hour and seals each hour with full blocks", async () => {
    const root = (await tempDir()).dir;
    const acks: FlushAck[] = [];
    let now = H10;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => now },
      log: quietLog(),
      flushIntervalMs: 20,
      onFlushed: (a) => acks.push(a),
    });
    w.start();
    for (let i = 0; i < 500; i++) w.push(trade(i, H10 + HOUR - 500_000_000n + BigInt(i) * 1_000_000n));
    await waitFor(() => acks.some((a) => a.records === 500));
    expect(acks.find((a) => a.records === 500)!.throughRecvNs).toBe(H10 + HOUR - 500_000_000n + 499_000_000n);
    const dayDir = join(root, "2026-11-27", "binance");
    expect(await names(dayDir)).toEqual(["binance-2026-11-27T10.t.tape.open"]);
    // Readable while open, everything acknowledged is there.
    expect(await allRecords(join(dayDir, "binance-2026-11-27T10.t.tape.open"))).toHaveLength(500);
    for (let i = 500; i < 600; i++) w.push(trade(i, H10 + HOUR + BigInt(i) * 1_000_000n));
    now = H10 + HOUR + 1_000_000_000n;
    await waitFor(() => acks.some((a) => a.records === 600));
    await waitFor(() => w.stats.sealedFiles === 1);
    expect(await names(dayDir)).toEqual([
      "binance-2026-11-27T10.t.tape",
      "binance-2026-11-27T11.t.tape.open",
    ]);
    await w.stop();
    expect(await names(dayDir)).toEqual(["binance-2026-11-27T10.t.tape", "binance-2026-11-27T11.t.tape"]);
    const h10 = await openTape(join(dayDir, "binance-2026-11-27T10.t.tape"));
    expect(h10.blocks).toHaveLength(1);
    await h10.close();
    expect(await allRecords(join(dayDir, "binance-2026-11-27T11.t.tape"))).toHaveLength(100);
  });

  it("asks for reading to pause while records wait for the CPU, and to resume once they are written", async () => {
    const root = (await tempDir()).dir;
    const calls: boolean[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log: quietLog(),
      flushIntervalMs: 50,
      onBacklog: (behind) => calls.push(behind),
    });
    w.start();
    // Pushed in one turn, as a burst of frames would be: the writer cannot run before the last one.
    for (let i = 0; i < BACKLOG_HIGH + 100; i++) w.push(trade(i, H10 + BigInt(i)));
    expect(calls).toEqual([true]);
    await waitFor(() => calls.length === 2);
    expect(calls).toEqual([true, false]);
    expect(w.stats.dropped).toBe(0);
    await w.stop();
    const dayDir = join(root, "2026-11-27", "binance");
    expect(await allRecords(join(dayDir, "binance-2026-11-27T10.t.tape"))).toHaveLength(BACKLOG_HIGH + 100);
  });

  it("takes records into the file while a flush waits for its fsync, and acknowledges only what that flush wrote", async () => {
    const root = (await tempDir()).dir;
    const { gate, openFile, held } = heldFsync((path) => path.endsWith(".tape.open"));
    const acks: FlushAck[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t", writer: { openFile } },
      clock: { nowNs: () => H10 },
      log: quietLog(),
      flushIntervalMs: 20,
      onFlushed: (a) => acks.push(a),
    });
    gate.armed = true;
    for (let i = 0; i < 100; i++) w.push(trade(i, H10 + BigInt(i) * 1_000_000n));
    w.start();
    await held();
    // The first flush waits in its fsync: records that come meanwhile leave the queue for the file's buffers.
    for (let i = 100; i < 300; i++) w.push(trade(i, H10 + BigInt(i) * 1_000_000n));
    await waitFor(() => w.stats.written === 300);
    expect(w.stats.queued).toBe(0);
    expect(acks).toEqual([]);
    gate.release!();
    await waitFor(() => acks.length >= 1);
    // The held flush vouches for the records appended before it started, not for those taken during its fsync.
    expect(acks[0]).toEqual({ records: 100, throughRecvNs: H10 + 99_000_000n, fromRecvNs: H10 });
    await waitFor(() => acks.some((a) => a.records === 300));
    // The next flush's oldest record is the first taken during that fsync.
    expect(acks.find((a) => a.records === 300)!.fromRecvNs).toBe(H10 + 100_000_000n);
    await w.stop();
    const dayDir = join(root, "2026-11-27", "binance");
    const ids = (await allRecords(join(dayDir, "binance-2026-11-27T10.t.tape"))).map((r) =>
      r.kind === "trade" ? Number(r.tradeId) : -1,
    );
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it("takes a record into its hour's open file as it is pushed, and queues it behind records that wait", async () => {
    const root = (await tempDir()).dir;
    const acks: FlushAck[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log: quietLog(),
      flushIntervalMs: 60_000,
      onFlushed: (a) => acks.push(a),
    });
    w.start();
    // No file yet: the first record waits for the loop to open its hour's.
    w.push(trade(0, H10 + 1_000_000n));
    expect(w.stats).toMatchObject({ queued: 1, written: 0 });
    await waitFor(() => w.stats.written === 1);
    // The file is open: taken at once, in this turn.
    w.push(trade(1, H10 + 2_000_000n));
    expect(w.stats).toMatchObject({ queued: 0, written: 2 });
    // Refused by the format at once too; the event that says so is queued, and so is what comes after it.
    const recv = H10 + 3_000_000n;
    w.push({
      kind: "trade",
      symbol: "BTCUSDT",
      ts: recv,
      recvTs: recv,
      price: "abc",
      size: "1",
      side: "buy",
    });
    expect(w.stats).toMatchObject({ queued: 1, written: 2, rejected: 1 });
    w.push(trade(3, H10 + 4_000_000n));
    expect(w.stats).toMatchObject({ queued: 2, written: 2 });
    await waitFor(() => w.stats.written === 4);
    // The next hour needs its file opened: queued, and the record after it waits behind it.
    w.push(trade(4, H10 + HOUR + 1_000_000n));
    w.push(trade(5, H10 + 5_000_000n));
    expect(w.stats).toMatchObject({ queued: 2, written: 4 });
    await w.stop();
    // One flush, the last: from the first record.
    expect(acks.at(-1)).toEqual({
      records: 6,
      throughRecvNs: H10 + 5_000_000n,
      fromRecvNs: H10 + 1_000_000n,
    });
    const dayDir = join(root, "2026-11-27", "binance");
    const content = async (name: string) =>
      (await allRecords(join(dayDir, name))).map((r) =>
        r.kind === "trade" ? r.tradeId : r.kind === "event" ? `${r.type}: ${r.message}` : r.kind,
      );
    const h10 = await content("binance-2026-11-27T10.t.tape");
    expect(h10.filter((r) => !r?.startsWith("gap"))).toEqual(["0", "1", "3"]);
    expect(h10.filter((r) => r?.startsWith("gap"))).toEqual([
      expect.stringMatching(/price: malformed decimal "abc"/),
    ]);
    // Hour 10 is sealed once hour 11 opens: its late record goes into the hour being written.
    expect(await content("binance-2026-11-27T11.t.tape")).toEqual(["4", "5"]);
  });

  it("acknowledges the receive time of the last record written, not of a refused one after it", async () => {
    const root = (await tempDir()).dir;
    const acks: FlushAck[] = [];
    const log = quietLog();
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log,
      flushIntervalMs: 0,
      onFlushed: (a) => acks.push(a),
    });
    // Queued (no file open yet), written as one batch whose last record the format refuses: a receive time of
    // 1.5 ns is no integer, and no bigint either.
    w.push(trade(0, H10 + 1_000_000n));
    w.push({ kind: "trade", symbol: "BTCUSDT", ts: 1, recvTs: 1.5, price: "1", size: "1", side: "buy" });
    w.start();
    await waitFor(() => acks.length > 0);
    await w.stop();
    expect(acks[0]).toEqual({ records: 1, throughRecvNs: H10 + 1_000_000n, fromRecvNs: H10 + 1_000_000n });
    expect(w.stats.rejected).toBe(1);
  });

  it("writes what is pushed while stop() flushes, and counts and logs what is pushed after it", async () => {
    const root = (await tempDir()).dir;
    const { gate, openFile, held } = heldFsync((path) => path.endsWith(".tape.open"));
    const log = quietLog();
    const dropped: RecordInput[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t", writer: { openFile } },
      clock: { nowNs: () => H10 },
      log,
      flushIntervalMs: 60_000,
      onDropped: (r) => dropped.push(r),
    });
    w.start();
    for (let i = 0; i < 10; i++) w.push(trade(i, H10 + BigInt(i) * 1_000_000n));
    await waitFor(() => w.stats.written === 10);
    gate.armed = true;
    const stopped = w.stop();
    // The last flush waits in its fsync; records still come (a socket's last frames).
    await held();
    for (let i = 10; i < 15; i++) w.push(trade(i, H10 + BigInt(i) * 1_000_000n));
    gate.release!();
    await stopped;
    w.push(trade(15, H10 + 15_000_000n));
    expect(w.stats).toMatchObject({ written: 15, dropped: 1, queued: 0 });
    expect(dropped.map((r) => (r.kind === "trade" ? r.tradeId : r.kind))).toEqual(["15"]);
    expect(log.alerts).toEqual(["records pushed after the writer stopped are not written"]);
    const ids = (await allRecords(join(root, "2026-11-27", "binance", "binance-2026-11-27T10.t.tape"))).map(
      (r) => (r.kind === "trade" ? Number(r.tradeId) : -1),
    );
    expect(ids).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it("leaves no timer behind when records wake it before the flush is due", async () => {
    const root = (await tempDir()).dir;
    // Timers are counted, not run: the flush is never due in this test.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const w = new FeedWriter({
        hourly: { root, exchange: "binance", captureId: "t" },
        clock: { nowNs: () => H10 },
        log: quietLog(),
        flushIntervalMs: 60_000,
      });
      w.start();
      // Each record comes in a turn of its own and wakes the writer, which then waits again for the flush.
      for (let i = 0; i < 200; i++) {
        w.push(trade(i, H10 + BigInt(i)));
        while (w.stats.written < i + 1) await new Promise((r) => setImmediate(r));
      }
      // The writer's one wait for the flush, not one per wake-up: those would all fire together at the flush.
      expect(vi.getTimerCount()).toBeLessThanOrEqual(1);
      vi.useRealTimers();
      await w.stop();
      expect(w.stats.written).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it("with flush.sync false, drops nothing on a healthy disk once more than its unwritten bound was written", async () => {
    const root = (await tempDir()).dir;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 },
      log: quietLog(),
      flushIntervalMs: 10,
      sync: false,
      maxQueuedRecords: 5000,
      // Stands for the 256 MiB default: about 8 MB of raw frames are written, several times the bound.
      maxUnwrittenBytes: 2 * 1024 * 1024,
    });
    w.start();
    for (let i = 0; i < 25_000; i++) {
      const ts = H10 + BigInt(i);
      // Frames that do not compress.
      const data = new TextEncoder().encode(`{"n":${i},"p":"${randomBytes(150).toString("hex")}"}`);
      w.push({ kind: "raw", symbol: "", ts, recvTs: ts, data });
      if (i % 400 === 399) await new Promise((r) => setTimeout(r, 5));
    }
    await w.stop();
    expect(w.stats.dropped).toBe(0);
    expect(w.stats.written).toBe(25_000);
  });

  it("a record the format refuses is not acknowledged, and a gap event in the file says so", async () => {
    const root = (await tempDir()).dir;
    const acks: FlushAck[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t" },
      clock: { nowNs: () => H10 + 5_000_000_000n },
      log: quietLog(),
      flushIntervalMs: 20,
      onFlushed: (a) => acks.push(a),
    });
    w.start();
    w.push(trade(0, H10 + 1_000_000n));
    // 19 significant digits: more than the format stores exactly.
    w.push({
      ...(trade(1, H10 + 2_000_000n) as Extract<RecordInput, { kind: "trade" }>),
      price: "1234567890.123456789",
    });
    w.push(trade(2, H10 + 3_000_000n));
    await w.stop();
    expect(w.stats.rejected).toBe(1);
    // The two trades written and the event; not the refused trade.
    expect(acks.at(-1)?.records).toBe(3);
    const file = join(root, "2026-11-27", "binance", "binance-2026-11-27T10.t.tape");
    const recs = await allRecords(file);
    expect(recs.filter((r) => r.kind === "trade").map((r) => (r.kind === "trade" ? r.tradeId : ""))).toEqual([
      "0",
      "2",
    ]);
    const gaps = recs.filter((r) => r.kind === "event" && r.type === "gap");
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.kind === "event" && gaps[0]!.message).toMatch(
      /a trade record of "BTCUSDT" not written: refused/,
    );
    // Where the refused trade would have been, not at the recorder's clock (5 s ahead here).
    expect(gaps[0]).toMatchObject({ ts: H10 + 2_000_000n - 1000n, recvTs: H10 + 2_000_000n });
  });

  it("retries a full disk, drops beyond its bound, and says so in a gap event once writing resumes", async () => {
    const root = (await tempDir()).dir;
    const { disk, openFile } = fillableDisk();
    const log = quietLog();
    let dropped = 0;
    let resumed = 0;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t", writer: { openFile } },
      clock: { nowNs: () => H10 + (5n * HOUR) / 10n },
      log,
      flushIntervalMs: 10,
      maxQueuedRecords: 1000,
      maxUnwrittenBytes: 1,
      onDropped: () => dropped++,
      onResumed: () => resumed++,
    });
    w.start();
    for (let i = 0; i < 100; i++) w.push(trade(i, H10 + BigInt(i)));
    await waitFor(() => w.stats.flushes > 0 && w.stats.written === 100);
    disk.full = true;
    for (let i = 100; i < 200; i++) w.push(trade(i, H10 + BigInt(i)));
    await waitFor(() => disk.failures >= 3);
    // The writer holds what the disk refused; the queue fills to its bound, and the rest is dropped.
    for (let i = 200; i < 3000; i++) w.push(trade(i, H10 + BigInt(i)));
    expect(w.stats.queued).toBeLessThanOrEqual(1000);
    expect(w.stats.dropped).toBeGreaterThan(0);
    expect(dropped).toBe(w.stats.dropped);
    expect(log.alerts).toContain("write failed, retrying");
    disk.full = false;
    w.push(trade(5000, H10 + 5000n));
    await w.stop();
    expect(w.stats.writeErrors).toBeGreaterThanOrEqual(3);
    const file = join(root, "2026-11-27", "binance", "binance-2026-11-27T10.t.tape");
    const recs = await allRecords(file);
    const trades = recs.filter((r) => r.kind === "trade");
    const gap = recs.find((r) => r.kind === "event");
    expect(resumed).toBe(1);
    expect(trades.length + w.stats.dropped).toBe(3001);
    expect(gap).toMatchObject({ kind: "event", type: "gap", symbol: "" });
    expect(gap?.kind === "event" && gap.message).toMatch(
      new RegExp(`^${w.stats.dropped} records not written \\(trade ${w.stats.dropped}\\)`),
    );
    // Nothing before the disk filled up is missing.
    const ids = new Set(trades.map((t) => (t.kind === "trade" ? Number(t.tradeId) : -1)));
    for (let i = 0; i < 200; i++) expect(ids.has(i)).toBe(true);
  });

  it("holds no more than its bound in memory while fsync fails and writes succeed: the rest is dropped and stated", async () => {
    const root = (await tempDir()).dir;
    let failSync = false;
    const openFile = async (path: string, flags: string): Promise<FileHandle> =>
      withFaults(await open(path, flags), {
        sync: async (real) => {
          if (failSync) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          return real.sync();
        },
      });
    const bound = 8 * 1024 * 1024;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t", writer: { openFile } },
      clock: { nowNs: () => H10 + 1000n },
      log: quietLog(),
      flushIntervalMs: 50,
      maxUnwrittenBytes: bound,
      maxQueuedRecords: 100,
    });
    w.start();
    w.push(trade(0, H10 + 1n));
    await waitFor(() => w.stats.flushes > 0);
    failSync = true;
    let held = 0;
    // 100 MiB of frames that do not compress, pushed while every fsync fails: the written bytes are kept to be
    // written again, and count against the bound as the unwritten ones do.
    for (let i = 0; i < 1600; i++) {
      const ts = H10 + 10n + BigInt(i);
      w.push({ kind: "raw", symbol: "X", ts, recvTs: ts, data: new Uint8Array(randomBytes(64 * 1024)) });
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      held = Math.max(held, w.hourly.heldBytes);
    }
    // The bound, give or take a block and a flush's writes, which go out before the bound is looked at again.
    expect(held).toBeLessThan(bound + 16 * 1024 * 1024);
    expect(w.stats.dropped).toBeGreaterThan(0);
    failSync = false;
    w.push(trade(1, H10 + 5000n));
    await w.stop();
    const file = join(root, "2026-11-27", "binance", "binance-2026-11-27T10.t.tape");
    const recs = await allRecords(file);
    const gap = recs.find((r) => r.kind === "event" && r.type === "gap");
    expect(gap?.kind === "event" && gap.message).toMatch(
      new RegExp(`^${w.stats.dropped} records not written`),
    );
    // Two trades and 1,600 frames pushed: each is in the file or counted as dropped.
    expect(recs.filter((r) => r.kind === "raw" || r.kind === "trade").length + w.stats.dropped).toBe(1602);
  }, 30_000);

  it("tries a file that cannot be created again less and less often, with an alert at the first failure", async () => {
    const root = (await tempDir()).dir;
    const log = quietLog();
    const tries: number[] = [];
    let refuse = true;
    const w = new FeedWriter({
      hourly: {
        root,
        exchange: "binance",
        captureId: "t",
        writer: {
          openFile: async (path, flags) => {
            if (!refuse) return open(path, flags);
            tries.push(Date.now());
            throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: "EACCES" });
          },
        },
      },
      clock: { nowNs: () => H10 + 1000n },
      log,
      flushIntervalMs: 50,
    });
    w.start();
    w.push(trade(0, H10));
    await waitFor(() => tries.length >= 4, 10_000);
    expect(log.alerts.filter((m) => m === "cannot write to the dataset; retrying")).toHaveLength(1);
    // Pauses of 500 ms, 1 s and 2 s before the fourth try (at a fixed 500 ms it came 1.5 s after the first); a
    // pause is never shorter than asked, however busy the machine.
    expect(tries[3]! - tries[0]!).toBeGreaterThanOrEqual(3400);
    expect(w.stats.writeErrors).toBeGreaterThanOrEqual(4);
    refuse = false;
    await w.stop();
    expect(w.stats.written).toBe(1);
  }, 30_000);

  /** The disk's faults at a file's creation, while `broken.on`. */
  const broken = { on: false };
  for (const [name, fault] of [
    [
      "cannot be created",
      async (path: string, flags: string): Promise<FileHandle> => {
        if (broken.on)
          throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: "EACCES" });
        return open(path, flags);
      },
    ],
    [
      "cannot take its header (disk full)",
      async (path: string, flags: string): Promise<FileHandle> =>
        withFaults(await open(path, flags), {
          write: (real, args) => (broken.on ? diskFull() : realWrite(real, args)),
        }),
    ],
  ] as const) {
    it(`does not keep reading paused while the hour's file ${name}: records wait for the disk, not the CPU`, async () => {
      const root = (await tempDir()).dir;
      const backlog: boolean[] = [];
      broken.on = true;
      const w = new FeedWriter({
        hourly: { root, exchange: "binance", captureId: "t", writer: { openFile: fault } },
        clock: { nowNs: () => H10 + 1000n },
        log: quietLog(),
        flushIntervalMs: 50,
        maxQueuedRecords: 200_000,
        onBacklog: (behind) => backlog.push(behind),
      });
      w.start();
      const n = BACKLOG_HIGH + 100;
      for (let i = 0; i < n; i++) w.push(trade(i, H10 + BigInt(i)));
      await waitFor(() => w.stats.writeErrors >= 2);
      await new Promise((r) => setTimeout(r, 100));
      // Paused at most for a moment (the queue crossed its mark before the first try to open the file failed).
      expect(backlog.at(-1) ?? false).toBe(false);
      expect(w.stats.dropped).toBe(0);
      broken.on = false;
      await w.stop();
      const file = join(root, "2026-11-27", "binance", "binance-2026-11-27T10.t.tape");
      expect((await allRecords(file)).filter((r) => r.kind === "trade")).toHaveLength(n);
    }, 30_000);
  }
});

describe("the recorder's writer at the edges", () => {
  const H = 1_800_000_000_000_000_000n - (1_800_000_000_000_000_000n % HOUR);
  const tr = (t: bigint, id: string): RecordInput => ({
    kind: "trade",
    symbol: "X",
    ts: t,
    recvTs: t,
    price: "1",
    size: "1",
    side: "buy",
    tradeId: id,
  });
  const idsIn = async (root: string) => {
    const out: Record<string, string[]> = {};
    for (const d of (await readdir(root, { recursive: true })).sort()) {
      if (!d.endsWith(".tape")) continue;
      out[d.split("/").pop()!] = (await allRecords(join(root, d))).flatMap((r) =>
        r.kind === "trade" ? [r.tradeId!] : [],
      );
    }
    return out;
  };

  it("never reopens an hour being sealed: a record that arrives during the seal goes to the next file", async () => {
    const root = (await tempDir()).dir;
    let now = H + HOUR - 1_000_000n;
    let armed = false;
    let w!: FeedWriter;
    const openFile = async (path: string, flags: string): Promise<FileHandle> => {
      const fh = await open(path, flags);
      return withFaults(fh, {
        sync: (real) => {
          if (armed) {
            // During the fsync of the flush that seals the hour: the clock passes the hour, and a frame
            // stamped just before its end arrives.
            armed = false;
            now = H + HOUR + 1n;
            w.push(tr(H + HOUR - 1n, "late"));
          }
          return real.sync();
        },
      });
    };
    w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "c", writer: { openFile } },
      clock: { nowNs: () => now },
      log: quietLog(),
      flushIntervalMs: 20,
    });
    w.push(tr(H + HOUR - 2_000_000n, "early"));
    w.start();
    await waitFor(() => w.stats.flushes > 0);
    armed = true;
    await waitFor(() => !armed && w.stats.written === 2);
    w.push(tr(H + HOUR + 5n, "next"));
    now = H + 2n * HOUR + 1n;
    await w.stop();
    const ids = await idsIn(root);
    expect(Object.values(ids).flat().sort()).toEqual(["early", "late", "next"]);
    expect(Object.keys(ids)).toHaveLength(2);
  });

  it("seals an hour only once the flush writing its file has ended", async () => {
    const root = (await tempDir()).dir;
    // The first fsync of the hour's file is slow.
    const { gate, openFile } = heldFsync((path) => path.endsWith(".tape.open"));
    gate.armed = true;
    const alerts: string[] = [];
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "c", writer: { openFile } },
      clock: { nowNs: () => H + 1000n },
      log: { ...quietLog(), alert: (m) => alerts.push(m) },
      flushIntervalMs: 20,
    });
    w.push(tr(H + 1n, "0"));
    w.push(tr(H + 2n, "1"));
    w.start();
    await waitFor(() => gate.release !== null);
    // The next hour's first record, while the flush of this hour's file waits for its fsync.
    w.push(tr(H + HOUR + 1n, "2"));
    await new Promise((r) => setTimeout(r, 50));
    gate.release!();
    await w.stop();
    expect(alerts).toEqual([]);
    expect(w.stats.writeErrors).toBe(0);
    expect(await idsIn(root)).toEqual({
      "binance-2027-01-15T08.c.tape": ["0", "1"],
      "binance-2027-01-15T09.c.tape": ["2"],
    });
  });

  it("a seal that fails while the next hour's file opens is retried for its own hour, not the live file", async () => {
    const root = (await tempDir()).dir;
    const { gate, openFile, held } = heldFsync();
    const sealed: (string | null)[] = [];
    const hw = new HourlyWriter({
      root,
      exchange: "binance",
      captureId: "c",
      seal: "reblock",
      writer: { openFile },
      onSealed: (report, _err, path) => sealed.push(report === null ? `failed ${path}` : path),
    });
    // Blocks of 300 rows: the hour is sealed as written.
    await hw.write(Array.from({ length: 300 }, (_, i) => tr(H + 1n + BigInt(i), `a${i}`)));
    await hw.flush(true);
    const pathA = hw.pathOf(H);
    const pathB = hw.pathOf(H + HOUR);
    // The hour is over: its seal waits in its fsync, then cannot rename (a folder has the final name).
    await mkdir(pathA);
    gate.armed = true;
    const sealing = hw.sealIfOver(H + HOUR + 1n);
    await held();
    // Meanwhile the next hour's first record opens the next file.
    await hw.write([tr(H + HOUR + 5n, "n1")]);
    expect(hw.writer!.path).toBe(pathB);
    gate.release!();
    await sealing;
    expect(sealed).toEqual([`failed ${pathA}`]);
    // Retried later (the obstacle gone): the hour of the failed file, while the next one goes on being written.
    await rmdir(pathA);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 10_000);
      await hw.sealIfOver(H + HOUR + 2n);
    } finally {
      vi.useRealTimers();
    }
    await waitFor(() => sealed.length === 2);
    expect(sealed[1]).toBe(pathA);
    expect(hw.writer!.path).toBe(pathB);
    await hw.write([tr(H + HOUR + 6n, "n2")]);
    await hw.close();
    expect(await idsIn(root)).toEqual({
      "binance-2027-01-15T08.c.tape": Array.from({ length: 300 }, (_, i) => `a${i}`),
      "binance-2027-01-15T09.c.tape": ["n1", "n2"],
    });
  });

  /** An earlier process's file of hour H, left open with one record ("old"), taken over by `hw`. */
  const adoptLeftOpen = async (hw: HourlyWriter) => {
    const path = hw.pathOf(H);
    await mkdir(join(path, ".."), { recursive: true });
    const left = await TapeWriter.create(path, {
      exchange: "binance",
      captureId: "c",
      periodStart: H,
      periodEnd: H + HOUR,
    });
    left.append(tr(H + 1n, "old"));
    await left.close();
    await hw.adopt(H);
  };

  it("a record of an adopted hour, written as the hour is found over, is in one file, whichever runs first", async () => {
    for (const writeFirst of [true, false]) {
      const root = (await tempDir()).dir;
      const hw = new HourlyWriter({ root, exchange: "binance", captureId: "c", seal: "reblock" });
      const path = hw.pathOf(H);
      await adoptLeftOpen(hw);
      // A late record of that hour arrives as the clock passes its end: the write opens the hour's file while the
      // check finds the hour over, or the check seals the hour first and the record goes to the next file.
      const write = () => hw.write([tr(H + 2n, "late")]);
      const check = () => hw.sealIfOver(H + HOUR + 1n);
      await Promise.all(writeFirst ? [write(), check()] : [check(), write()]);
      await hw.close();
      expect(await idsIn(root)).toEqual(
        writeFirst
          ? { "binance-2027-01-15T08.c.tape": ["old", "late"] }
          : { "binance-2027-01-15T08.c.tape": ["old"], "binance-2027-01-15T09.c.tape": ["late"] },
      );
      expect((await readdir(join(path, ".."))).filter((n) => !n.endsWith(".tape"))).toEqual([]);
    }
  });

  it("does not seal an adopted hour while a record of it opens the hour's file", async () => {
    const root = (await tempDir()).dir;
    const sealed: string[] = [];
    let path = "";
    let opened = false;
    // The hour's new file is created, then held (empty) for as long as a seal of the hour could take to finish.
    const openFile = async (p: string, flags: string): Promise<FileHandle> => {
      const fh = await open(p, flags);
      if (p === `${path}.open` && !opened) {
        opened = true;
        await waitFor(() => sealed.length > 0, 300).catch(() => {});
      }
      return fh;
    };
    const hw = new HourlyWriter({
      root,
      exchange: "binance",
      captureId: "c",
      seal: "reblock",
      writer: { openFile },
      onSealed: (report, err, p) => sealed.push(report === null ? `failed ${p}: ${err}` : p),
    });
    path = hw.pathOf(H);
    await adoptLeftOpen(hw);
    // A late record of the hour starts opening its file; the hour is found over while the file is being created.
    const write = hw.write([tr(H + 2n, "late")]);
    await waitFor(() => opened);
    await hw.sealIfOver(H + HOUR + 1n);
    await write;
    await hw.close();
    expect(sealed).toEqual([path]);
    expect(await idsIn(root)).toEqual({ "binance-2027-01-15T08.c.tape": ["old", "late"] });
    expect((await readdir(join(path, ".."))).filter((n) => !n.endsWith(".tape"))).toEqual([]);
  });

  it("stop() returns once the hour is sealed, also when the disk was behind as it stopped", async () => {
    const root = (await tempDir()).dir;
    let now = H + 1000n;
    let hold = false;
    const gate: { release: (() => void) | null } = { release: null };
    const openFile = async (path: string, flags: string): Promise<FileHandle> =>
      withFaults(await open(path, flags), {
        write: async (real, args) => {
          if (hold) {
            hold = false;
            await new Promise<void>((r) => (gate.release = r));
          }
          return realWrite(real, args);
        },
      });
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "c", writer: { openFile } },
      clock: { nowNs: () => now },
      log: quietLog(),
      flushIntervalMs: 300,
      // Any byte being written counts as the disk not keeping up.
      maxUnwrittenBytes: 0,
    });
    w.push(tr(H + 1n, "0"));
    w.start();
    await waitFor(() => w.hourly.writer !== null);
    hold = true;
    // The hour is over: the flush whose write is now slow seals it.
    now = H + HOUR + 1n;
    await waitFor(() => gate.release !== null);
    const stopped = w.stop();
    setTimeout(() => gate.release!(), 100);
    await stopped;
    expect(w.stats.sealedFiles).toBe(1);
    expect(await idsIn(root)).toEqual({ "binance-2027-01-15T08.c.tape": ["0"] });
  });

  it("takes the rest of a batch again, not the whole batch, when the next hour's file cannot be created", async () => {
    const root = (await tempDir()).dir;
    let failed = false;
    const openFile = async (path: string, flags: string): Promise<FileHandle> => {
      if (!failed && path.endsWith(".tape.open") && !path.includes("reblock") && path.includes("T")) {
        const hh = new Date(Number((H + HOUR) / 1_000_000n)).toISOString().slice(11, 13);
        if (path.endsWith(`T${hh}.c.tape.open`)) {
          failed = true;
          throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });
        }
      }
      return open(path, flags);
    };
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "c", writer: { openFile } },
      clock: { nowNs: () => H + HOUR + 10n },
      log: quietLog(),
      flushIntervalMs: 20,
    });
    for (let i = 0; i < 5; i++) w.push(tr(H + HOUR - 100n + BigInt(i), `${i}`));
    for (let i = 5; i < 8; i++) w.push(tr(H + HOUR + BigInt(i), `${i}`));
    w.start();
    await waitFor(() => failed && w.stats.written === 8, 5000);
    await w.stop();
    expect(w.stats.writeErrors).toBe(1);
    expect(Object.values(await idsIn(root)).flat()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
  });

  it("resynchronises the books once the queue takes records again, so the snapshot is not dropped too", async () => {
    const root = (await tempDir()).dir;
    let now = H + 1000n;
    const tick = () => {
      now += 1n;
      return now;
    };
    const con = new BinanceConnector({ symbols: ["BTCUSDT"], trades: false, book: true, bbo: false });
    const rests: string[] = [];
    let feed!: Feed;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "c" },
      clock: { nowNs: () => now },
      log: quietLog(),
      flushIntervalMs: 20,
      maxQueuedRecords: 20,
      onResumed: () => con.resync("records were dropped on their way to disk", now, feed.context),
    });
    feed = new Feed(con, { raw: false, sink: (r) => w.push(r), requestRest: (p) => rests.push(p) });
    const depth = (U: number, u: number, px: string) =>
      JSON.stringify({
        stream: "btcusdt@depth@100ms",
        data: { e: "depthUpdate", E: 1800000000000, s: "BTCUSDT", U, u, b: [[px, "1"]], a: [] },
      });
    const snap = (id: number) =>
      JSON.stringify({
        lastUpdateId: id,
        bids: [["100", "1"]],
        asks: [
          ["101", "1"],
          ["102", "1"],
        ],
      });
    feed.receive({ kind: "frame", recvNs: tick(), text: depth(10, 11, "98") });
    feed.receive({ kind: "rest", recvNs: tick(), path: rests.shift()!, body: snap(10) });
    // The writer is not draining yet: the queue overflows.
    for (let i = 12; i < 40; i++) feed.receive({ kind: "frame", recvNs: tick(), text: depth(i, i, "97") });
    expect(w.stats.dropped).toBeGreaterThan(0);
    expect(rests).toEqual([]);
    w.start();
    await waitFor(() => rests.length === 1);
    feed.receive({ kind: "rest", recvNs: tick(), path: rests.shift()!, body: snap(45) });
    for (let i = 46; i < 49; i++) feed.receive({ kind: "frame", recvNs: tick(), text: depth(i, i, "96") });
    await w.stop();
    const file = join(root, (await readdir(root, { recursive: true })).find((d) => d.endsWith(".tape"))!);
    // Blocks hold one kind each: receive order (events first within a message, as they were made) is the order
    // the records were made in.
    const rank = (r: TapeRecord) => [r.recvTs!, r.kind === "event" ? 0 : 1] as const;
    const recs = (await allRecords(file)).sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] - y[1];
    });
    const afterLoss = recs.slice(recs.findIndex((r) => r.kind === "event" && r.symbol === ""));
    const shape = afterLoss.map((r) =>
      r.kind === "event"
        ? `${r.type}${r.symbol === "" ? "(all)" : ""}`
        : r.kind === "book"
          ? `book${r.snapshot ? "*" : ""}:${r.seq}`
          : r.kind,
    );
    expect(shape, JSON.stringify(recs.map((r) => [r.kind, r.kind === "event" ? r.message : ""]))).toEqual([
      "gap(all)",
      "gap", // the writer's, for the book's own rows not written
      "gap", // the resync's
      "resync",
      "book*:45",
      "book*:45",
      "book*:45",
      "book:46",
      "book:47",
      "book:48",
    ]);
    // The loss is dated where its first record would have been (the venue's time), not at the recorder's later time:
    // the book replayed from the file in exchange-time order is valid again after the resync, and the connector's.
    const loss = recs.find((r) => r.kind === "event" && r.symbol === "")!;
    expect(loss.ts).toBe(1_800_000_000_000_000_000n);
    const book = new OrderBook("BTCUSDT");
    for await (const row of datasetOfFiles([file]).replay({
      symbols: ["BTCUSDT", ""],
      kinds: ["book", "event"],
    }))
      book.apply(row);
    const mine = con.bookOf("BTCUSDT")!.book.bids.top(100);
    expect(book.valid).toBe(true);
    expect(book.top(100).bids.map((l) => `${l.price}:${l.size}`)).toEqual(
      mine.map((l) => `${l.price}:${l.size}`),
    );
  });
});

describe("records dropped by the writer", () => {
  it("break each book where its own first row dropped would have been, after a snapshot written before them", async () => {
    const root = (await tempDir()).dir;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "c" },
      clock: { nowNs: () => 1_800_000_000_500_000_000n },
      log: quietLog(),
      flushIntervalMs: 20,
      maxQueuedRecords: 1,
    });
    const row = (
      symbol: string,
      ms: number,
      recvMs: number,
      size: string,
      snapshot = false,
    ): RecordInput => ({
      kind: "book",
      symbol,
      ts: BigInt(ms) * 1_000_000n,
      recvTs: BigInt(recvMs) * 1_000_000n,
      side: "bid",
      price: "99",
      size,
      snapshot,
    });
    const E = 1_800_000_000_000;
    // A's book, carried over at its own (older) time, is written; then the queue is full: another book's row of
    // an earlier time and A's next update are dropped.
    w.push(row("AUSDT", E + 100, E + 200, "1", true));
    w.push(row("BUSDT", E + 50, E + 201, "5"));
    w.push(row("AUSDT", E + 110, E + 202, "2"));
    w.start();
    await waitFor(() => w.stats.queued === 0);
    w.push(row("AUSDT", E + 120, E + 203, "3", false));
    await w.stop();
    const file = join(root, (await readdir(root, { recursive: true })).find((d) => d.endsWith(".tape"))!);
    const book = new OrderBook("AUSDT");
    for await (const r of datasetOfFiles([file]).replay({ symbols: ["AUSDT", ""], kinds: ["book", "event"] }))
      book.apply(r);
    // The update of size 2 is missing: the book must not read valid.
    expect(book.valid).toBe(false);
    const gaps = (await allRecords(file)).flatMap((r) => (r.kind === "event" ? [`${r.symbol} ${r.ts}`] : []));
    expect(gaps).toEqual([
      ` ${BigInt(E + 50) * 1_000_000n}`,
      `BUSDT ${BigInt(E + 50) * 1_000_000n}`,
      `AUSDT ${BigInt(E + 110) * 1_000_000n}`,
    ]);
  });
});
