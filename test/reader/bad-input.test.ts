import { afterEach, describe, expect, it } from "vitest";
import {
  BytesSource,
  datasetOfFiles,
  encodeTape,
  openDataset,
  TapeError,
  TapeReader,
  type TapeRecord,
} from "../../src/index.js";
import { collect, DAY0, HOUR, tempDir, writeDataset } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const trades = (hour: bigint, n: number, symbol = "BTC-USDT"): TapeRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: "trade",
    symbol,
    ts: hour + BigInt(i) * 1_000_000_000n,
    price: `${100 + i}`,
    size: "1",
    side: "buy",
  }));

/** Flips a byte inside the stored body of block `k` (so that its CRC fails). */
async function damageBlock(bytes: Uint8Array, k: number): Promise<Uint8Array> {
  const reader = await TapeReader.open(new BytesSource(bytes));
  const b = reader.blocks[k]!;
  const out = bytes.slice();
  out[b.offset + b.headerLength + 3]! ^= 0xff;
  return out;
}

async function dataset(files: Parameters<typeof writeDataset>[1], options = {}) {
  const { dir, remove } = await tempDir();
  cleanups.push(remove);
  const paths = await writeDataset(dir, files);
  return { ds: await openDataset(dir, options), paths };
}

async function rejection(p: Promise<unknown>): Promise<TapeError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TapeError);
  return err as TapeError;
}

describe("replay of damaged or incomplete data", () => {
  it("a corrupt block in the middle: a typed error naming file and offset, or with skip an event saying what was lost", async () => {
    const bytes = encodeTape(trades(DAY0, 30), {}, { policy: { maxRows: 10 } });
    const bad = await damageBlock(bytes, 1);
    const reader = await TapeReader.open(new BytesSource(bad));
    const lost = reader.blocks[1]!;
    const { ds, paths } = await dataset([
      {
        exchange: "okx",
        hour: DAY0,
        captureId: "a",
        records: trades(DAY0, 30),
        policy: { maxRows: 10 },
        damage: () => bad,
      },
    ]);
    const err = await rejection(collect(ds.replay()));
    expect(err.code).toBe("E_TAPE_CRC");
    expect(err.file).toBe(paths[0]);
    expect(err.offset).toBeGreaterThanOrEqual(lost.offset);

    const rows = await collect(ds.replay({ onCorrupt: "skip" }));
    expect(rows.filter((r) => r.kind === "trade").length).toBe(20);
    const events = rows.filter((r) => r.kind === "event");
    expect(events.length).toBe(1);
    const e = events[0]!;
    expect(e.kind === "event" && e.type).toBe("gap");
    expect(e.kind === "event" && e.message).toContain(`offset ${lost.offset}`);
    expect(e.kind === "event" && e.message).toContain(paths[0]!);
    expect(e.kind === "event" && e.message).toContain("10 trade rows of BTC-USDT");
    // The event sits where the loss starts: after the first block's rows, before the third's.
    expect(rows.indexOf(e)).toBe(10);

    const batches = await collect(ds.batches({ onCorrupt: "skip" }));
    expect(batches.filter((b) => b.lost !== null).map((b) => b.header?.offset)).toEqual([lost.offset]);
    expect(batches.reduce((n, b) => n + (b.block?.header.rowCount ?? 0), 0)).toBe(20);
    await expect(collect(ds.batches())).rejects.toMatchObject({ code: "E_TAPE_CRC", file: paths[0] });
  });

  it("a torn .open file: an error by default, with skip the whole blocks and an event", async () => {
    // Two whole blocks and half of the third, as a crash mid-write leaves it.
    const full = encodeTape(trades(DAY0, 30), {}, { policy: { maxRows: 10 } });
    const third = (await TapeReader.open(new BytesSource(full))).blocks[2]!;
    const torn = full.slice(0, third.offset + Math.floor(third.length / 2));
    const { ds, paths } = await dataset(
      [{ exchange: "okx", hour: DAY0, captureId: "a", records: [], open: true, damage: () => torn }],
      { includeOpen: true },
    );

    const err = await rejection(collect(ds.replay()));
    expect(err.code).toBe("E_TAPE_TRUNCATED");
    expect(err.file).toBe(paths[0]);
    expect(err.offset).toBe(third.offset);

    const rows = await collect(ds.replay({ onCorrupt: "skip" }));
    expect(rows.filter((r) => r.kind === "trade").length).toBe(20);
    const events = rows.filter((r) => r.kind === "event");
    expect(events.length).toBe(1);
    expect(events[0]!.kind === "event" && events[0]!.message).toContain(`after offset ${third.offset}`);
    // Sealed files only, by default: the .open file is not even listed.
    expect((await openDataset(ds.root!)).files.length).toBe(0);
  });

  it("an empty range (to not after from) is E_TAPE_VALUE for a root and for files alike", async () => {
    const files = [{ exchange: "okx", hour: DAY0, captureId: "a", records: trades(DAY0, 3) }];
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const paths = await writeDataset(dir, files);
    for (const open of [
      () => openDataset(dir, { from: DAY0, to: DAY0 }),
      async () => datasetOfFiles(paths, { from: DAY0 + HOUR, to: DAY0 }),
    ]) {
      const err = await rejection(open());
      expect(err).toMatchObject({ code: "E_TAPE_VALUE", field: "to" });
    }
  });

  it("a range of centuries is refused quickly, not walked day by day into the heap; two years are listed", async () => {
    const files = [{ exchange: "okx", hour: DAY0, captureId: "a", records: trades(DAY0, 3) }];
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    await writeDataset(dir, files);
    const err = await rejection(openDataset(dir, { from: 0n, to: 2n ** 63n - 1n }));
    expect(err.code).toBe("E_TAPE_LIMIT");
    expect(err.message).toMatch(/hours of the range have no file .*: narrow the range/);
    // Two years around the one file: the other hours of its capture are missing, each named.
    const year = 366n * 24n * HOUR;
    const wide = await openDataset(dir, { from: DAY0 - year, to: DAY0 + year });
    expect(wide.files).toHaveLength(1);
    expect(wide.missing).toHaveLength(Number((2n * year) / HOUR) - 1);
  });

  it("a missing hour in the range: an error naming the expected file, or an event at the hour", async () => {
    const { ds } = await dataset(
      [
        { exchange: "okx", hour: DAY0, captureId: "a", records: trades(DAY0, 3) },
        { exchange: "okx", hour: DAY0 + 2n * HOUR, captureId: "a", records: trades(DAY0 + 2n * HOUR, 3) },
      ],
      { from: DAY0, to: DAY0 + 3n * HOUR },
    );
    expect(ds.missing.map((m) => m.hour)).toEqual([DAY0 + HOUR]);
    const err = await rejection(collect(ds.replay()));
    expect(err.code).toBe("E_TAPE_MISSING");
    expect(err.file).toContain("okx-2024-08-08T01.a.tape");
    const rows = await collect(ds.replay({ onCorrupt: "skip", exact: true }));
    expect(rows.length).toBe(7);
    expect(rows[3]).toMatchObject({ kind: "event", type: "gap", ts: DAY0 + HOUR, exchange: "okx" });
    // A range that avoids the hole is fine.
    expect((await collect(ds.replay({ to: DAY0 + HOUR }))).length).toBe(3);
  });

  it("a file holding records long before its hour stops the replay instead of misordering it", async () => {
    const at = (ns: bigint, symbol = "BTC-USDT"): TapeRecord => ({ ...trades(ns, 1, symbol)[0]! });
    const minute = 60_000_000_000n;
    const { ds, paths } = await dataset([
      { exchange: "okx", hour: DAY0, captureId: "a", records: [at(DAY0), at(DAY0 + 50n * minute)] },
      // Named for 02:00, holding a record of 00:10: it is opened (at 01:00) after 00:50 was replayed.
      {
        exchange: "okx",
        hour: DAY0 + 2n * HOUR,
        captureId: "a",
        records: [at(DAY0 + 10n * minute, "ETH-USDT")],
      },
    ]);
    const err = await rejection(collect(ds.replay()));
    expect(err.code).toBe("E_TAPE_ORDER");
    expect(err.file).toBe(paths[1]);
  });

  it("an unreadable file (an empty .tape.open left by a crash) is an error, or with skip a gap event", async () => {
    const { ds, paths } = await dataset(
      [
        { exchange: "okx", hour: DAY0, captureId: "a", records: trades(DAY0, 3) },
        {
          exchange: "okx",
          hour: DAY0 + HOUR,
          captureId: "a",
          records: [],
          open: true,
          damage: () => new Uint8Array(0),
        },
      ],
      { includeOpen: true },
    );
    await expect(collect(ds.replay())).rejects.toMatchObject({ code: "E_TAPE_NOT_A_TAPE", file: paths[1] });
    const rows = await collect(ds.replay({ onCorrupt: "skip", exact: true }));
    expect(rows.length).toBe(4);
    expect(rows[3]).toMatchObject({ kind: "event", type: "gap", ts: DAY0 + HOUR, exchange: "okx" });
    expect(rows[3]!.kind === "event" && rows[3]!.message).toContain(paths[1]!);
    // The column scan says so the same way, and a conversion leaves the file out and counts it.
    await expect(collect(ds.batches())).rejects.toMatchObject({ code: "E_TAPE_NOT_A_TAPE" });
    const batches = await collect(ds.batches({ onCorrupt: "skip" }));
    expect(batches.filter((b) => b.block === null)).toEqual([
      expect.objectContaining({ header: null, lost: expect.objectContaining({ code: "E_TAPE_NOT_A_TAPE" }) }),
    ]);
    expect(batches.reduce((n, b) => n + (b.block === null ? 0 : b.block.header.rowCount), 0)).toBe(3);
    const { convert } = await import("../../src/export/index.js");
    const out = `${ds.root}-ndjson`;
    cleanups.push(async () => (await import("node:fs/promises")).rm(out, { recursive: true, force: true }));
    const summary = await convert(ds, { format: "ndjson", outDir: out, onCorrupt: "skip" });
    expect(summary).toMatchObject({ rows: 3, unreadableFiles: 1, lostBlocks: 0 });
  });

  it("a sealed file next to the .open file it was sealed from is read once", async () => {
    const records = trades(DAY0, 3);
    const { ds } = await dataset(
      [
        { exchange: "okx", hour: DAY0, captureId: "a", records },
        { exchange: "okx", hour: DAY0, captureId: "a", records, open: true },
      ],
      { includeOpen: true },
    );
    expect(ds.files.map((f) => f.path.endsWith(".open"))).toEqual([false]);
    expect(await collect(ds.replay({ exact: true }))).toHaveLength(3);
  });

  it("a root that is not there is an error, not an empty dataset", async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    await expect(openDataset(`${dir}/no-such-folder`)).rejects.toMatchObject({
      code: "E_TAPE_IO",
      message: expect.stringMatching(/no-such-folder: cannot read the dataset root/),
    });
    await expect(openDataset(`${dir}/no-such-folder`, { from: DAY0, to: DAY0 + HOUR })).rejects.toMatchObject(
      {
        code: "E_TAPE_IO",
      },
    );
  });

  it("an hour being written is not missing; a stray file in a day folder is ignored", async () => {
    const { ds } = await dataset(
      [
        { exchange: "okx", hour: DAY0, captureId: "a", records: trades(DAY0, 3) },
        { exchange: "okx", hour: DAY0 + HOUR, captureId: "a", records: trades(DAY0 + HOUR, 3), open: true },
      ],
      { from: DAY0, to: DAY0 + 2n * HOUR },
    );
    expect(ds.missing).toEqual([]);
    expect((await collect(ds.replay())).length).toBe(3);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(`${ds.root}/2024-08-08/README`, "notes");
    expect((await openDataset(ds.root!, { from: DAY0, to: DAY0 + HOUR })).files.length).toBe(1);
  });

  it("a missing hour: the scan says so too, and the replay's event does not come before the range", async () => {
    const { ds } = await dataset(
      [{ exchange: "okx", hour: DAY0 + HOUR, captureId: "a", records: trades(DAY0 + HOUR, 2) }],
      { from: DAY0 + HOUR / 2n, to: DAY0 + 2n * HOUR },
    );
    expect(ds.missing.map((m) => m.hour)).toEqual([DAY0]);
    await expect(collect(ds.batches())).rejects.toMatchObject({ code: "E_TAPE_MISSING" });
    const batches = await collect(ds.batches({ onCorrupt: "skip" }));
    expect(batches[0]).toMatchObject({ block: null, header: null, lost: { code: "E_TAPE_MISSING" } });
    const rows = await collect(ds.replay({ onCorrupt: "skip", exact: true }));
    expect(rows[0]).toMatchObject({ kind: "event", type: "gap", ts: DAY0 + HOUR / 2n });
  });

  it("rejects bad options with typed errors", async () => {
    const { ds } = await dataset([{ exchange: "okx", hour: DAY0, captureId: "a", records: trades(DAY0, 1) }]);
    await expect(collect(ds.replay({ speed: 0 }))).rejects.toMatchObject({ code: "E_TAPE_VALUE" });
    await expect(collect(ds.replay({ from: "yesterday" }))).rejects.toMatchObject({ code: "E_TAPE_VALUE" });
    // A day that does not exist is not rolled into the next month; a number (ms? ns?) is refused plainly.
    for (const from of ["2024-02-30", "2024-11-31T00:00Z", "2024-08-08T24:00Z"])
      await expect(collect(ds.replay({ from })), from).rejects.toMatchObject({ code: "E_TAPE_VALUE" });
    await expect(collect(ds.replay({ from: 1723075200000 as unknown as string }))).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
      message: expect.stringMatching(/expected a bigint of ns, a Date or an ISO 8601 string, got number/),
    });
    await expect(openDataset(ds.root!, { kinds: ["quote" as "trade"] })).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
    });
    await expect(openDataset(ds.root!, { from: DAY0, to: DAY0 })).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
    });
  });
});
