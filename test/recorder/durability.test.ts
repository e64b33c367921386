/**
 * Writing as the recorder does: flushed small blocks, hours sealed with full blocks, parts joined after a restart,
 * a seal cut off at each step, a disk that fails, a queue that overflows.
 */
import type { FileHandle } from "node:fs/promises";
import { open, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openTape, type RecordInput, type TapeRecord, TapeWriter } from "../../src/index.js";
import { FeedWriter, type FlushAck } from "../../src/recorder/feed-writer.js";
import { listParts, sealHour, setAside } from "../../src/recorder/hour-sealer.js";
import type { RecorderLog } from "../../src/recorder/log.js";
import { tempDir } from "../reader/helpers.js";

const HOUR = 3_600_000_000_000n;
/** 2026-11-27T10:00:00Z */
const H10 = 1_795_773_600_000_000_000n;

function trade(i: number, recv: bigint, symbol = "BTCUSDT"): RecordInput {
  return {
    kind: "trade",
    symbol,
    ts: recv - 1000n,
    recvTs: recv,
    price: `${100 + (i % 7)}.5`,
    size: "1",
    side: "buy",
    tradeId: `${i}`,
  };
}

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
    expect(smallBlocks).toBe(100);
    expect(sealed.blocks.length).toBe(1);
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
});

/** Opens real files whose writes fail with ENOSPC while `full` is set. */
function fillableDisk() {
  const disk = { full: false, failures: 0 };
  const openFile = async (path: string, flags: string): Promise<FileHandle> => {
    const fh = await open(path, flags);
    return new Proxy(fh, {
      get(target, prop, receiver) {
        if (prop === "write") {
          return (...args: Parameters<FileHandle["write"]>) => {
            if (disk.full) {
              disk.failures++;
              return Promise.reject(
                Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }),
              );
            }
            return (target.write as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
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

  it("retries a full disk, drops beyond its bound, and says so in a gap event once writing resumes", async () => {
    const root = (await tempDir()).dir;
    const { disk, openFile } = fillableDisk();
    const log = quietLog();
    let dropped = 0;
    const w = new FeedWriter({
      hourly: { root, exchange: "binance", captureId: "t", writer: { openFile } },
      clock: { nowNs: () => H10 + (5n * HOUR) / 10n },
      log,
      flushIntervalMs: 10,
      maxQueuedRecords: 1000,
      maxUnwrittenBytes: 1,
      onDropped: () => dropped++,
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
    expect(dropped).toBe(1);
    expect(log.alerts).toContain("write failed, retrying");
    disk.full = false;
    w.push(trade(5000, H10 + 5000n));
    await w.stop();
    expect(w.stats.writeErrors).toBeGreaterThanOrEqual(3);
    const file = join(root, "2026-11-27", "binance", "binance-2026-11-27T10.t.tape");
    const recs = await allRecords(file);
    const trades = recs.filter((r) => r.kind === "trade");
    const gap = recs.find((r) => r.kind === "event");
    expect(trades.length + w.stats.dropped).toBe(3001);
    expect(gap).toMatchObject({ kind: "event", type: "gap", symbol: "" });
    expect(gap?.kind === "event" && gap.message).toMatch(
      new RegExp(`^${w.stats.dropped} records not written \\(trade ${w.stats.dropped}\\)`),
    );
    // Nothing before the disk filled up is missing.
    const ids = new Set(trades.map((t) => (t.kind === "trade" ? Number(t.tradeId) : -1)));
    for (let i = 0; i < 200; i++) expect(ids.has(i)).toBe(true);
  });
});
