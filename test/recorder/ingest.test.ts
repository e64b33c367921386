import { spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { datasetOfFiles, type Kind, openDataset, recordToJson, type TapeRecord } from "../../src/index.js";
import { okxChecksum } from "../../src/recorder/connectors/okx.js";
import { ingest } from "../../src/recorder/ingest.js";
import { LevelBook } from "../../src/recorder/level-book.js";
import { tempDir } from "../reader/helpers.js";

const OKX = "fixtures/real/okx-v5-20220513.jsonl";
const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");

async function tapes(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && /\.tape(\.open)?$/.test(e.name)) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

async function records(
  files: string[],
  kinds: Kind[] = ["trade", "book", "bbo", "event"],
): Promise<TapeRecord[]> {
  const out: TapeRecord[] = [];
  for await (const r of datasetOfFiles(files).replay({ exact: true, kinds })) out.push(r as TapeRecord);
  return out;
}

describe("ingest", () => {
  it("writes sealed hourly files, and ingesting their raw records again gives the same records", async () => {
    const root = (await tempDir()).dir;
    const first = await ingest({ venue: "okx", inputs: [OKX], out: join(root, "a") });
    expect(first.files).toHaveLength(1);
    expect(first.files[0]!.path).toMatch(/2022-05-13\/okx\/okx-2022-05-13T16\.ingest\.tape$/);
    expect(first.records.raw).toBe(410);
    const again = await ingest({ venue: "okx", inputs: await tapes(join(root, "a")), out: join(root, "b") });
    const { files: _a, ...firstCounts } = first;
    const { files: _b, inputs: _i, ...againCounts } = again;
    expect({ ...againCounts, inputs: 1 }).toEqual({ ...firstCounts });
    const a = (await records(await tapes(join(root, "a")))).map((r) => recordToJson(r));
    const b = (await records(await tapes(join(root, "b")))).map((r) => recordToJson(r));
    expect(a.length).toBe(first.records.trade + first.records.book + first.records.bbo);
    expect(b).toEqual(a);
  });

  it("writes books that a reader rebuilds to the exchange's own checksum", async () => {
    const root = (await tempDir()).dir;
    await ingest({ venue: "okx", inputs: [OKX], out: root, raw: false });
    // The last checksum OKX sent for each instrument.
    const lastSum = new Map<string, number>();
    const text = (await import("node:fs")).readFileSync(OKX, "utf8");
    for (const line of text.split("\n").filter(Boolean)) {
      const frame = JSON.parse(JSON.parse(line).frame);
      if (frame.arg?.channel === "books" && frame.data !== undefined)
        lastSum.set(frame.arg.instId, frame.data[0].checksum);
    }
    const books = new Map<string, LevelBook>();
    const inSnapshot = new Set<string>();
    for (const r of await records(await tapes(root), ["book"])) {
      if (r.kind !== "book") continue;
      // The first row of a snapshot starts a new book.
      if (r.snapshot && !inSnapshot.has(r.symbol)) books.set(r.symbol, new LevelBook());
      if (r.snapshot) inSnapshot.add(r.symbol);
      else inSnapshot.delete(r.symbol);
      books.get(r.symbol)!.side(r.side).set(r.price, r.size);
    }
    expect([...books.keys()].sort()).toEqual([...lastSum.keys()].sort());
    for (const [inst, b] of books) {
      expect(okxChecksum(b.bids.top(25), b.asks.top(25)), inst).toBe(lastSum.get(inst));
    }
  });

  it("counts garbage frames, keeps their bytes, and goes on", async () => {
    const root = (await tempDir()).dir;
    const capture = join(root, "garbage.jsonl");
    const good =
      '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1.5","sz":"2","side":"buy","ts":"1700000000000"}]}';
    const lines = [
      good,
      "not json at all",
      '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"px":1.5}]}',
      '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"2","px":"1e3","sz":"2","side":"buy","ts":"1700000000001"}]}',
      `{"huge":"${"x".repeat(2 << 20)}"}`,
      "[".repeat(10_000),
      good.replace('"tradeId":"1"', '"tradeId":"3"'),
    ];
    await writeFile(capture, `${lines.join("\n")}\n`);
    const bad: string[] = [];
    const s = await ingest({
      venue: "okx",
      inputs: [capture],
      out: root,
      onBadFrame: (e) => bad.push(e.message),
    });
    expect(s.badFrames).toBe(5);
    expect(s.records.trade).toBe(2);
    expect(s.records.raw).toBe(lines.length);
    expect(bad[0]).toMatch(/offset 0: not valid JSON/);
    expect(bad[1]).toMatch(/field side: expected a string, got missing/);
    expect(bad[2]).toMatch(/field px: expected a decimal, got string "1e3"/);
    expect(bad[3]).toMatch(/field arg: expected an object, got missing/);
    expect(bad[4]).toMatch(/nested deeper than 64/);
    const raws = await records(await tapes(root), ["raw"]);
    expect(raws).toHaveLength(lines.length);
    // The files say what is missing: one gap event per bad frame, with its reason.
    const events = (await records(await tapes(root), ["event"])).filter((r) => r.kind === "event");
    expect(events.map((e) => e.type)).toEqual(["gap", "gap", "gap", "gap", "gap"]);
    expect(events[0]!.message).toMatch(
      /a frame could not be read \(.*not valid JSON.*\); kept as a raw record/,
    );
  });

  it("stops at a malformed capture line with its number, and seals what came before", async () => {
    const root = (await tempDir()).dir;
    const capture = join(root, "bad.jsonl");
    const good = (i: number) =>
      JSON.stringify({
        recv_ns: `${1700000000000000000 + i}`,
        frame: `{"arg":{"channel":"trades","instId":"X-Y"},"data":[{"instId":"X-Y","tradeId":"${i}","px":"1","sz":"1","side":"sell","ts":"1700000000000"}]}`,
      });
    await writeFile(capture, `${good(1)}\n${good(2)}\n{"recv_ns":17,"frame":"x"}\n${good(3)}\n`);
    await expect(ingest({ venue: "okx", inputs: [capture], out: root })).rejects.toThrow(
      /bad\.jsonl: line 3: recv_ns must be a string/,
    );
    const files = await tapes(root);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\.tape$/);
    expect((await records(files, ["trade"])).length).toBe(2);
  });

  it("writes a gap event for a record the format refuses, and goes on to seal the rest", async () => {
    const root = (await tempDir()).dir;
    const capture = join(root, "refused.jsonl");
    const trade = (i: number, px = "1.5", ts = `${1700000000000 + i}`) =>
      JSON.stringify({
        recv_ns: `${1700000000000000000n + BigInt(i) * 1_000_000n}`,
        frame: `{"arg":{"channel":"trades","instId":"X-Y"},"data":[{"instId":"X-Y","tradeId":"${i}","px":"${px}","sz":"1","side":"sell","ts":"${ts}"}]}`,
      });
    const lines = [
      trade(1),
      trade(2, "1234567890.123456789"), // 19 significant digits
      trade(3),
      trade(4, "1.5", "10000000000000"), // exchange time 1e13 ms: beyond 2^63 ns
      trade(5),
    ];
    await writeFile(capture, `${lines.join("\n")}\n`);
    const told: string[] = [];
    const s = await ingest({
      venue: "okx",
      inputs: [capture],
      out: root,
      onRejected: (_r, e) => told.push(e.code),
    });
    expect(s.rejected).toBe(2);
    expect(told).toEqual(["E_TAPE_VALUE", "E_TAPE_VALUE"]);
    const files = await tapes(root);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/okx-2023-11-14T22\.ingest\.tape$/);
    const got = await records(files, ["trade", "event", "raw"]);
    const trades = got.filter((r) => r.kind === "trade");
    expect(trades.map((r) => r.kind === "trade" && r.tradeId)).toEqual(["1", "3", "5"]);
    expect(got.filter((r) => r.kind === "raw")).toHaveLength(5);
    const events = got.filter((r) => r.kind === "event");
    expect(events.map((e) => e.kind === "event" && e.message)).toEqual([
      expect.stringMatching(
        /a trade record of "X-Y" not written: refused by the format .*more than 18 significant/,
      ),
      expect.stringMatching(/a trade record of "X-Y" not written: refused by the format .*out of range/),
    ]);
  });

  it("reads a tape's messages in the order each symbol's were received, also when the clock stepped back", async () => {
    const root = (await tempDir()).dir;
    const capture = join(root, "clockstep.jsonl");
    const depth = (id: number, recv: string, price: string) =>
      JSON.stringify({
        recv_ns: recv,
        frame: JSON.stringify({
          stream: "xusdt@depth@100ms",
          data: { e: "depthUpdate", E: 1795825453626, s: "XUSDT", U: id, u: id, b: [[price, "1"]], a: [] },
        }),
      });
    const lines = [
      JSON.stringify({
        recv_ns: "1795825453500000000",
        rest: "/api/v3/depth?symbol=XUSDT&limit=5000",
        body: '{"lastUpdateId":100,"bids":[["10","1"]],"asks":[["11","1"]]}',
      }),
      depth(101, "1795825453600000000", "9"),
      // Received after 101, with a receive time 10 ms earlier (the host clock stepped back).
      depth(102, "1795825453590000000", "8"),
      depth(103, "1795825453700000000", "7"),
    ];
    await writeFile(capture, `${lines.join("\n")}\n`);
    const first = await ingest({ venue: "binance", inputs: [capture], out: join(root, "a") });
    expect(first.gaps).toBe(0);
    const again = await ingest({
      venue: "binance",
      inputs: await tapes(join(root, "a")),
      out: join(root, "b"),
    });
    expect(again.gaps).toBe(0);
    expect(again.records.book).toBe(first.records.book);
    const book = async (dir: string) =>
      (await records(await tapes(dir), ["book"])).map((r) => recordToJson(r));
    expect(await book(join(root, "b"))).toEqual(await book(join(root, "a")));
  });

  it("refuses a tape of another venue, and stamps messages read before any time with the first time", async () => {
    const root = (await tempDir()).dir;
    await ingest({ venue: "okx", inputs: [OKX], out: join(root, "okx") });
    await expect(
      ingest({ venue: "binance", inputs: await tapes(join(root, "okx")), out: join(root, "x") }),
    ).rejects.toMatchObject({
      code: "E_TAPE_VALUE",
      message: expect.stringMatching(/messages of "okx", not of binance/),
    });
    // A capture of bare frames (no receive times) that starts with the answer to the subscription.
    const capture = join(root, "bare.jsonl");
    const trade =
      '{"stream":"ethusdt@trade","data":{"e":"trade","E":1795825453626,"s":"ETHUSDT","t":1,"p":"2650.11","q":"0.2992","T":1795825453626,"m":true,"M":true}}';
    await writeFile(capture, `\uFEFF{"result":null,"id":1}\n${trade}\n`);
    const s = await ingest({ venue: "binance", inputs: [capture], out: join(root, "bare") });
    expect(s.records.trade).toBe(1);
    const files = await tapes(join(root, "bare"));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/binance-2026-11-28T00\.ingest\.tape$/);
    const raws = await records(files, ["raw"]);
    expect(raws.map((r) => r.ts)).toEqual([1795825453626000000n, 1795825453626000000n]);
  });

  it("gives typed errors for an output that is a file, a bad capture id and an input that is a folder", async () => {
    const root = (await tempDir()).dir;
    const file = join(root, "a-file");
    await writeFile(file, "x");
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cli, "ingest", "--venue", "okx", ...args], { encoding: "utf8" });
    const cases = [
      { r: run(OKX, "--out", file), error: /E_TAPE_IO: .*a-file.*cannot create the folder/ },
      {
        r: run(OKX, "--out", root, "--capture-id", "a/b"),
        error: /E_TAPE_VALUE: field captureId: capture id "a\/b"/,
      },
      {
        // Refused before any file: the name would pass the 255 bytes a file system allows.
        r: run(OKX, "--out", root, "--capture-id", "c".repeat(300)),
        error: /E_TAPE_VALUE: field captureId: capture id "c+": 300 characters: at most 100/,
      },
      {
        r: run(join(root, "x.tape"), "--out", join(root, "o")),
        error: /E_TAPE_IO: .*x\.tape: cannot open: not a file/,
      },
    ];
    await (await import("node:fs/promises")).mkdir(join(root, "x.tape"));
    for (const { r, error } of cases.slice(0, 3)) {
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(error);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const folder = run(join(root, "x.tape"), "--out", join(root, "o"));
    expect(folder.status).toBe(2);
    expect(folder.stderr).toMatch(cases[3]!.error);
    expect(folder.stderr).not.toMatch(/\n\s+at /);
  });

  it("is a command with a JSON summary", async () => {
    const root = (await tempDir()).dir;
    const r = spawnSync(process.execPath, [cli, "ingest", "--venue", "okx", OKX, "--out", root, "--json"], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      venue: "okx",
      checksumsChecked: 290,
      checksumFailures: 0,
      gaps: 0,
      frames: 410,
    });
    const ds = await openDataset(root);
    expect(ds.files).toHaveLength(1);
    const bad = spawnSync(process.execPath, [cli, "ingest", "--venue", "nope", OKX, "--out", root], {
      encoding: "utf8",
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/choices|nope/);
  });
});

describe("books carried over at a new hour", () => {
  /** The OKX session twice: the first ending 1 s before an hour, the second starting `silenceS` seconds after it. */
  async function twoSessions(root: string, silenceS: number): Promise<string[]> {
    const lines = (await readFile(OKX, "utf8")).trim().split("\n");
    const times = lines.map((l) => BigInt((JSON.parse(l) as { recv_ns: string }).recv_ns));
    const hour = 1_795_773_600_000_000_000n;
    const shifted = (by: bigint) =>
      lines.map((l, i) => {
        const o = JSON.parse(l) as { recv_ns: string };
        return JSON.stringify({ ...o, recv_ns: String(times[i]! + by) });
      });
    const endA = hour - 1_000_000_000n;
    const a = shifted(endA - times.at(-1)!);
    const b = shifted(endA + BigInt(silenceS) * 1_000_000_000n - times[0]!);
    const paths = [join(root, "a.jsonl"), join(root, "b.jsonl")];
    await writeFile(paths[0]!, `${a.join("\n")}\n`);
    await writeFile(paths[1]!, `${b.join("\n")}\n`);
    return paths;
  }
  const carried = (recs: TapeRecord[]) =>
    recs.filter((r) => r.kind === "event" && r.type === "info" && r.message.startsWith("book carried over"));

  it("are written when the next hour's messages follow on, not after a silence that ends the session", async () => {
    for (const [silenceS, expected] of [
      [3, true],
      [61, false],
    ] as const) {
      const root = (await tempDir()).dir;
      await ingest({
        venue: "okx",
        inputs: await twoSessions(root, silenceS),
        out: join(root, "out"),
        raw: false,
      });
      const files = await tapes(join(root, "out"));
      expect(files).toHaveLength(2);
      const second = await records(files.slice(1));
      expect(carried(second).length > 0, `silence ${silenceS} s`).toBe(expected);
      expect(
        second.some((r) => r.kind === "book" && r.snapshot && r.recvTs === 1_795_773_600_000_000_000n),
      ).toBe(expected);
    }
  });
});
