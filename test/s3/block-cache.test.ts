import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BlockCache } from "../../src/index.js";
import { tempDir } from "../reader/helpers.js";

const made: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const remove of made) await remove();
});

/** Bytes of every file in the cache folder. */
async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const sub of await readdir(dir)) {
    for (const name of await readdir(join(dir, sub))) total += (await stat(join(dir, sub, name))).size;
  }
  return total;
}

describe("the block cache shared by several processes", () => {
  it("stays near its bound: each counts the others' entries as it writes", async () => {
    const { dir, remove } = await tempDir();
    made.push(remove);
    const maxBytes = 8 * 1024 * 1024;
    // One cache per process, as each process of a host has its own: they share nothing but the folder.
    const caches = Array.from({ length: 4 }, () => new BlockCache({ dir, maxBytes }));
    const page = new Uint8Array(256 * 1024).fill(1);
    let peak = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < caches.length; i++) {
        await caches[i]!.put(`${i}`.padStart(2, "0").padEnd(64, "a"), round, page);
        peak = Math.max(peak, await bytesOnDisk(dir));
      }
    }
    // 40 MiB written in all: without the rescans each would have let the folder grow to 8 MiB of its own.
    expect(peak).toBeLessThanOrEqual(maxBytes * (1 + 4 * 0.05) + 4 * (page.length + 12));
    expect(caches.reduce((n, c) => n + c.stats.evicted, 0)).toBeGreaterThan(0);
  });
});

describe("the block cache's counts", () => {
  it("an entry removed by two processes at once is counted as evicted by one", async () => {
    const { dir, remove } = await tempDir();
    made.push(remove);
    const caches = Array.from({ length: 4 }, () => new BlockCache({ dir, maxBytes: 1024 * 1024 }));
    const page = new Uint8Array(64 * 1024).fill(3);
    let written = 0;
    for (let round = 0; round < 30; round++) {
      // Every process writes at once, so their evictions run over the same entries.
      await Promise.all(caches.map((c, i) => c.put(`${i}${round}`.padEnd(64, "b"), round, page)));
      written += caches.length;
    }
    let left = 0;
    for (const sub of await readdir(dir)) left += (await readdir(join(dir, sub))).length;
    const evicted = caches.reduce((n, c) => n + c.stats.evicted, 0);
    expect(evicted).toBeGreaterThan(0);
    expect(evicted).toBeLessThanOrEqual(written - left);
  });
});

describe("the block cache's first count", () => {
  it("a new cache over a full folder, counting it in the background, still keeps the bound", async () => {
    const { dir, remove } = await tempDir();
    made.push(remove);
    const maxBytes = 2 * 1024 * 1024;
    const page = new Uint8Array(64 * 1024).fill(4);
    const earlier = new BlockCache({ dir, maxBytes });
    for (let i = 0; i < 28; i++) await earlier.put(`a${i.toString(16)}`.padEnd(64, "c"), i, page);
    // A later process: its writes do not wait for its count of the 28 entries, and are not counted twice.
    const later = new BlockCache({ dir, maxBytes });
    for (let i = 0; i < 40; i++) await later.put(`b${i.toString(16)}`.padEnd(64, "d"), i, page);
    expect(later.stats.evicted).toBeGreaterThan(0);
    expect(await bytesOnDisk(dir)).toBeLessThanOrEqual(maxBytes);
    // What it wrote last is there.
    expect(Uint8Array.from((await later.get(`b${(39).toString(16)}`.padEnd(64, "d"), 39))!)).toEqual(page);
  });
});

describe("the block cache in one process", () => {
  it("keeps its bound when entries are written while an eviction runs", async () => {
    const { dir, remove } = await tempDir();
    made.push(remove);
    const maxBytes = 2 * 1024 * 1024;
    const cache = new BlockCache({ dir, maxBytes });
    const page = new Uint8Array(64 * 1024).fill(2);
    // All at once, as a replay's concurrent reads store their pages: evictions run while other writes finish.
    await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        cache.put(`${(i * 7919).toString(16).padStart(8, "0")}cafe`, i, page),
      ),
    );
    expect(cache.stats.evicted).toBeGreaterThan(0);
    // The last eviction left at most 90% of the bound; whatever was written after it counts toward the next.
    expect(await bytesOnDisk(dir)).toBeLessThanOrEqual(maxBytes);
  });
});

describe("the block cache's entries", () => {
  it("an entry moved under another entry's name is bad, not served as that entry", async () => {
    const { dir, remove } = await tempDir();
    made.push(remove);
    const cache = new BlockCache({ dir });
    const identity = "ab".padEnd(64, "c");
    await cache.put(identity, 0, new Uint8Array(1000).fill(7));
    await cache.put(identity, 1, new Uint8Array(1000).fill(8));
    expect(await cache.get(identity, 0)).toEqual(Buffer.alloc(1000, 7));
    // Whole, with a right length and CRC of its bytes, but the bytes of page 1 in page 0's place.
    const { copyFile } = await import("node:fs/promises");
    await copyFile(join(dir, "ab", `${identity}.1`), join(dir, "ab", `${identity}.0`));
    expect(await cache.get(identity, 0)).toBeNull();
    expect(cache.stats.bad).toBe(1);
    expect(await cache.get(identity, 1)).toEqual(Buffer.alloc(1000, 8));
  });
});
