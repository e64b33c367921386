import { randomBytes } from "node:crypto";
import {
  access,
  appendFile,
  copyFile,
  type FileHandle,
  mkdtemp,
  open,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeBlock } from "../../src/format/block.js";
import { encodeHeader } from "../../src/format/header.js";
import { MAX_UNSYNCED_BYTES, syncDirectory } from "../../src/format/writer.js";
import {
  crc32c,
  encodeTape,
  type RecordInput,
  repairedPath,
  repairTape,
  TapeReader,
  type TapeRecord,
  TapeWriter,
  type TapeWriterOptions,
} from "../../src/index.js";
import { diskFull, heldFsync, realWrite, withFaults } from "../support/faulty-file.js";
import { drainRecords, expectTapeError, recordKey, sampleRecords, streams, thrown } from "./helpers.js";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ticktape-writer-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = async (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Readers handed to tests, closed after each test (closing twice is harmless). */
const openReaders: TapeReader[] = [];
afterEach(async () => {
  await Promise.all(openReaders.splice(0).map((r) => r.close()));
});

async function readFileRecords(path: string): Promise<{ reader: TapeReader; records: TapeRecord[] }> {
  const reader = await TapeReader.open(path);
  openReaders.push(reader);
  const { records, error } = await drainRecords(reader);
  if (error !== null) throw error;
  return { reader, records };
}

async function write(
  path: string,
  records: TapeRecord[],
  options: TapeWriterOptions = {},
): Promise<TapeWriter> {
  const w = await TapeWriter.create(path, options);
  for (const r of records) w.append(r);
  return w;
}

/** One trade for each of `n` symbols: a flush makes a block of each. */
const tradesOfSymbols = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    kind: "trade" as const,
    symbol: `S${i}`,
    ts: 1_700_000_000_000_000_000n + BigInt(i),
    price: "1.5",
    size: "2",
    side: "buy" as const,
  }));

describe("TapeWriter with files", () => {
  it("create() makes NAME.tape.open and seal() renames it to NAME.tape", async () => {
    const path = join(dir, "a.tape");
    const w = await TapeWriter.create(path, { exchange: "test", codec: "lz4" });
    expect(w.openPath).toBe(`${path}.open`);
    expect(await exists(`${path}.open`)).toBe(true);
    expect(await exists(path)).toBe(false);
    for (const r of sampleRecords()) w.append(r);
    const summary = await w.seal();
    expect(summary.path).toBe(path);
    expect(summary.rows).toBe(36);
    expect(await exists(`${path}.open`)).toBe(false);
    expect((await stat(path)).size).toBe(summary.bytes);
    const { reader, records } = await readFileRecords(path);
    expect(reader.sealed).toBe(true);
    expect(reader.header.exchange).toBe("test");
    expect(reader.blocks.length).toBe(summary.blocks);
    expect(streams(records)).toEqual(streams(sampleRecords()));
    expect(await reader.verify()).toMatchObject({ ok: true, rows: 36, digest: "ok" });
    await reader.close();
  });

  it("writes the same bytes as encodeTape", async () => {
    const path = join(dir, "same.tape");
    const options = {
      exchange: "x",
      captureId: "c",
      meta: { a: "b" },
      codec: "zstd",
      policy: { maxRows: 5 },
    } as const;
    await (await write(path, sampleRecords(), options)).seal();
    const expected = encodeTape(sampleRecords(), options, options);
    expect(Buffer.compare(await readFile(path), expected)).toBe(0);
  });

  it("create() refuses when NAME.tape.open exists, and leaves it alone", async () => {
    const path = join(dir, "b.tape");
    const first = await write(path, sampleRecords(10));
    await first.flush();
    const before = await readFile(`${path}.open`);
    const e = expectTapeError(await thrown(() => TapeWriter.create(path)), ["E_TAPE_IO"]);
    expect(e.file).toBe(`${path}.open`);
    expect(Buffer.compare(await readFile(`${path}.open`), before)).toBe(0);
    await first.seal();
    expect((await readFileRecords(path)).records.length).toBe(10);
  });

  it("after seal() the writer refuses appends and close() is a no-op", async () => {
    const path = join(dir, "c.tape");
    const w = await write(path, sampleRecords(3));
    await w.seal();
    expect(() => w.append(sampleRecords(1)[0]!)).toThrow(expect.objectContaining({ code: "E_TAPE_STATE" }));
    await expect(w.seal()).rejects.toMatchObject({ code: "E_TAPE_STATE" });
    await w.close();
    expect((await readFileRecords(path)).records.length).toBe(3);
  });

  it("close() without seal() leaves NAME.tape.open, readable by recovery with every record", async () => {
    const path = join(dir, "d.tape");
    const w = await write(path, sampleRecords(), { policy: { maxRows: 4 } });
    await w.close();
    expect(await exists(path)).toBe(false);
    const size = (await stat(`${path}.open`)).size;
    const { reader, records } = await readFileRecords(`${path}.open`);
    expect(reader.sealed).toBe(false);
    expect(reader.recovery).not.toBeNull();
    expect(reader.recovery!.reason.code).toBe("E_TAPE_NO_TRAILER");
    expect(reader.recovery).toMatchObject({ stop: null, validEnd: size, droppedBytes: 0 });
    expect(streams(records)).toEqual(streams(sampleRecords()));
    const report = await reader.verify();
    expect(report).toMatchObject({ ok: false, sealed: false, rows: 36 });
    await reader.close();
    await expect(TapeReader.open(`${path}.open`, { recover: false })).rejects.toMatchObject({
      code: "E_TAPE_NO_TRAILER",
    });
  });

  it("flush() makes every record appended before it durable; later ones are not yet in the file", async () => {
    const path = join(dir, "e.tape");
    const recs = sampleRecords(20);
    const w = await write(path, recs.slice(0, 12));
    await w.flush({ sync: true });
    for (const r of recs.slice(12)) w.append(r);
    // A crash now: copy what is on disk.
    const crashed = join(dir, "crashed.tape.open");
    await copyFile(`${path}.open`, crashed);
    const { records } = await readFileRecords(crashed);
    expect(streams(records)).toEqual(streams(recs.slice(0, 12)));
    await w.close();
    expect(streams((await readFileRecords(`${path}.open`)).records)).toEqual(streams(recs));
  });

  it("flush() lets the event loop run between the blocks it encodes, and still writes every record", async () => {
    const path = join(dir, "f.tape");
    const recs = tradesOfSymbols(12);
    const w = await write(path, recs);
    // Twelve buffers, so twelve blocks: callbacks queued meanwhile see the blocks appear one by one.
    const seen = new Set<number>();
    let running = true;
    const spin = () => {
      if (!running) return;
      seen.add(w.blocks.length);
      setImmediate(spin);
    };
    setImmediate(spin);
    await w.flush();
    running = false;
    expect(w.blocks.length).toBe(12);
    expect([...seen].filter((n) => n > 0 && n < 12).length).toBeGreaterThanOrEqual(10);
    await w.close();
    expect(streams((await readFileRecords(`${path}.open`)).records)).toEqual(streams(recs));
  });

  it("flushPauseMs spreads a flush's blocks over that much time each; a value out of range is refused", async () => {
    const path = join(dir, "f.tape");
    const recs = tradesOfSymbols(20);
    const w = await write(path, recs, { flushPauseMs: 5 });
    const t0 = performance.now();
    await w.flush();
    // Twenty blocks, each followed by a pause of at least 5 ms (a timer never fires early).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(20 * 5 - 1);
    expect(w.blocks.length).toBe(20);
    await w.close();
    expect(streams((await readFileRecords(`${path}.open`)).records)).toEqual(streams(recs));
    for (const flushPauseMs of [-1, Number.NaN, 1001]) {
      const e = expectTapeError(
        await thrown(() => TapeWriter.create(join(dir, "g.tape"), { flushPauseMs })),
        ["E_TAPE_VALUE"],
      );
      expect(e.field).toBe("flushPauseMs");
    }
    expect(await exists(join(dir, "g.tape.open"))).toBe(false);
  });

  it("flush() writes the buffers that held records when it started, once each: later records wait for the next", async () => {
    const path = join(dir, "g.tape");
    const trade = (symbol: string, i: number) => ({
      kind: "trade" as const,
      symbol,
      ts: 1_700_000_000_000_000_000n + BigInt(i),
      price: "1.5",
      size: "2",
      side: "buy" as const,
    });
    const w = await write(path, [trade("A", 0), trade("B", 1), trade("C", 2)]);
    const flushing = w.flush();
    // Between the flush's blocks: A again (written already by this flush), and D (empty when it started).
    await new Promise((r) => setImmediate(r));
    w.append(trade("A", 3));
    w.append(trade("D", 4));
    await flushing;
    expect(w.blocks.map((b) => [b.symbol, b.rowCount])).toEqual([
      ["A", 1],
      ["B", 1],
      ["C", 1],
    ]);
    await w.flush();
    expect(w.blocks.map((b) => [b.symbol, b.rowCount]).slice(3)).toEqual([
      ["A", 1],
      ["D", 1],
    ]);
    await w.close();
    expect((await readFileRecords(`${path}.open`)).records).toHaveLength(5);
  });

  it("a writer created and closed at once leaves a header-only file that recovers with no blocks", async () => {
    const path = join(dir, "empty.tape");
    const w = await TapeWriter.create(path);
    await w.close();
    const { reader, records } = await readFileRecords(`${path}.open`);
    expect(records).toEqual([]);
    expect(reader.blocks).toEqual([]);
    expect(reader.recovery).toMatchObject({ droppedBytes: 0, stop: null });
  });
});

describe("TapeWriter flushes without fsync", () => {
  it("count nothing as unwritten, and keep at most MAX_UNSYNCED_BYTES in memory for an fsync to come", async () => {
    const w = await TapeWriter.create(join(dir, "unsynced.tape"), { retryWrites: { onWriteError() {} } });
    const HOUR = 1_800_000_000_000_000_000n;
    let peak = 0;
    // 24 flushes of about 2 MiB of raw frames that do not compress: 48 MiB written without asking for an fsync.
    for (let f = 0; f < 24; f++) {
      for (let i = 0; i < 2048; i++) {
        const ts = HOUR + BigInt(f * 2048 + i);
        w.append({ kind: "raw", symbol: "", ts, recvTs: ts, data: new Uint8Array(randomBytes(1024)) });
      }
      await w.flush({ sync: false });
      // Written: nothing counts as waiting for the disk (the recorder stops draining its queue on that count).
      expect(w.unwrittenBytes).toBe(0);
      peak = Math.max(peak, w.unsyncedBytes);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(MAX_UNSYNCED_BYTES + 4 * 1024 * 1024);
    const summary = await w.seal();
    expect(summary.rows).toBe(24 * 2048);
    expect(w.unsyncedBytes).toBe(0);
  });
});

describe("TapeWriter written to during an fsync", () => {
  it("keeps what was written while the fsync ran for the next one to vouch for", async () => {
    const { gate, openFile, held } = heldFsync();
    const w = await TapeWriter.create(join(dir, "during-fsync.tape"), {
      openFile,
      retryWrites: { onWriteError() {} },
    });
    const records = sampleRecords(200);
    for (const r of records.slice(0, 100)) w.append(r);
    gate.armed = true;
    const first = w.flush({ sync: true });
    await held();
    const before = w.unsyncedBytes;
    // Appended and written while the fsync is held: that fsync may not cover these bytes.
    for (const r of records.slice(100)) w.append(r);
    await w.flush({ sync: false });
    const writtenDuring = w.unsyncedBytes - before;
    gate.release!();
    await first;
    expect(before).toBeGreaterThan(0);
    expect(writtenDuring).toBeGreaterThan(0);
    expect(w.unsyncedBytes).toBe(writtenDuring);
    await w.flush({ sync: true });
    expect(w.unsyncedBytes).toBe(0);
    await w.seal();
  });

  it("seals only once the flushes in progress have ended", async () => {
    const { gate, openFile, held } = heldFsync();
    const w = await TapeWriter.create(join(dir, "seal-after-flush.tape"), { openFile });
    const records = sampleRecords(100);
    for (const r of records.slice(0, 50)) w.append(r);
    const events: string[] = [];
    gate.armed = true;
    const first = w.flush({ sync: true }).then(
      () => events.push("first flush"),
      (e) => events.push(`first flush failed: ${(e as Error).message}`),
    );
    await held();
    for (const r of records.slice(50)) w.append(r);
    const second = w.flush({ sync: true }).then(() => events.push("second flush"));
    const sealed = w.seal().then(() => events.push("sealed"));
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual([]);
    gate.release!();
    await Promise.all([first, second, sealed]);
    expect(events).toEqual(["first flush", "second flush", "sealed"]);
    const { records: read } = await readFileRecords(join(dir, "seal-after-flush.tape"));
    expect(read.map(recordKey).sort()).toEqual(records.map(recordKey).sort());
  });

  it("runs one fsync at a time: a second waits for the first, which fails and writes everything again", async () => {
    const path = join(dir, "one-fsync.tape");
    const state = { synced: 0, calls: 0, gate: null as ((fail: boolean) => void) | null, hold: true };
    const openFile = async (p: string, flags: string): Promise<FileHandle> =>
      withFaults(await open(p, flags), {
        sync: async (real) => {
          state.calls++;
          if (state.hold) {
            state.hold = false;
            if (await new Promise<boolean>((r) => (state.gate = r))) {
              // The failed writeback: what no good fsync vouched for is gone.
              await truncate(p, state.synced);
              throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
            }
          }
          await real.sync();
          state.synced = (await real.stat()).size;
        },
      });
    const w = await TapeWriter.create(path, { openFile, retryWrites: { onWriteError() {}, maxDelayMs: 5 } });
    const records = sampleRecords(300);
    for (const r of records.slice(0, 100)) w.append(r);
    const calls = state.calls;
    const first = w.flush({ sync: true });
    while (state.gate === null) await new Promise((r) => setTimeout(r, 1));
    for (const r of records.slice(100, 200)) w.append(r);
    const second = w.flush({ sync: true });
    await new Promise((r) => setTimeout(r, 30));
    expect(state.calls).toBe(calls + 1);
    state.gate!(true);
    await Promise.all([first, second]);
    for (const r of records.slice(200)) w.append(r);
    await w.seal();
    const { records: read } = await readFileRecords(path);
    expect(read.map(recordKey).sort()).toEqual(records.map(recordKey).sort());
  });

  it("writes again, after a failed fsync, a write that was in flight across it", async () => {
    const path = join(dir, "in-flight.tape");
    const state = {
      synced: 0,
      failSync: null as Promise<void> | null,
      syncHeld: false,
      holdWrite: false,
      writeHeld: null as (() => void) | null,
    };
    const openFile = async (p: string, flags: string): Promise<FileHandle> =>
      withFaults(await open(p, flags), {
        write: async (real, args) => {
          // The bytes reach the file (the page cache); the write returns later.
          const r = await realWrite(real, args);
          if (state.holdWrite) {
            state.holdWrite = false;
            await new Promise<void>((res) => (state.writeHeld = res));
          }
          return r;
        },
        sync: async (real) => {
          if (state.failSync !== null) {
            const gate = state.failSync;
            state.failSync = null;
            state.syncHeld = true;
            await gate;
            await truncate(p, state.synced);
            throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          }
          await real.sync();
          state.synced = (await real.stat()).size;
        },
      });
    const w = await TapeWriter.create(path, { openFile, retryWrites: { onWriteError() {}, maxDelayMs: 5 } });
    const T = 1_800_000_000_000_000_000n;
    const records: RecordInput[] = [];
    const add = (bytes: number) => {
      const r: RecordInput = {
        kind: "raw",
        symbol: "X",
        ts: T + BigInt(records.length),
        data: new Uint8Array(randomBytes(bytes)),
      };
      records.push(r);
      w.append(r);
    };
    for (let i = 0; i < 10; i++) add(1000);
    let releaseSync!: () => void;
    state.failSync = new Promise<void>((r) => (releaseSync = r));
    const first = w.flush({ sync: true });
    while (!state.syncHeld) await new Promise((r) => setTimeout(r, 1));
    // Appended during the fsync: enough to start a write, which is still in flight when the fsync fails.
    state.holdWrite = true;
    for (let i = 0; i < 80; i++) add(64 * 1024);
    while (state.writeHeld === null) await new Promise((r) => setTimeout(r, 1));
    releaseSync();
    await new Promise((r) => setTimeout(r, 20));
    state.writeHeld!();
    await first;
    for (let i = 0; i < 10; i++) add(1000);
    await w.flush({ sync: true });
    await w.seal();
    const { records: read } = await readFileRecords(path);
    expect(read.length).toBe(records.length);
  });

  it("gives up a flush whose fsync fails after discard(), and close() returns", async () => {
    const gate: { release: (() => void) | null } = { release: null };
    let hold = false;
    const openFile = async (p: string, flags: string): Promise<FileHandle> =>
      withFaults(await open(p, flags), {
        sync: async () => {
          if (hold) {
            hold = false;
            await new Promise<void>((r) => (gate.release = r));
            throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          }
        },
      });
    const w = await TapeWriter.create(join(dir, "discarded.tape"), {
      openFile,
      retryWrites: { onWriteError() {}, maxDelayMs: 5 },
    });
    for (const r of sampleRecords(50)) w.append(r);
    hold = true;
    const flushed = w.flush({ sync: true }).then(
      () => "resolved",
      () => "rejected",
    );
    while (gate.release === null) await new Promise((r) => setTimeout(r, 1));
    await w.discard();
    gate.release!();
    expect(await flushed).toBe("rejected");
    await w.close();
  });
});

describe("TapeWriter after a failed fsync", () => {
  it("writes everything since the last good fsync again, retrying that write too, before it fsyncs again", async () => {
    // A disk whose failed fsync drops the pages written since the last good one (the file is cut back to it), and
    // whose next write then fails once.
    const state = { failSync: false, failWrite: false, synced: 0 };
    const openFile = async (path: string, flags: string): Promise<FileHandle> => {
      const fh = await open(path, flags);
      return withFaults(fh, {
        sync: async (real) => {
          if (state.failSync) {
            state.failSync = false;
            state.failWrite = true;
            await truncate(path, state.synced);
            throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          }
          await real.sync();
          state.synced = (await real.stat()).size;
        },
        write: (real, args) => {
          if (!state.failWrite) return realWrite(real, args);
          state.failWrite = false;
          return diskFull();
        },
      });
    };
    const errors: string[] = [];
    const path = join(dir, "fsync.tape");
    const w = await TapeWriter.create(path, {
      openFile,
      retryWrites: { onWriteError: (e) => errors.push((e as Error).message), maxDelayMs: 5 },
    });
    const records = sampleRecords(300);
    for (const r of records.slice(0, 100)) w.append(r);
    await w.flush({ sync: true });
    state.failSync = true;
    for (const r of records.slice(100, 200)) w.append(r);
    await w.flush({ sync: true });
    expect(errors.some((e) => e.startsWith("EIO"))).toBe(true);
    expect(errors.some((e) => e.startsWith("ENOSPC"))).toBe(true);
    for (const r of records.slice(200)) w.append(r);
    await w.seal();
    const { records: read } = await readFileRecords(path);
    expect(read.map(recordKey).sort()).toEqual(records.map(recordKey).sort());
  });
});

describe("syncDirectory", () => {
  it("reports a folder it cannot fsync (only file systems without folder fsync are let pass)", async () => {
    await syncDirectory(dir);
    await expect(syncDirectory(join(dir, "gone"))).rejects.toMatchObject({
      code: "E_TAPE_IO",
      file: join(dir, "gone"),
    });
  });
});

describe("repairTape", () => {
  async function unsealed(name: string, records = sampleRecords()): Promise<string> {
    const path = join(dir, name);
    await (await write(path, records, { policy: { maxRows: 4 }, codec: "zstd" })).close();
    return `${path}.open`;
  }

  it("seals a NAME.tape.open into NAME.tape with the same records, and removes the source", async () => {
    const open = await unsealed("f.tape");
    const size = (await stat(open)).size;
    const result = await repairTape(open);
    expect(result.output).toBe(join(dir, "f.tape"));
    expect(repairedPath(open)).toBe(result.output);
    expect(result).toMatchObject({ source: open, rows: 36, droppedBytes: 0, stop: null });
    expect(await exists(open)).toBe(false);
    const { reader, records } = await readFileRecords(result.output!);
    expect(reader.sealed).toBe(true);
    expect(reader.blocks.length).toBe(result.blocks);
    expect(reader.footerOffset).toBe(size);
    expect(streams(records)).toEqual(streams(sampleRecords()));
    expect(reader.symbols).toEqual(["BTC-USDT", "ÉTH/€", ""]);
    const report = await reader.verify();
    expect(report.issues).toEqual([]);
    expect(report).toMatchObject({ ok: true, digest: "ok", rows: 36 });
  });

  it("keepSource keeps the .open file; an explicit output is honoured", async () => {
    const open = await unsealed("g.tape");
    const output = join(dir, "elsewhere.tape");
    const result = await repairTape(open, { output, keepSource: true });
    expect(result.output).toBe(output);
    expect(await exists(open)).toBe(true);
    expect((await readFileRecords(output)).records.length).toBe(36);
  });

  it("drops garbage after the last block: droppedBytes is its length", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 120 }), async (garbage) => {
        // Garbage that starts with a block or footer magic is a different case (a torn block).
        fc.pre(garbage[0] !== 0x54);
        const open = await unsealed(`h-${Math.random().toString(36).slice(2)}.tape`);
        const validEnd = (await stat(open)).size;
        await appendFile(open, garbage);
        const reader = await TapeReader.open(open);
        expect(reader.recovery).toMatchObject({ validEnd, droppedBytes: garbage.length });
        expect(reader.recovery!.stop?.code).toMatch(/^E_TAPE_(CORRUPT|TRUNCATED)$/);
        await reader.close();
        const result = await repairTape(open);
        expect(result.droppedBytes).toBe(garbage.length);
        expect(result.stop).not.toBeNull();
        const { reader: fixed, records } = await readFileRecords(result.output!);
        expect(fixed.footerOffset).toBe(validEnd);
        expect(streams(records)).toEqual(streams(sampleRecords()));
        expect((await fixed.verify()).ok).toBe(true);
        await fixed.close();
        await rm(result.output!);
      }),
      { numRuns: 15 },
    );
  });

  it("drops a torn last block (a crash mid-write) and keeps every whole block", async () => {
    const full = await unsealed("torn-src.tape");
    const bytes = await readFile(full);
    const { reader, records: all } = await readFileRecords(full);
    const blocks = reader.blocks;
    await reader.close();
    const last = blocks.at(-1)!;
    const kept = all.slice(0, all.length - last.rowCount).map(recordKey);
    for (const keep of [1, 4, 41, 42, 60, last.length - 1]) {
      const open = join(dir, `torn-${keep}.tape.open`);
      await writeFile(open, bytes.subarray(0, last.offset + keep));
      const result = await repairTape(open);
      expect(result).toMatchObject({ droppedBytes: keep, blocks: blocks.length - 1 });
      const { reader: fixed, records } = await readFileRecords(result.output!);
      expect(records.map(recordKey)).toEqual(kept);
      expect((await fixed.verify()).ok).toBe(true);
      await fixed.close();
    }
  });

  it("leaves an intact sealed file alone", async () => {
    const path = join(dir, "i.tape");
    await (await write(path, sampleRecords())).seal();
    const before = await readFile(path);
    const result = await repairTape(path);
    expect(result).toMatchObject({ output: null, rows: 36, droppedBytes: 0, stop: null });
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect(await exists(repairedPath(path))).toBe(false);
  });

  it("does not call a sealed file with a corrupt block intact", async () => {
    const path = join(dir, "j.tape");
    await (await write(path, sampleRecords(), { policy: { maxRows: 4 } })).seal();
    const bytes = await readFile(path);
    const reader = await TapeReader.open(path);
    const victim = reader.blocks[3]!;
    await reader.close();
    bytes[victim.offset + victim.headerLength]! ^= 0xff;
    await writeFile(path, bytes);
    const result = await repairTape(path, { keepSource: true });
    const check = await TapeReader.open(result.output ?? path);
    expect((await check.verify()).ok).toBe(true);
    await check.close();
  });

  /** The blocks of a file (read through its footer or its scan), and its bytes. */
  async function blocksOf(path: string) {
    const reader = await TapeReader.open(path);
    const blocks = reader.blocks;
    await reader.close();
    return { blocks, bytes: await readFile(path) };
  }
  /** Sets a u32 or u8 of a block's header, and the block CRC that goes with it. */
  function patchBlock(bytes: Uint8Array, b: { offset: number; length: number }, at: number, value: number) {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    if (at === 8) view.setUint8(b.offset + at, value);
    else view.setUint32(b.offset + at, value, true);
    const crcAt = b.offset + b.length - 4;
    view.setUint32(crcAt, crc32c(bytes.subarray(b.offset, crcAt)), true);
  }

  it("numbers symbol ids again in order of first use: any u32 ids of a scanned file make no huge dictionary", async () => {
    const source = await unsealed("ids.tape");
    const { blocks, bytes } = await blocksOf(source);
    // A writer's own ids are kept: its blocks are copied byte for byte.
    const same = await repairTape(source, { output: join(dir, "ids-same.tape"), keepSource: true });
    expect(Buffer.compare((await readFile(same.output!)).subarray(0, bytes.length), bytes)).toBe(0);
    // Ids near 2^32, one per symbol as the scan requires.
    for (const b of blocks) patchBlock(bytes, b, 12, 0xffff_fff0 - b.symbolId * 7);
    const open = join(dir, "ids-far.tape.open");
    await writeFile(open, bytes);
    const result = await repairTape(open);
    const { reader, records } = await readFileRecords(result.output!);
    expect(streams(records)).toEqual(streams(sampleRecords()));
    expect(reader.symbols).toEqual(["BTC-USDT", "ÉTH/€", ""]);
    expect(reader.blocks.map((b) => b.symbolId)).toEqual(blocks.map((b) => b.symbolId));
    expect((await stat(result.output!)).size).toBe((await stat(same.output!)).size);
    expect((await reader.verify()).ok).toBe(true);
  });

  it("leaves out a checkpoint block that fails its own checks, so that the repaired file verifies", async () => {
    const ts = 1_732_500_000_000_000_000n;
    const ints = (base: bigint, offsets: number[]) => ({
      type: "int" as const,
      base,
      offsets: Float64Array.from(offsets),
      scale: 0,
      valid: null,
    });
    const checkpoint = (since: number[]) =>
      encodeBlock(
        {
          kind: "checkpoint",
          symbolId: 0,
          symbol: "BTC-USDT",
          rowCount: 2,
          minTs: ts,
          maxTs: ts,
          columns: {
            ts: ints(ts, [0, 0]),
            side: { type: "u8", values: Uint8Array.of(0, 1), valid: null },
            price: ints(100n, [0, 1]),
            size: ints(1n, [0, 0]),
            bookRows: ints(2n, [0, 0]),
            eventRows: ints(0n, [0, 0]),
            since: ints(ts - 5n, since),
            lastChange: ints(ts, [0, 0]),
          },
        },
        "none",
      );
    const header = encodeHeader({ exchange: "okx", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} });
    const good = checkpoint([0, 0]);
    const open = join(dir, "ckpt.tape.open");
    // `since` differs between the rows of the second: not a checkpoint (§6.5), though its CRC is right.
    await writeFile(open, Buffer.concat([header, good, checkpoint([0, 1])]));
    const result = await repairTape(open);
    expect(result).toMatchObject({ blocks: 1, droppedBlocks: 1 });
    expect(result.stop).toMatch(/checkpoint\.since/);
    const reader = await TapeReader.open(result.output!);
    openReaders.push(reader);
    expect(await reader.verify()).toMatchObject({ ok: true, issues: [] });
    expect(reader.checkpointBlocks()).toHaveLength(1);
  });

  it("keeps a whole block of a kind a later version adds, as verify accepts it", async () => {
    const source = await unsealed("later.tape");
    const { blocks, bytes } = await blocksOf(source);
    const later = blocks[2]!;
    patchBlock(bytes, later, 8, 7);
    const open = join(dir, "later-kind.tape.open");
    await writeFile(open, bytes);
    const result = await repairTape(open);
    expect(result).toMatchObject({ blocks: blocks.length, droppedBlocks: 0, droppedBytes: 0 });
    const { reader, records } = await readFileRecords(result.output!);
    expect(reader.blocks[2]).toMatchObject({ kind: null, kindId: 7 });
    expect(records).toHaveLength(36 - later.rowCount);
    expect(await reader.verify()).toMatchObject({ ok: true, rows: 36 - later.rowCount });
  });

  it("records of the repaired file equal those read from the .open file", async () => {
    const recs = sampleRecords(50);
    const open = await unsealed("k.tape", recs);
    const before = (await readFileRecords(open)).records.map(recordKey);
    const result = await repairTape(open);
    const after = (await readFileRecords(result.output!)).records.map(recordKey);
    expect(after).toEqual(before);
  });
});
