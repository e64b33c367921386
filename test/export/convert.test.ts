/**
 * `ticktape convert` read back by real engines: Parquet and CSV by DuckDB, Arrow IPC by apache-arrow's reader,
 * NDJSON as text; every value is compared with what `ticktape cat` prints for the same file, ns timestamps and
 * decimals included.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { type Data, type RecordBatch, tableFromIPC } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArrowTable, arrowIpcStream, convert, ParquetWriter } from "../../src/export/index.js";
import { BatchGatherer } from "../../src/export/to-arrow.js";
import {
  BytesSource,
  datasetOfFiles,
  encodeTape,
  type RecordInput,
  TapeError,
  TapeReader,
  tapeRelativePath,
} from "../../src/index.js";
import { canonicalDecimal, unitTrade } from "../format/helpers.js";

const root = join(import.meta.dirname, "..", "..");
const cli = join(root, "dist", "cli", "main.js");
const HOUR = 1_764_000_000_000_000_000n - (1_764_000_000_000_000_000n % 3_600_000_000_000n);
/** The header of `exchange`'s file of the hour at HOUR, capture c1. */
const hourMeta = (exchange: string) => ({
  exchange,
  captureId: "c1",
  periodStart: HOUR,
  periodEnd: HOUR + 3_600_000_000_000n,
});

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Values that are easy to get wrong: every scale, negatives, mantissas beyond 2^53, odd ns, absent fields. */
function records(): RecordInput[] {
  const out: RecordInput[] = [];
  const prices = [
    "65000.1",
    "0.000000000000000001",
    "-12.5",
    "999999999999.999999",
    "3",
    "0.00001234",
    "120.45",
  ];
  const sizes = ["0.00000001", "1.5", "250", "0.123456789012345678", "7", "0.1", "42.42"];
  for (let i = 0; i < 40; i++) {
    const ts = HOUR + BigInt(i) * 1_000_000_007n + 3n;
    const symbol = i % 3 === 0 ? "BTC/USD" : "ETH-USDT";
    const trade: RecordInput = {
      kind: "trade",
      symbol,
      ts,
      price: prices[i % prices.length]!,
      size: sizes[(i * 3) % sizes.length]!,
      side: (["buy", "sell", "unknown"] as const)[i % 3]!,
    };
    if (i % 5 !== 4) trade.recvTs = ts + 123_457n;
    // Integer ids in some blocks, text ids in others, some empty, some absent.
    if (i < 20) trade.tradeId = String(9_007_199_254_740_990 + i);
    else if (i % 4 !== 0) trade.tradeId = `T-${i}`;
    else if (i % 8 === 0) trade.tradeId = "";
    out.push(trade);
    out.push({
      kind: "book",
      symbol,
      ts: ts + 1n,
      recvTs: ts + 2n,
      side: i % 2 === 0 ? "bid" : "ask",
      price: prices[(i + 1) % prices.length]!,
      size: i % 6 === 0 ? "0" : sizes[i % sizes.length]!,
      snapshot: i < 4,
      ...(i % 7 === 3 ? {} : { seq: 2n ** 60n + BigInt(i) }),
    });
    if (i % 4 === 0) {
      out.push({
        kind: "bbo",
        symbol,
        ts: ts + 2n,
        ...(i % 8 === 0 ? {} : { bidPrice: "64999.99", bidSize: "0.5" }),
        askPrice: "65000.01",
        askSize: "1e-8",
      });
    }
  }
  out.push({
    kind: "event",
    symbol: "",
    ts: HOUR + 5n,
    type: "connect",
    message: 'wss://x, "quoted"\nnext line é€',
  });
  out.push({
    kind: "event",
    symbol: "ETH-USDT",
    ts: HOUR + 9_000_000_000n,
    type: "gap",
    seqBefore: 100n,
    seqAfter: 2n ** 62n,
    message: "U 105 != previous u 100 + 1",
  });
  out.push({
    kind: "raw",
    symbol: "",
    ts: HOUR + 11n,
    data: new TextEncoder().encode('{"e":"trade","p":"1.0"}'),
  });
  out.push({ kind: "raw", symbol: "", ts: HOUR + 12n, data: new Uint8Array([0xff, 0x00, 0xc3]) });
  return out;
}

let dir: string;
let file: string;
/** What `ticktape cat` prints, by (symbol, kind), in file order. */
const expected = new Map<string, Record<string, unknown>[]>();
let db: DuckDBInstance;

beforeAll(async () => {
  dir = join(tmpdir(), `ticktape-export-${process.pid}`);
  file = join(dir, tapeRelativePath("testvenue", HOUR, "c1"));
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(file, ".."), { recursive: true });
  const bytes = encodeTape(records(), hourMeta("testvenue"), {
    policy: { maxRows: 7, checkpointIntervalNs: 0 },
  });
  await writeFile(file, bytes);
  const r = run("cat", file);
  expect(r.status, r.stderr).toBe(0);
  for (const line of r.stdout.trim().split("\n")) {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const key = `${rec["symbol"]}|${rec["kind"]}`;
    if (!expected.has(key)) expected.set(key, []);
    expected.get(key)!.push(rec);
  }
  db = await DuckDBInstance.create(":memory:");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A decimal as DuckDB prints DECIMAL(38,18), made canonical as `ticktape cat` writes decimals. */
function canonical(text: string): string {
  const negative = text.startsWith("-");
  const [int, frac = ""] = text.replace("-", "").split(".");
  const m = BigInt(int! + frac.padEnd(18, "0"));
  return canonicalDecimal(negative ? -m : m, 18);
}

const DECIMALS = ["price", "size", "bidPrice", "bidSize", "askPrice", "askSize"];
const TIMES = ["ts", "recvTs"];

/** A row read back, as `ticktape cat` would print it: absent values dropped, floats checked against the decimals. */
function asCatRecord(kind: string, row: Record<string, unknown>): Record<string, unknown> {
  expect(row["exchange"]).toBe("testvenue");
  const out: Record<string, unknown> = { kind };
  for (const [k, v] of Object.entries(row)) {
    if (k === "exchange" || k.endsWith("Float") || v === null || v === undefined) continue;
    if (DECIMALS.includes(k)) {
      out[k] = canonical(String(v));
      expect(row[`${k}Float`], k).toBe(Number(out[k]));
    } else out[k] = v;
  }
  return out;
}

/** The same record with cat's key order irrelevant, raw data as base64 either way. */
function comparable(rec: Record<string, unknown>): string {
  const r = { ...rec };
  if (typeof r["data"] === "string") {
    r["dataBase64"] = Buffer.from(r["data"], "utf8").toString("base64");
    delete r["data"];
  }
  return JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1))));
}

function expectSame(key: string, got: Record<string, unknown>[]): void {
  const want = expected.get(key);
  expect(want, key).toBeDefined();
  expect(got.map(comparable), key).toEqual(want!.map(comparable));
}

async function outputs(out: string): Promise<string[]> {
  return (await readdir(out)).sort();
}

/** Output names: exchange, symbol (escaped), kind. */
function keyOf(name: string): { symbol: string; kind: string } {
  const parts = name.split(".");
  const kind = parts[parts.length - 2]!;
  const symbol = parts.length === 4 ? decodeURIComponent(parts[1]!) : "";
  return { symbol, kind };
}

describe("convert", () => {
  it("Parquet: DuckDB reads every value exactly as ticktape cat prints it", async () => {
    const out = join(dir, "parquet");
    const r = run("convert", file, "--to", "parquet", "--out", out, "--json", "--workers", "2");
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.workers).toBe(2);
    const names = await outputs(out);
    expect(names).toContain("testvenue.BTC%2FUSD.trade.parquet");
    expect(names).toContain("testvenue.event.parquet");
    expect(summary.files).toHaveLength(names.length);
    expect(summary.rows).toBe(records().length);
    const c = await db.connect();
    for (const name of names) {
      const { symbol, kind } = keyOf(name);
      const rows = await parquetRows(join(out, name));
      expectSame(
        `${symbol}|${kind}`,
        rows.map((row) => asCatRecord(kind, row)),
      );
    }
    // Row-group statistics let engines skip: every column chunk has min and max.
    const stats = (
      await c.runAndReadAll(
        `select path_in_schema, stats_min_value, stats_max_value from parquet_metadata('${join(out, "testvenue.ETH-USDT.trade.parquet")}')`,
      )
    ).getRowObjectsJson();
    const ts = stats.find((s) => s["path_in_schema"] === "ts")!;
    expect(ts["stats_min_value"]).not.toBeNull();
    expect(stats.find((s) => s["path_in_schema"] === "symbol")!["stats_max_value"]).toBe("ETH-USDT");
  });

  it("Parquet split by file: several symbols in one file, grouped, every value exact", async () => {
    const out = join(dir, "parquet-by-file");
    const r = run("convert", file, "--to", "parquet", "--split", "file", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    for (const name of await outputs(out)) {
      const kind = name.split(".").at(-2)!;
      const rows = (await parquetRows(join(out, name))).map((row) => asCatRecord(kind, row));
      const symbols = [...new Set(rows.map((x) => x["symbol"] as string))];
      expect(symbols).toEqual([...symbols].sort());
      for (const s of symbols)
        expectSame(
          `${s}|${kind}`,
          rows.filter((x) => x["symbol"] === s),
        );
    }
  });

  /** A Parquet file's rows as DuckDB reads them: ns as text, decimals as text, blobs as base64. */
  async function parquetRows(path: string): Promise<Record<string, unknown>[]> {
    const c = await db.connect();
    {
      const cols = (await c.runAndReadAll(`describe select * from '${path}'`)).getRowObjectsJson();
      const types = Object.fromEntries(cols.map((x) => [String(x["column_name"]), String(x["column_type"])]));
      expect(types["ts"]).toBe("TIMESTAMP_NS");
      const select = Object.keys(types)
        .map((col) =>
          TIMES.includes(col)
            ? `epoch_ns("${col}")::VARCHAR AS "${col}"`
            : types[col] === "BLOB"
              ? `to_base64("${col}") AS "dataBase64"`
              : types[col] === "DOUBLE" || types[col] === "BOOLEAN"
                ? `"${col}"`
                : `"${col}"::VARCHAR AS "${col}"`,
        )
        .join(", ");
      if (DECIMALS.some((d) => d in types))
        expect(types[DECIMALS.find((d) => d in types)!]).toBe("DECIMAL(38,18)");
      const rows = (
        await c.runAndReadAll(
          `select ${select} from read_parquet('${path}', file_row_number = true) order by file_row_number`,
        )
      ).getRowObjectsJson() as Record<string, unknown>[];
      return rows.map((row) => {
        const { file_row_number: _, ...rest } = row;
        return rest;
      });
    }
  }

  it("Arrow IPC: timestamp[ns, UTC], Decimal128(38, 18) and float64, exactly", async () => {
    const out = join(dir, "arrow");
    const r = run("convert", file, "--format", "arrow", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    for (const name of await outputs(out)) {
      const { symbol, kind } = keyOf(name);
      const table = tableFromIPC(await readFile(join(out, name)));
      const tsType = table.schema.fields.find((f) => f.name === "ts")!.type as {
        unit: number;
        timezone: string;
      };
      expect(tsType.timezone).toBe("UTC");
      const rows: Record<string, unknown>[] = [];
      for (const batch of table.batches) rows.push(...arrowRows(batch));
      expectSame(
        `${symbol}|${kind}`,
        rows.map((row) => asCatRecord(kind, row)),
      );
    }
  });

  it("CSV: DuckDB reads every value as text exactly as ticktape cat prints it, absent and empty apart", async () => {
    const out = join(dir, "csv");
    const r = run("convert", file, "--to", "csv", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    const c = await db.connect();
    for (const name of await outputs(out)) {
      const { symbol, kind } = keyOf(name);
      const rows = (
        await c.runAndReadAll(
          `select * from read_csv('${join(out, name)}', all_varchar = true, header = true, quote = '"', escape = '"', allow_quoted_nulls = false)`,
        )
      ).getRowObjectsJson() as Record<string, unknown>[];
      expectSame(
        `${symbol}|${kind}`,
        rows.map((row) => {
          const rec: Record<string, unknown> = { kind };
          for (const [k, v] of Object.entries(row)) {
            if (k === "exchange") expect(v).toBe("testvenue");
            // An absent value is an empty field (NULL), an empty text `""` (a venue-wide event's symbol, empty ids).
            else if (v !== null) rec[k] = k === "snapshot" ? v === "true" : v;
          }
          return rec;
        }),
      );
    }
  });

  it("NDJSON split by file: the lines ticktape cat prints, grouped by symbol", async () => {
    const out = join(dir, "ndjson");
    const r = run("convert", file, "--to", "ndjson", "--split", "file", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    const names = await outputs(out);
    expect(names).toEqual(
      ["bbo", "book", "event", "raw", "trade"].map(
        (k) => `testvenue-${file.split("testvenue-")[1]!.replace(".tape", "")}.${k}.ndjson`,
      ),
    );
    for (const name of names) {
      const kind = name.split(".").at(-2)!;
      const lines = (await readFile(join(out, name), "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const symbols = [...new Set(lines.map((l) => l.symbol as string))];
      expect(symbols).toEqual([...symbols].sort());
      for (const s of symbols)
        expectSame(
          `${s}|${kind}`,
          lines.filter((l) => l.symbol === s),
        );
    }
  });

  it("--from/--to and --symbol select rows; --parquet-utc marks instants", async () => {
    const out = join(dir, "window");
    const from = (HOUR + 10_000_000_000n).toString();
    const to = (HOUR + 20_000_000_000n).toString();
    const select = ["--symbol", "ETH-USDT", "--kind", "trade", "--from", from];
    const r = run(
      "convert",
      file,
      "--format",
      "parquet",
      "--parquet-utc",
      ...select,
      "--to",
      to,
      "--out",
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(await outputs(out)).toEqual(["testvenue.ETH-USDT.trade.parquet"]);
    const c = await db.connect();
    const path = join(out, "testvenue.ETH-USDT.trade.parquet");
    const rows = (
      await c.runAndReadAll(`select count(*)::INTEGER n, typeof(any_value(ts)) t from '${path}'`)
    ).getRowObjectsJson();
    const want = expected
      .get("ETH-USDT|trade")!
      .filter((x) => BigInt(x["ts"] as string) >= BigInt(from) && BigInt(x["ts"] as string) < BigInt(to));
    expect(rows[0]!["n"]).toBe(want.length);
    expect(rows[0]!["t"]).toBe("TIMESTAMP WITH TIME ZONE");
    // `--to` twice: the time ends the range, the format names the format, in either order.
    for (const order of [
      ["--to", to, "--to", "ndjson"],
      ["--to", "ndjson", "--to", to],
    ]) {
      const again = join(dir, `window-${order[1]}`);
      const n = run("convert", file, ...select, ...order, "--out", again);
      expect(n.status, n.stderr).toBe(0);
      const text = await readFile(join(again, "testvenue.ETH-USDT.trade.ndjson"), "utf8");
      expect(text.trim().split("\n")).toHaveLength(want.length);
    }
    const twice = run(
      "convert",
      file,
      "--to",
      to,
      "--to",
      from,
      "--format",
      "csv",
      "--out",
      join(dir, "twice"),
    );
    expect(twice.status).not.toBe(0);
    expect(twice.stderr).toContain("--to gives the end of the range twice");
  });

  it("an hour without a file in the range stops the conversion, with worker threads or without; skipped, it is counted once", async () => {
    const root = join(dir, "gappy");
    const H = 3_600_000_000_000n;
    for (const hour of [HOUR, HOUR + 2n * H]) {
      const path = join(root, tapeRelativePath("testvenue", hour, "c1"));
      await mkdir(join(path, ".."), { recursive: true });
      const recs: RecordInput[] = ["A-USDT", "B-USDT"].flatMap((symbol) =>
        [1n, 2n, 3n].map(
          (i) =>
            ({ kind: "trade", symbol, ts: hour + i, price: "1.5", size: "2", side: "buy" }) as RecordInput,
        ),
      );
      await writeFile(
        path,
        encodeTape(recs, { exchange: "testvenue", captureId: "c1", periodStart: hour, periodEnd: hour + H }),
      );
    }
    const range = [
      "--root",
      root,
      "--from",
      HOUR.toString(),
      "--to",
      (HOUR + 3n * H).toString(),
      "--format",
      "ndjson",
    ];
    for (const workers of ["1", "2"]) {
      const r = run("convert", ...range, "--workers", workers, "--out", join(dir, `gappy-${workers}`));
      expect(r.status, `workers ${workers}`).not.toBe(0);
      expect(r.stderr).toContain("E_TAPE_MISSING");
      const skipped = run(
        "convert",
        ...range,
        "--workers",
        workers,
        "--on-corrupt",
        "skip",
        "--json",
        "--out",
        join(dir, `gappy-skip-${workers}`),
      );
      expect(skipped.status, skipped.stderr).toBe(0);
      const summary = JSON.parse(skipped.stdout) as {
        rows: number;
        missingHours: number;
        lostBlocks: number;
      };
      expect(summary).toMatchObject({ rows: 12, missingHours: 1, lostBlocks: 0 });
    }
  });

  it("refuses to replace outputs unless asked, and leaves no partial file when a block is damaged", async () => {
    const out = join(dir, "refuse");
    expect(run("convert", file, "--to", "csv", "--out", out).status).toBe(0);
    const again = run("convert", file, "--to", "csv", "--out", out);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/exists; .*--overwrite/);
    expect(run("convert", file, "--to", "csv", "--out", out, "--overwrite").status).toBe(0);

    // A flipped byte inside the last block of ETH-USDT trades.
    const bytes = await readFile(file);
    const { openTape } = await import("../../src/index.js");
    const reader = await openTape(file);
    const victim = reader.selectBlocks({ symbols: ["ETH-USDT"], kinds: ["trade"] }).at(-1)!;
    await reader.close();
    bytes[victim.offset + victim.length - 10]! ^= 0x40;
    const bad = join(dir, "bad", tapeRelativePath("testvenue", HOUR, "c1"));
    await mkdir(join(bad, ".."), { recursive: true });
    await writeFile(bad, bytes);
    const badOut = join(dir, "bad-out");
    const err = await convert(datasetOfFiles([bad]), { format: "parquet", outDir: badOut }).catch((e) => e);
    expect(err).toBeInstanceOf(TapeError);
    expect((err as TapeError).code).toBe("E_TAPE_CRC");
    expect((err as TapeError).file).toBe(bad);
    // Outputs finished before the damaged block are whole; nothing half-written is left under any name.
    for (const name of await outputs(badOut)) {
      expect(name.startsWith(".")).toBe(false);
      expect(name).not.toBe("testvenue.ETH-USDT.trade.parquet");
    }
    // The same from the command, with two worker threads: the error names the file; nothing half-written stays.
    const cliOut = join(dir, "bad-cli");
    const failed = run("convert", bad, "--to", "parquet", "--workers", "2", "--out", cliOut);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain("E_TAPE_CRC");
    expect(failed.stderr).toContain(bad);
    for (const name of await outputs(cliOut)) {
      expect(name.startsWith(".")).toBe(false);
      expect(name).not.toBe("testvenue.ETH-USDT.trade.parquet");
    }
    let progress = { blockBytesDone: 0, blockBytesTotal: -1 };
    const skipped = await convert(datasetOfFiles([bad]), {
      format: "ndjson",
      outDir: join(dir, "bad-skip"),
      onCorrupt: "skip",
      onProgress: (p) => {
        progress = { ...p };
      },
    });
    expect(skipped.lostBlocks).toBe(1);
    // The damaged block counts as done: the progress ends at its total.
    expect(progress.blockBytesDone).toBe(progress.blockBytesTotal);
    expect(skipped.rows).toBe(records().length - victim.rowCount);
  });

  it("a file system that refuses a write (a file-size limit) is E_TAPE_IO naming the output, in workers too", async () => {
    for (const workers of ["1", "2"]) {
      const out = join(dir, `refused-${workers}`);
      // 1 KiB: no Parquet output fits, and the kernel answers the write with EFBIG (Node ignores SIGXFSZ).
      const r = spawnSync(
        "bash",
        [
          "-c",
          'ulimit -f 1 && exec "$0" "$@"',
          process.execPath,
          cli,
          "convert",
          file,
          "--to",
          "parquet",
        ].concat(["--workers", workers, "--out", out]),
        { encoding: "utf8" },
      );
      expect(r.status, `workers ${workers}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/ticktape: E_TAPE_IO: \S+\.parquet: cannot write: EFBIG/);
      expect(r.stderr, "no stack trace").not.toContain("    at ");
      expect(
        (await outputs(out)).filter((n) => n.startsWith(".")),
        "temporary files left",
      ).toEqual([]);
    }
  });
});

/** Trade `i` of `symbol` (price 100 + i, id i), at `at` ms into the hour. */
function trade(symbol: string, i: number, at = i): RecordInput {
  return {
    kind: "trade",
    symbol,
    ts: HOUR + BigInt(at) * 1_000_000n,
    price: `${100 + i}`,
    size: "1",
    side: "buy",
    tradeId: `${i}`,
  };
}

describe("inputs at the edges", () => {
  const meta = hourMeta("edgevenue");
  async function place(name: string, recs: RecordInput[], maxRows = 3): Promise<string> {
    const path = join(dir, name, tapeRelativePath("edgevenue", HOUR, "c1"));
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, encodeTape(recs, meta, { policy: { maxRows, checkpointIntervalNs: 0 } }));
    return path;
  }
  const ids = async (path: string) =>
    (await readFile(path, "utf8"))
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { tradeId: string }).tradeId);

  it("a sealed file cut short counts its lost tail once, however many symbols read it", async () => {
    const path = await place("torn", [
      ...Array.from({ length: 6 }, (_, i) => trade("AAA", i)),
      ...Array.from({ length: 6 }, (_, i) => trade("BBB", 6 + i)),
    ]);
    const reader = await TapeReader.open(new BytesSource(await readFile(path)));
    const last = reader.blocks.at(-1)!;
    await reader.close();
    // Footer gone, and half of the last block.
    await writeFile(path, (await readFile(path)).subarray(0, last.offset + Math.floor(last.length / 2)));
    const s = await convert(datasetOfFiles([path]), {
      format: "ndjson",
      outDir: join(dir, "torn-out"),
      onCorrupt: "skip",
    });
    expect(s.lostBlocks).toBe(1);
    expect(s.rows).toBe(12 - last.rowCount);
  });

  it("a block whose rows straddle the range converts to nothing and still counts as done", async () => {
    // Blocks of three: times 10, 11, 12, then 1, 9, 20 (its header says 1..20), then 30, 31, 32.
    const path = await place(
      "straddle",
      [10, 11, 12, 1, 9, 20, 30, 31, 32].map((at, i) => trade("AAA", i, at)),
    );
    const ms = (at: number) => HOUR + BigInt(at) * 1_000_000n;
    const updates: { blockBytesDone: number; blockBytesTotal: number }[] = [];
    const s = await convert(datasetOfFiles([path], { from: ms(13), to: ms(15) }), {
      format: "ndjson",
      outDir: join(dir, "straddle-out"),
      onProgress: (p) => updates.push({ ...p }),
    });
    expect(s.rows).toBe(0);
    const last = updates.at(-1)!;
    expect(last.blockBytesTotal).toBeGreaterThan(0);
    expect(last.blockBytesDone).toBe(last.blockBytesTotal);
  });

  it("a file named twice is converted once", async () => {
    const path = await place(
      "twice",
      Array.from({ length: 10 }, (_, i) => trade("AAA", i)),
    );
    const other = join(dir, "twice", ".", path.slice(join(dir, "twice").length));
    for (const split of ["symbol", "file"] as const) {
      const out = join(dir, `twice-${split}`);
      const s = await convert(datasetOfFiles([path, other, path]), {
        format: "ndjson",
        outDir: out,
        split,
        workers: 2,
      });
      expect(s.rows).toBe(10);
      expect(s.files).toHaveLength(1);
      expect(await ids(s.files[0]!.path)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    }
  });

  it("rows keep the order they were written in, a late record included, as cat prints them", async () => {
    // Blocks of three: times 10, 11, 12, then a late 5 with 13 and 14.
    const path = await place(
      "late",
      [10, 11, 12, 5, 13, 14].map((at, i) => trade("AAA", i, at)),
    );
    const cat = run("cat", path)
      .stdout.trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { tradeId: string }).tradeId);
    expect(cat).toEqual(["0", "1", "2", "3", "4", "5"]);
    for (const split of ["symbol", "file"] as const) {
      const s = await convert(datasetOfFiles([path]), {
        format: "ndjson",
        outDir: join(dir, `late-${split}`),
        split,
      });
      expect(await ids(s.files[0]!.path)).toEqual(cat);
    }
  });

  it("symbols with any character, or as long as the format allows, get a file each", async () => {
    const long = "BTC/USDT:".repeat(28);
    const path = await place("names", [trade("BTC\u0000USDT", 0), trade(long, 1), trade(`${long}x`, 2)]);
    const s = await convert(datasetOfFiles([path]), { format: "ndjson", outDir: join(dir, "names-out") });
    expect(s.rows).toBe(3);
    expect(s.files).toHaveLength(3);
    for (const f of s.files) expect(Buffer.byteLength(f.path.split("/").pop()!)).toBeLessThan(160);
    expect(new Set(s.files.map((f) => f.path)).size).toBe(3);
    const bySymbol = new Map(s.files.map((f) => [f.symbol, f.path]));
    expect(await ids(bySymbol.get(`${long}x`)!)).toEqual(["2"]);
  });

  it("symbols that differ only in case get names that differ without case too", async () => {
    const path = await place("cases", [trade("btc-usdt", 0), trade("BTC-USDT", 1), trade("ETH-USDT", 2)]);
    const s = await convert(datasetOfFiles([path]), { format: "ndjson", outDir: join(dir, "cases-out") });
    const names = s.files.map((f) => f.path.split("/").pop()!);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(3);
    // A symbol alone in its name keeps the plain one.
    expect(names).toContain("edgevenue.ETH-USDT.trade.ndjson");
    const bySymbol = new Map(s.files.map((f) => [f.symbol, f.path]));
    expect(await ids(bySymbol.get("btc-usdt")!)).toEqual(["0"]);
    expect(await ids(bySymbol.get("BTC-USDT")!)).toEqual(["1"]);
  });

  it("an output folder that cannot be made is E_TAPE_IO naming it", async () => {
    const path = await place("badout", [trade("AAA", 0)]);
    const out = join(path, "sub");
    const err = await convert(datasetOfFiles([path]), { format: "ndjson", outDir: out }).catch((e) => e);
    expect(err).toBeInstanceOf(TapeError);
    expect((err as TapeError).code).toBe("E_TAPE_IO");
    expect((err as TapeError).file).toBe(out);
    const cli = run("convert", path, "--to", "ndjson", "--out", out);
    expect(cli.status).toBe(2);
    expect(cli.stderr).toContain("E_TAPE_IO");
    expect(cli.stderr).not.toContain("    at ");
  });
});

describe("a .open file being written", () => {
  const meta = hourMeta("testvenue");
  /** What a file being written holds of `sealed`: its header and blocks, without footer or trailer. */
  const beforeFooter = async (sealed: Uint8Array) =>
    sealed.subarray(0, (await TapeReader.open(new BytesSource(sealed))).footerOffset);
  const bookRow = (symbol: string, i: number): RecordInput => ({
    kind: "book",
    symbol,
    ts: HOUR + BigInt(i) * 1_000_000n,
    side: "bid",
    price: `${99 + i / 100}`,
    size: "2",
    snapshot: false,
  });

  /**
   * Converts the hour `planned` as a `.open` file being written (in folder `name`), which its writer seals as
   * `sealed` once the first block is converted: the footer written and the file renamed.
   */
  async function convertSealedMidway(name: string, planned: Uint8Array, sealed: Uint8Array) {
    const sealedPath = join(dir, name, tapeRelativePath("testvenue", HOUR, "c1"));
    const openPath = `${sealedPath}.open`;
    await mkdir(join(openPath, ".."), { recursive: true });
    await writeFile(openPath, await beforeFooter(planned));
    let sealedNow = false;
    const summary = await convert(datasetOfFiles([openPath]), {
      format: "ndjson",
      outDir: join(dir, `${name}-out`),
      onProgress: () => {
        if (sealedNow) return;
        sealedNow = true;
        writeFileSync(sealedPath, sealed);
        unlinkSync(openPath);
      },
    });
    expect(sealedNow).toBe(true);
    return { summary, openPath };
  }

  it("sealed during the conversion: the symbols converted after read the sealed file", async () => {
    const sealed = encodeTape(
      [
        ...Array.from({ length: 40 }, (_, i) => trade("AAA", i)),
        ...Array.from({ length: 20 }, (_, i) => trade("BBB", i)),
      ],
      meta,
      { policy: { maxRows: 10, checkpointIntervalNs: 0 } },
    );
    const { summary: s, openPath } = await convertSealedMidway("sealed-midway", sealed, sealed);
    expect(s.rows).toBe(60);
    expect(s.files.map((f) => f.rows).sort()).toEqual([20, 40]);
    // A replay that reaches it after the seal reads it too.
    await writeFile(openPath, sealed.subarray(0, 100));
    const ds = datasetOfFiles([openPath]);
    await unlink(openPath);
    let n = 0;
    for await (const _ of ds.replay()) n++;
    expect(n).toBe(60);
    // A conversion planned after the seal too.
    const planned = await convert(ds, { format: "ndjson", outDir: join(dir, "sealed-before-plan-out") });
    expect(planned.rows).toBe(60);
  });

  it("sealed during the conversion with a (symbol, kind) pair the plan does not know: that pair is left out", async () => {
    // AAA's trades are converted first (the larger symbol); the hour then gets BBB's first book updates and is
    // sealed, so BBB's pass reads the sealed file, which holds a pair no output was planned for.
    const policy = { maxRows: 10, checkpointIntervalNs: 0 };
    const trades = [
      ...Array.from({ length: 40 }, (_, i) => trade("AAA", i)),
      ...Array.from({ length: 20 }, (_, i) => trade("BBB", i)),
    ];
    const book = Array.from({ length: 30 }, (_, i) => bookRow("BBB", i));
    const { summary: s } = await convertSealedMidway(
      "sealed-new-pair",
      encodeTape(trades, meta, { policy }),
      encodeTape([...trades, ...book], meta, { policy }),
    );
    expect(s.files.map((f) => `${f.symbol}|${f.kind}|${f.rows}`).sort()).toEqual([
      "AAA|trade|40",
      "BBB|trade|20",
    ]);
    expect(s.rows).toBe(60);
  });

  it("blocks appended after the conversion was planned are left out, whatever pass meets them", async () => {
    // X-USDT's trades (converted first: the larger symbol), then Y-USDT's trades, flushed; later Y-USDT's book
    // updates, a (symbol, kind) pair the plan does not know.
    const openPath = join(dir, "growing", `${tapeRelativePath("testvenue", HOUR, "c1")}.open`);
    await mkdir(join(openPath, ".."), { recursive: true });
    const records: RecordInput[] = [
      ...Array.from({ length: 2000 }, (_, i) => trade("X-USDT", i)),
      ...Array.from({ length: 10 }, (_, i) => trade("Y-USDT", i)),
    ];
    const policy = { maxRows: 100, checkpointIntervalNs: 0 };
    const planned = await beforeFooter(encodeTape(records, meta, { policy }));
    const later = await beforeFooter(
      encodeTape([...records, ...Array.from({ length: 50 }, (_, i) => bookRow("Y-USDT", i))], meta, {
        policy,
      }),
    );
    expect(Buffer.from(later.subarray(0, planned.length)).equals(Buffer.from(planned))).toBe(true);
    await writeFile(openPath, planned);
    let appended = false;
    const summary = await convert(datasetOfFiles([openPath]), {
      format: "ndjson",
      outDir: join(dir, "growing-out"),
      // After the first block of the first pass (X-USDT), the writer appends Y-USDT's book updates.
      onProgress: () => {
        if (appended) return;
        appended = true;
        appendFileSync(openPath, later.subarray(planned.length));
      },
    });
    expect(appended).toBe(true);
    expect(summary.rows).toBe(2010);
    expect(summary.files.map((f) => `${f.symbol}|${f.kind}|${f.rows}`).sort()).toEqual([
      "X-USDT|trade|2000",
      "Y-USDT|trade|10",
    ]);
  });
});

describe("stopping", () => {
  it("SIGTERM mid-conversion removes the file being written, keeps no temporary file, and exits 143", async () => {
    const path = join(dir, "stop", tapeRelativePath("testvenue", HOUR, "c1"));
    await mkdir(join(path, ".."), { recursive: true });
    const recs: RecordInput[] = [];
    for (let i = 0; i < 1_500_000; i++) {
      const symbol = i % 2 === 0 ? "A-USDT" : "B-USDT";
      const price = `${100 + (i % 977) / 100}`;
      recs.push({
        kind: "trade",
        symbol,
        ts: HOUR + BigInt(i) * 1000n,
        price,
        size: "1.5",
        side: "buy",
        tradeId: `${i}`,
      });
    }
    const meta = hourMeta("testvenue");
    await writeFile(path, encodeTape(recs, meta, { policy: { maxRows: 4096, checkpointIntervalNs: 0 } }));
    const out = join(dir, "stop-out");
    const { spawn } = await import("node:child_process");
    const child = spawn(
      process.execPath,
      [cli, "convert", path, "--format", "parquet", "--workers", "1", "--out", out],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Stopped once a file is being written.
    for (;;) {
      const names = await readdir(out).catch(() => [] as string[]);
      if (names.some((n) => n.endsWith(".tmp"))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(143);
    expect(stderr).toContain("convert stopped by SIGTERM");
    const left = await readdir(out);
    expect(left.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    // What is there is whole: DuckDB reads every row of it.
    const c = await db.connect();
    for (const name of left) {
      const n = (
        await c.runAndReadAll(`select count(*)::INTEGER n from '${join(out, name)}'`)
      ).getRowObjectsJson();
      expect(n[0]!["n"]).toBe(750_000);
    }
  }, 60_000);
});

describe("library", () => {
  it("a record batch of large raw frames closes by bytes before Arrow's int32 offsets could overflow", async () => {
    const frame = new Uint8Array(10_000).fill(0x61);
    const raws: RecordInput[] = Array.from({ length: 12 }, (_, i) => ({
      kind: "raw",
      symbol: "",
      ts: HOUR + BigInt(i),
      recvTs: HOUR + BigInt(i),
      data: frame,
    }));
    const meta = hourMeta("rawvenue");
    const reader = await TapeReader.open(new BytesSource(encodeTape(raws, meta, { policy: { maxRows: 3 } })));
    const gatherWith = async (maxBytes: number) => {
      const gather = new BatchGatherer(new ArrowTable("raw"), 65_536, maxBytes);
      const sizes: number[] = [];
      for (const h of reader.blocks.filter((b) => b.kind === "raw")) {
        const batch = gather.add(await reader.readBlock(h), "rawvenue");
        if (batch !== null) sizes.push(batch.numRows);
      }
      const last = gather.flush();
      if (last !== null) sizes.push(last.numRows);
      return sizes;
    };
    // Blocks of three 10 kB frames: a 50 kB bound closes every second block; none, one batch of all.
    expect(await gatherWith(50_000)).toEqual([6, 6]);
    expect(await gatherWith(2 ** 31)).toEqual([12]);
    await reader.close();
  });

  it("dataset.toArrow gathers blocks into batches of batchRows and arrowIpcStream frames them", async () => {
    const ds = datasetOfFiles([file]);
    const batches: RecordBatch[] = [];
    for await (const b of ds.toArrow({ kind: "book", batchRows: 10 })) batches.push(b);
    const rows = batches.reduce((n, b) => n + b.numRows, 0);
    expect(rows).toBe(records().filter((r) => r.kind === "book").length);
    // Blocks of 7 rows: every batch but the last holds at least 10 rows, and no more than a block beyond that.
    for (const b of batches.slice(0, -1)) expect(b.numRows).toBeGreaterThanOrEqual(10);
    for (const b of batches) expect(b.numRows).toBeLessThan(10 + 7);
    const chunks: Uint8Array[] = [];
    for await (const c of arrowIpcStream(new ArrowTable("book").schema, ds.toArrow({ kind: "book" })))
      chunks.push(c);
    const table = tableFromIPC(Buffer.concat(chunks));
    expect(table.numRows).toBe(rows);
    const got = table.batches.flatMap((b) => arrowRows(b)).map((row) => asCatRecord("book", row));
    const symbols = [...new Set(got.map((r) => r["symbol"] as string))];
    for (const s of symbols) {
      // toArrow follows the scan's order (by block start time): each symbol's rows stay in order.
      expectSame(
        `${s}|book`,
        got.filter((r) => r["symbol"] === s),
      );
    }
  });

  it("a batch's symbol dictionary is its own, whatever characters symbols hold", async () => {
    const path = join(dir, "nul-symbols.tape");
    const t = unitTrade;
    // "a\u0000b" alone, then "a" and "b": joined with U+0000 the two batches' values would read the same.
    const input = [t("a\u0000b", 1n), t("a\u0000b", 2n), t("a", 3n), t("b", 4n)];
    await writeFile(path, encodeTape(input, { exchange: "testvenue" }, { policy: { maxRows: 1 } }));
    const chunks: Uint8Array[] = [];
    const ds = datasetOfFiles([path]);
    for await (const c of arrowIpcStream(
      new ArrowTable("trade").schema,
      ds.toArrow({ kind: "trade", batchRows: 2 }),
    ))
      chunks.push(c);
    const table = tableFromIPC(Buffer.concat(chunks));
    expect(table.batches.length).toBe(2);
    expect([...table.getChild("symbol")!]).toEqual(["a\u0000b", "a\u0000b", "a", "b"]);
  });

  it("an Arrow stream or a Parquet file without rows still names its columns", async () => {
    const chunks: Uint8Array[] = [];
    const none = datasetOfFiles([file], { symbols: ["NO-SUCH"] });
    for await (const c of arrowIpcStream(new ArrowTable("trade").schema, none.toArrow({ kind: "trade" })))
      chunks.push(c);
    const table = tableFromIPC(Buffer.concat(chunks));
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toContain("priceFloat");
    const path = join(dir, "empty.parquet");
    const writer = ParquetWriter.create(await open(path, "w"), new ArrowTable("bbo").schema);
    expect((await writer.close()).rows).toBe(0);
    const c = await db.connect();
    const cols = (await c.runAndReadAll(`describe select * from '${path}'`)).getRowObjectsJson();
    expect(cols.map((x) => x["column_name"])).toContain("askSizeFloat");
    expect(
      (await c.runAndReadAll(`select count(*)::INTEGER n from '${path}'`)).getRowObjectsJson()[0]!["n"],
    ).toBe(0);
  });
});

/** Rows of an Arrow batch with values as cat prints them: ns and ids as text, decimals as DuckDB-like text. */
function arrowRows(batch: RecordBatch): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = Array.from({ length: batch.numRows }, () => ({}));
  for (const field of batch.schema.fields) {
    const vector = batch.getChild(field.name)!;
    const data = vector.data[0] as Data;
    for (let i = 0; i < batch.numRows; i++) {
      let v: unknown = vector.isValid(i) ? vector.get(i) : null;
      if (v !== null) {
        const type = String(field.type);
        if (type.startsWith("Timestamp") || type === "Int64")
          v = (data.values as BigInt64Array)[i]!.toString();
        else if (type.startsWith("Decimal")) {
          const w = data.values as Uint32Array;
          let m = 0n;
          for (let k = 3; k >= 0; k--) m = (m << 32n) | BigInt(w[4 * i + k]!);
          m = BigInt.asIntN(128, m);
          const neg = m < 0n;
          const digits = (neg ? -m : m).toString().padStart(19, "0");
          v = `${neg ? "-" : ""}${digits.slice(0, -18)}.${digits.slice(-18)}`;
        } else if (type === "Binary") {
          v = Buffer.from(v as Uint8Array).toString("base64");
          rows[i]!["dataBase64"] = v;
          continue;
        }
      }
      rows[i]![field.name] = v;
    }
  }
  return rows;
}
