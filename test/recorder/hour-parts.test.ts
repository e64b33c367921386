/**
 * An hour's parts (what earlier processes of the hour left) when the folder cannot be listed: the seal fails and
 * keeps every source, instead of sealing without the parts (a later seal would then find them beside the sealed
 * file, take them as already in it and remove them). A part is never moved onto an existing one.
 */
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { openTape, TapeWriter } from "../../src/index.js";
import { sealHour, setAside } from "../../src/recorder/hour-sealer.js";
import { tempDir } from "../reader/helpers.js";
import { H10, HOUR, trade } from "./trades.js";

/** The next readdir fails as an exhausted process fails it (EMFILE), or misses every name. */
const failNextReaddir = { on: false };
const missNextReaddir = { on: false };
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...fs,
    readdir: (async (...args: Parameters<typeof fs.readdir>) => {
      if (failNextReaddir.on) {
        failNextReaddir.on = false;
        throw Object.assign(new Error("EMFILE: too many open files, scandir"), { code: "EMFILE" });
      }
      if (missNextReaddir.on) {
        missNextReaddir.on = false;
        return [];
      }
      return fs.readdir(...args);
    }) as typeof fs.readdir,
  };
});

/** An unsealed file of trades `from` … `from + n - 1` at `path` + ".open". */
async function writeOpen(path: string, from: number, n: number): Promise<void> {
  const w = await TapeWriter.create(path, {
    exchange: "binance",
    captureId: "t",
    periodStart: H10,
    periodEnd: H10 + HOUR,
  });
  for (let i = from; i < from + n; i++) w.append(trade(i, H10 + BigInt(i)));
  await w.close();
}

async function tradeIds(path: string): Promise<number[]> {
  const r = await openTape(path);
  const ids: number[] = [];
  for await (const rec of r.records()) if (rec.kind === "trade") ids.push(Number(rec.tradeId));
  await r.close();
  return ids.sort((a, b) => a - b);
}

describe("an hour's parts", () => {
  it("are not left out of the seal when the folder cannot be listed: the seal fails, and the next one has them", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(join(dir, "binance-2026-11-27T10.t.part1.tape"), 0, 100);
    await writeOpen(final, 100, 100);
    failNextReaddir.on = true;
    await expect(sealHour(final)).rejects.toThrow(/EMFILE/);
    expect((await readdir(dir)).sort()).toEqual([
      "binance-2026-11-27T10.t.part1.tape.open",
      "binance-2026-11-27T10.t.tape.open",
    ]);
    const report = await sealHour(final);
    expect(report.alreadySealed).toBe(false);
    expect(await tradeIds(final)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(await readdir(dir)).toEqual(["binance-2026-11-27T10.t.tape"]);
  });

  it("are never moved onto one another", async () => {
    const dir = (await tempDir()).dir;
    const final = join(dir, "binance-2026-11-27T10.t.tape");
    await writeOpen(final, 0, 10);
    await writeFile(join(dir, "binance-2026-11-27T10.t.part1.tape.open"), "an earlier part");
    // A listing that misses the part that is there: moving the open file onto it is refused.
    missNextReaddir.on = true;
    await expect(setAside(final)).rejects.toThrow(/part1\.tape\.open exists already/);
    expect((await readdir(dir)).sort()).toEqual([
      "binance-2026-11-27T10.t.part1.tape.open",
      "binance-2026-11-27T10.t.tape.open",
    ]);
  });
});
