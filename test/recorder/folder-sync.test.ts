/**
 * A new hour's file is durable as an entry too: the folder that holds it is fsynced once it is created, and so is
 * each folder above it that was made for it (POSIX makes an entry durable only with its folder's fsync).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { HourlyWriter } from "../../src/recorder/hourly-writer.js";
import { tempDir } from "../reader/helpers.js";
import { H10, HOUR, trade } from "./trades.js";

/** Folders fsynced, in order (a folder is opened read-only to be fsynced); the next one fails when asked. */
const syncedFolders: string[] = [];
const failNextFolderSync = { on: false };
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...fs,
    open: (async (path: string, flags?: string) => {
      const fh = await fs.open(path, flags);
      if (flags !== "r" || !(await fh.stat()).isDirectory()) return fh;
      const sync = fh.sync.bind(fh);
      fh.sync = async () => {
        if (failNextFolderSync.on) {
          failNextFolderSync.on = false;
          throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
        }
        await sync();
        syncedFolders.push(String(path));
      };
      return fh;
    }) as typeof fs.open,
  };
});

describe("a new hour's file", () => {
  it("has its folder fsynced, and the folders made for it", async () => {
    const root = (await tempDir()).dir;
    const w = new HourlyWriter({ root, exchange: "binance", captureId: "t" });
    await w.write([trade(0, H10)]);
    const venue = join(root, "2026-11-27", "binance");
    // The file's entry, the venue folder's, the day folder's.
    expect(syncedFolders).toEqual([venue, join(root, "2026-11-27"), root]);
    syncedFolders.length = 0;
    await w.write([trade(1, H10 + HOUR)]);
    // The next hour: the folders were there; the seal of the hour before fsyncs the folder for its rename too.
    expect(syncedFolders.filter((d) => d !== venue)).toEqual([]);
    expect(syncedFolders).toContain(venue);
    await w.close();
  });

  it("is made again when its folder cannot be fsynced: the try leaves nothing behind", async () => {
    const root = (await tempDir()).dir;
    const w = new HourlyWriter({ root, exchange: "binance", captureId: "t", seal: "reblock" });
    failNextFolderSync.on = true;
    const first = await w.write([trade(0, H10)]);
    expect(first.written).toBe(0);
    expect(String(first.error)).toMatch(/cannot fsync the folder/);
    const second = await w.write([trade(0, H10)]);
    expect(second).toMatchObject({ written: 1, error: null });
    const venue = join(root, "2026-11-27", "binance");
    expect(await readdir(venue)).toEqual(["binance-2026-11-27T10.t.tape.open"]);
    await w.close();
  });
});
