/** The kept source checksums: a ledger of any shape is trusted only where it is whole, else computed again. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listDay, SourceChecksums } from "../../src/sync/index.js";
import { DATE, writeDay } from "./helpers.js";

let dir = "";
afterEach(async () => {
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

describe("SourceChecksums", () => {
  it("computes again, without a TypeError, what a ledger of the wrong shape holds", async () => {
    dir = await mkdtemp(join(tmpdir(), "ticktape-ledger-"));
    const root = join(dir, "root");
    await writeDay(root, ["okx"], 1);
    const file = (await listDay(root, DATE)).sealed[0]!;
    const fresh = await SourceChecksums.load(join(dir, "fresh"), DATE);
    const want = await fresh.get(file, "CRC64NVME");
    const entry = { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, ino: file.ino };
    const ledgers = {
      null: null,
      "a list": [],
      "files null": { version: 1, date: DATE, files: null },
      "an entry null": { version: 1, date: DATE, files: { [file.relative]: null } },
      "checksums null": { version: 1, date: DATE, files: { [file.relative]: { ...entry, checksums: null } } },
      "a checksum not text": {
        version: 1,
        date: DATE,
        files: { [file.relative]: { ...entry, checksums: { CRC64NVME: 5 } } },
      },
    };
    for (const [what, ledger] of Object.entries(ledgers)) {
      const state = join(dir, `state-${what.replace(/ /g, "-")}`);
      await mkdir(state, { recursive: true });
      await writeFile(join(state, `${DATE}.checksums.json`), JSON.stringify(ledger));
      const sums = await SourceChecksums.load(state, DATE);
      expect(sums.kept(file, "CRC64NVME"), what).toBeNull();
      expect(await sums.get(file, "CRC64NVME"), what).toBe(want);
      expect(sums.bytesHashed, what).toBe(file.size);
    }
    // A whole entry is kept: nothing is read again.
    await fresh.save();
    const again = await SourceChecksums.load(join(dir, "fresh"), DATE);
    expect(await again.get(file, "CRC64NVME")).toBe(want);
    expect(again.bytesHashed).toBe(0);
  });
});
