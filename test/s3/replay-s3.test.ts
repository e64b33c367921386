import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BlockCache,
  blockRecords,
  datasetOfFiles,
  openDataset,
  openTape,
  S3ObjectSource,
  type S3Options,
  S3Storage,
  TapeError,
  type TapeRecord,
} from "../../src/index.js";
import { recordKey } from "../format/helpers.js";
import { collect, DAY0, type FileSpec, HOUR, tempDir, writeDataset } from "../reader/helpers.js";
import { FaultProxy } from "../support/fault-proxy.js";
import { S3Emulator } from "../support/s3-emulator.js";

const BUCKET = "ticks";
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDT"];

/**
 * An hour of trades and book updates of three symbols, one row every 36 ms, in blocks of 256 rows, with
 * pseudo-random sizes so that the file is not tiny (about 1 MB).
 */
function hourOf(exchange: string, hour: bigint, captureId: string, seed: number): FileSpec {
  const records: TapeRecord[] = [];
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  let price = 1000 + seed;
  for (let i = 0; i < 100_000; i++) {
    const ts = hour + BigInt(i) * 36_000_000n + BigInt(Math.floor(random() * 1e6));
    const symbol = SYMBOLS[i % SYMBOLS.length]!;
    price += Math.floor(random() * 5) - 2;
    const size = `${Math.floor(random() * 1000)}.${Math.floor(random() * 1e6)}`;
    const recvTs = ts + BigInt(Math.floor(random() * 5e6));
    if (i % 3 === 0) {
      const side = random() < 0.5 ? "buy" : "sell";
      records.push({
        kind: "trade",
        symbol,
        ts,
        recvTs,
        price: `${price}.5`,
        size,
        side,
        tradeId: String(i),
      });
    } else {
      const side = random() < 0.5 ? "bid" : "ask";
      records.push({
        kind: "book",
        symbol,
        ts,
        recvTs,
        side,
        price: `${price}`,
        size,
        snapshot: i < 6,
        seq: BigInt(i),
      });
    }
  }
  return { exchange, hour, captureId, records, policy: { maxRows: 256 } };
}

let emulator: S3Emulator;
let proxy: FaultProxy;
let root: string;
let remove: () => Promise<void>;
let paths: string[];
let options: S3Options;

beforeAll(async () => {
  emulator = await S3Emulator.start();
  proxy = await FaultProxy.start(emulator.endpoint);
  options = emulator.options(proxy.endpoint);
  ({ dir: root, remove } = await tempDir());
  // Files of a few hundred kB at least, so that opening one does not fetch all of it.
  paths = await writeDataset(root, [
    hourOf("binance", DAY0, "a", 1),
    hourOf("binance", DAY0 + HOUR, "a", 2),
    hourOf("okx", DAY0, "a", 3),
    hourOf("okx", DAY0, "b", 4),
  ]);
  await emulator.createBucket(BUCKET);
  await emulator.upload(BUCKET, "data/", root, paths);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await emulator?.stop();
  await remove?.();
});

const keys = (records: readonly object[]) => records.map((r) => recordKey(r));

describe("datasets in S3", () => {
  it("list the same files and replay the same records in the same order as on disk", async () => {
    const local = await openDataset(root);
    const remote = await openDataset(`s3://${BUCKET}/data`, { s3: options });
    expect(remote.files.map((f) => f.path.slice(`s3://${BUCKET}/data/`.length))).toEqual(
      local.files.map((f) => f.path.slice(root.length + 1)),
    );
    const range = { from: DAY0 + 10n * 60_000_000_000n, to: DAY0 + HOUR + 5n * 60_000_000_000n };
    const want = keys(await collect(local.replay({ exact: true, ...range })));
    expect(want.length).toBeGreaterThan(1000);
    expect(keys(await collect(remote.replay({ exact: true, ...range })))).toEqual(want);
    await remote.sources.close();
  });

  it("scan as columns and build books as from disk", async () => {
    const local = await openDataset(root, { exchanges: ["binance"] });
    const remote = await openDataset(`s3://${BUCKET}/data`, { exchanges: ["binance"], s3: options });
    const rows = async (ds: typeof local) =>
      (await collect(ds.batches())).reduce((n, b) => n + (b.block?.header.rowCount ?? 0), 0);
    expect(await rows(remote)).toBeGreaterThan(1000);
    expect(await rows(remote)).toBe(await rows(local));
    const at = DAY0 + 37n * 60_000_000_000n + 5n;
    const book = async (ds: typeof local) => {
      const [snapshot] = await collect(ds.books({ symbol: "ETH-USDT", at }));
      return JSON.stringify(snapshot?.book.top(5));
    };
    expect(await book(remote)).toBe(await book(local));
    await remote.sources.close();
  });

  it("split into shards by the sizes the listing gave, without a request per file", async () => {
    const remote = await openDataset(`s3://${BUCKET}/data`, { s3: options });
    proxy.resetCounts();
    const shares = await Promise.all([0, 1, 2].map((i) => remote.partition(i, 3)));
    expect(proxy.counts.HEAD + proxy.counts.RANGE).toBe(0);
    const paths = shares.flatMap((s) => s.files.map((f) => f.path)).sort();
    expect(paths).toEqual(remote.files.map((f) => f.path).sort());
    await remote.sources.close();
  });

  it("openTape reads an object like the file", async () => {
    const url = `s3://${BUCKET}/data/${paths[0]!.slice(root.length + 1)}`;
    const local = await openTape(paths[0]!);
    const remote = await openTape(url, { s3: options });
    expect(remote.size).toBe(local.size);
    expect(remote.blocks.length).toBe(local.blocks.length);
    expect(remote.blocks.length).toBeGreaterThan(30);
    for (const b of [remote.blocks[0]!, remote.blocks[17]!, remote.blocks[remote.blocks.length - 1]!]) {
      expect(keys(blockRecords(await remote.readBlock(b)))).toEqual(
        keys(blockRecords(await local.readBlock(b))),
      );
    }
    await remote.close();
    await local.close();
  });

  it("a minute of an hour costs a GET of the tail, one of the header and one of the blocks", async () => {
    const url = `s3://${BUCKET}/data/${paths[0]!.slice(root.length + 1)}`;
    const minute = { from: DAY0 + 30n * 60_000_000_000n, to: DAY0 + 31n * 60_000_000_000n };
    const local = datasetOfFiles([paths[0]!], minute);
    const remote = datasetOfFiles([url], { ...minute, s3: options });
    proxy.resetCounts();
    const want = keys(await collect(local.replay({ exact: true })));
    expect(want.length).toBeGreaterThan(100);
    expect(keys(await collect(remote.replay({ exact: true })))).toEqual(want);
    expect(proxy.counts.RANGE, proxy.ranges.join(", ")).toBeLessThanOrEqual(3);
    expect(proxy.counts.HEAD).toBe(0);
    const stats = await remote.sources.s3Stats();
    expect(stats!.bytesFetched).toBeLessThan((await stat(paths[0]!)).size / 2);
    await remote.sources.close();
  });
});

describe("S3 faults", () => {
  const url = () => `s3://${BUCKET}/data/${paths[2]!.slice(root.length + 1)}`;

  it("503s, a body cut short and a stalled response are retried", async () => {
    const storage = await S3Storage.create({ ...options, requestTimeoutMs: 400 });
    const source = await S3ObjectSource.open(url(), storage);
    const want = (await readFile(paths[2]!)).subarray(1000, 101_000);
    proxy.injectRangeFaults({ status: 503 }, { status: 503 }, { cutAfterBytes: 1000 }, { delayMs: 1500 });
    expect(Buffer.compare(await source.read(1000, 100_000), want)).toBe(0);
    await source.close();
    expect(storage.stats.retries).toBe(4);
    storage.close();
  });

  it("a server that keeps failing gives E_TAPE_S3 after the last try", async () => {
    const storage = await S3Storage.create({ ...options, maxAttempts: 3 });
    const source = await S3ObjectSource.open(url(), storage);
    proxy.injectRangeFaults({ status: 503 }, { status: 503 }, { status: 503 });
    await expect(source.read(1000, 100_000)).rejects.toMatchObject({ code: "E_TAPE_S3" });
    expect(storage.stats.retries).toBe(2);
    await source.close();
    storage.close();
  });

  it("a request that keeps failing stops a replay that skips damage: it is not taken for a damaged block", async () => {
    const ds = datasetOfFiles([url()], { s3: { ...options, maxAttempts: 2 } });
    // The footer comes through; every block read fails.
    proxy.injectRangeFaults({}, ...Array.from({ length: 50 }, () => ({ status: 503 })));
    const events: unknown[] = [];
    const run = (async () => {
      for await (const r of ds.replay({ onCorrupt: "skip" })) if (r.kind === "event") events.push(r);
    })();
    try {
      await expect(run).rejects.toMatchObject({ code: "E_TAPE_S3" });
    } finally {
      proxy.clearFaults();
      await ds.sources.close();
    }
    expect(events).toEqual([]);
  });

  it("a server that ignores the byte range is E_TAPE_S3 saying so, at once: no retry, no whole object read", async () => {
    const storage = await S3Storage.create(options);
    const source = await S3ObjectSource.open(url(), storage);
    const fetched = storage.stats.bytesFetched;
    proxy.resetCounts();
    proxy.injectRangeFaults({ ignoreRange: true });
    const err = await source.read(1000, 100).catch((e: unknown) => e);
    proxy.clearFaults();
    expect(err).toMatchObject({ code: "E_TAPE_S3", file: url() });
    expect((err as TapeError).message).toMatch(/ignored the byte range/);
    expect(proxy.counts.RANGE).toBe(1);
    expect(storage.stats.retries).toBe(0);
    // The body was not read: far less than the object came in.
    expect(storage.stats.bytesFetched - fetched).toBe(0);
    await source.close();
    storage.close();
  });

  it("a body longer than the range is not read further: E_TAPE_S3 at once, no retry", async () => {
    const storage = await S3Storage.create({ ...options, maxAttempts: 3 });
    // The whole object for its tail, with no Content-Length to tell in advance: stopped once more than the
    // tail asked for came in.
    proxy.injectRangeFaults({ ignoreRange: true, chunked: true });
    const err = await S3ObjectSource.open(url(), storage).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_TAPE_S3", file: url() });
    expect((err as TapeError).message).toMatch(
      /more than the 131072 bytes asked for \(bytes=-131072\): it ignored the byte range/,
    );
    expect(storage.stats.bytesFetched).toBeLessThan(131072 + 65536);
    // A block read: the answer has no Content-Range, so its body is not read at all.
    const source = await S3ObjectSource.open(url(), storage);
    const fetched = storage.stats.bytesFetched;
    proxy.injectRangeFaults({ ignoreRange: true, chunked: true });
    const block = await source.read(1000, 100).catch((e: unknown) => e);
    proxy.clearFaults();
    expect((block as TapeError).message).toMatch(
      /ignored the byte range: .* no Content-Range for bytes 0-16383/,
    );
    expect(storage.stats.bytesFetched).toBe(fetched);
    expect(storage.stats.retries).toBe(0);
    await source.close();
    storage.close();
  });

  it("an answer for another part of the object, or of another object, is refused and never cached", async () => {
    const storage = await S3Storage.create(options);
    const cache = new BlockCache({ dir: (await tempDir()).dir });
    const plain = await S3ObjectSource.open(url(), storage);
    const cached = await S3ObjectSource.open(url(), storage, cache);
    const stored = cache.stats.bytesStored;
    // A consistent 206 of the wrong bytes: its Content-Range says so.
    proxy.injectRangeFaults({ shiftRange: 4096 }, { shiftRange: 4096 });
    const shifted = await plain.read(0, 100).catch((e: unknown) => e);
    expect(shifted).toMatchObject({ code: "E_TAPE_S3", file: url() });
    expect((shifted as TapeError).message).toMatch(
      /answered Content-Range "bytes 4096-20479\/\d+" for bytes 0-16383/,
    );
    await expect(cached.read(0, 100)).rejects.toMatchObject({ code: "E_TAPE_S3" });
    // The answer of a server that ignored If-Match for an object replaced since.
    proxy.injectRangeFaults({ etag: '"0123456789abcdef0123456789abcdef"' });
    const changed = await cached.read(0, 100).catch((e: unknown) => e);
    proxy.clearFaults();
    expect(changed).toMatchObject({ code: "E_TAPE_CHANGED", file: url() });
    expect((changed as TapeError).message).toMatch(/ETag "0123456789abcdef0123456789abcdef", not "/);
    expect(storage.stats.retries).toBe(0);
    expect(cache.stats.bytesStored).toBe(stored);
    // Healthy again: the right bytes, as on disk, and now cached.
    const first = new Uint8Array((await readFile(paths[2]!)).subarray(0, 100));
    expect(await plain.read(0, 100)).toEqual(first);
    expect(await cached.read(0, 100)).toEqual(first);
    expect(cache.stats.bytesStored).toBeGreaterThan(stored);
    await plain.close();
    await cached.close();
    storage.close();
  });

  it("a missing object is E_TAPE_S3 naming it, at once", async () => {
    const err = await openTape(`s3://${BUCKET}/data/nothing.tape`, { s3: options }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TapeError);
    expect(err).toMatchObject({ code: "E_TAPE_S3", file: `s3://${BUCKET}/data/nothing.tape` });
  });

  it("a truncated object or a flipped byte is a typed error, never a wrong row", async () => {
    const whole = await readFile(paths[3]!);
    await emulator.put(BUCKET, "bad/cut.tape", whole.subarray(0, whole.length - 5000));
    const flipped = Uint8Array.from(whole);
    flipped[40_000] = flipped[40_000]! ^ 0x10;
    await emulator.put(BUCKET, "bad/flipped.tape", flipped);
    const replayOf = async (path: string) => {
      const ds = datasetOfFiles([path], { s3: options });
      try {
        return await collect(ds.replay({ exact: true }));
      } finally {
        await ds.sources.close();
      }
    };
    await expect(replayOf(`s3://${BUCKET}/bad/cut.tape`)).rejects.toBeInstanceOf(TapeError);
    // Opening it scans its blocks forward, many blocks a GET: not one GET per block before the error.
    proxy.resetCounts();
    const cut = await openTape(`s3://${BUCKET}/bad/cut.tape`, { s3: options });
    expect(cut.recovery).not.toBeNull();
    expect(cut.blocks.length).toBeGreaterThan(20);
    expect(proxy.counts.RANGE).toBeLessThanOrEqual(2 + Math.ceil(whole.length / (8 * 1024 * 1024)));
    await cut.close();
    const err = await replayOf(`s3://${BUCKET}/bad/flipped.tape`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_TAPE_CRC", file: `s3://${BUCKET}/bad/flipped.tape` });
  });

  it("an object replaced after it was opened is E_TAPE_CHANGED", async () => {
    const bytes = await readFile(paths[1]!);
    await emulator.put(BUCKET, "moving/x.tape", bytes);
    const reader = await openTape(`s3://${BUCKET}/moving/x.tape`, { s3: options });
    await emulator.put(BUCKET, "moving/x.tape", Uint8Array.from(bytes).reverse());
    const far = reader.blocks[reader.blocks.length - 1]!;
    // A block outside what opening fetched.
    const first = reader.blocks.find((b) => b.offset > 300_000) ?? far;
    await expect(reader.readBlock(first)).rejects.toMatchObject({ code: "E_TAPE_CHANGED" });
    await reader.close();
  });
});

describe("the block cache", () => {
  const prefix = `s3://${BUCKET}/data`;
  const range = { from: DAY0 + 5n * 60_000_000_000n, to: DAY0 + 50n * 60_000_000_000n };

  it("serves a second replay with no GET, and the same records", async () => {
    const { dir, remove: removeCache } = await tempDir();
    try {
      const cache = { dir, maxBytes: 64 * 1024 ** 2 };
      proxy.resetCounts();
      const cold = await openDataset(prefix, { ...range, s3: options, cache });
      const want = keys(await collect(cold.replay({ exact: true })));
      const coldGets = proxy.counts.RANGE;
      expect(coldGets).toBeGreaterThan(0);
      expect(cold.sources.cacheStats()!.bytesStored).toBeGreaterThan(0);
      await cold.sources.close();

      proxy.resetCounts();
      const warm = await openDataset(prefix, { ...range, s3: options, cache });
      expect(keys(await collect(warm.replay({ exact: true })))).toEqual(want);
      expect(proxy.counts.RANGE).toBe(0);
      const stats = warm.sources.cacheStats()!;
      expect(stats.misses).toBe(0);
      expect(stats.hits).toBeGreaterThan(0);
      expect((await warm.sources.s3Stats())!.bytesFetched).toBe(0);
      await warm.sources.close();
    } finally {
      await removeCache();
    }
  });

  it("neighbouring reads in flight share the page at their edge: each page is fetched and stored once", async () => {
    const { dir, remove: removeCache } = await tempDir();
    const storage = await S3Storage.create(options);
    try {
      const MiB = 1024 * 1024;
      const bytes = Uint8Array.from({ length: 6 * MiB }, (_, i) => (i * 7919) & 255);
      await emulator.put(BUCKET, "pages/six.bin", bytes);
      const cache = new BlockCache({ dir, maxBytes: 64 * MiB });
      const source = await S3ObjectSource.open(`s3://${BUCKET}/pages/six.bin`, storage, cache);
      const fetchedAtOpen = storage.stats.bytesFetched;
      const missesAtOpen = cache.stats.misses;
      // Four reads at once, each ending inside the page the next one starts in.
      const reads = [0, 1, 2, 3].map((i) => source.read(Math.round(i * 1.5 * MiB), 1.5 * MiB));
      const got = await Promise.all(reads);
      got.forEach((g, i) => {
        const at = Math.round(i * 1.5 * MiB);
        expect(Buffer.from(g).equals(Buffer.from(bytes.subarray(at, at + 1.5 * MiB)))).toBe(true);
      });
      // Pages 0…5 (the last read ends at 6 MiB): each fetched once, each stored once.
      expect(storage.stats.bytesFetched - fetchedAtOpen).toBe(6 * MiB);
      expect(cache.stats.misses - missesAtOpen).toBe(6);
      await source.close();
    } finally {
      storage.close();
      await removeCache();
    }
  });

  it("a damaged or torn entry is a miss, fetched again, never served", async () => {
    const { dir, remove: removeCache } = await tempDir();
    try {
      const cache = { dir, maxBytes: 64 * 1024 ** 2 };
      const url = `${prefix}/${paths[0]!.slice(root.length + 1)}`;
      const first = await openTape(url, { s3: options, cache });
      const want = keys(blockRecords(await first.readBlock(first.blocks[3]!)));
      await first.close();
      // Flip a byte in every entry, and cut one short.
      const entries: string[] = [];
      for (const sub of await readdir(dir))
        for (const name of await readdir(join(dir, sub))) entries.push(join(dir, sub, name));
      expect(entries.length).toBeGreaterThan(1);
      for (const path of entries) {
        const bytes = await readFile(path);
        bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
        await writeFile(path, bytes);
      }
      await writeFile(entries[0]!, (await readFile(entries[0]!)).subarray(0, 20));
      proxy.resetCounts();
      const again = await openTape(url, { s3: options, cache });
      expect(keys(blockRecords(await again.readBlock(again.blocks[3]!)))).toEqual(want);
      expect(proxy.counts.RANGE).toBeGreaterThan(0);
      await again.close();
    } finally {
      await removeCache();
    }
  });

  it("stays within its bound, dropping the least recently used entries", async () => {
    const { dir, remove: removeCache } = await tempDir();
    try {
      const cache = new BlockCache({ dir, maxBytes: 300 * 1024 });
      const page = new Uint8Array(64 * 1024).fill(7);
      for (let p = 0; p < 10; p++) await cache.put("ab".padEnd(64, "0"), p, page);
      let total = 0;
      for (const name of await readdir(join(dir, "ab"))) total += (await stat(join(dir, "ab", name))).size;
      expect(total).toBeLessThanOrEqual(300 * 1024);
      expect(cache.stats.evicted).toBeGreaterThan(0);
      // The newest entries are the ones kept.
      expect(await cache.get("ab".padEnd(64, "0"), 9)).not.toBeNull();
      expect(await cache.get("ab".padEnd(64, "0"), 0)).toBeNull();
    } finally {
      await removeCache();
    }
  });
});
