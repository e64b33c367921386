import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TapeRecord } from "../src/index.js";
import { DAY0, HOUR, tempDir, writeDataset } from "./reader/helpers.js";

// The built command (npm test builds first), as a child process.
const cli = join(import.meta.dirname, "..", "dist", "cli", "main.js");
function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const S = 1_000_000_000n;
const trade = (symbol: string, ts: bigint, price: string): TapeRecord => ({
  kind: "trade",
  symbol,
  ts,
  recvTs: ts + 5n,
  price,
  size: "0.5",
  side: "buy",
  tradeId: "7",
});
const level = (
  side: "bid" | "ask",
  price: string,
  size: string,
  ts: bigint,
  snapshot: boolean,
): TapeRecord => ({
  kind: "book",
  symbol: "BTC-USDT",
  ts,
  side,
  price,
  size,
  snapshot,
  seq: ts / S,
});

let root: string;
let remove: () => Promise<void>;
let paths: string[];
beforeAll(async () => {
  ({ dir: root, remove } = await tempDir());
  paths = await writeDataset(root, [
    {
      exchange: "okx",
      hour: DAY0,
      captureId: "a",
      records: [
        level("bid", "100", "1", DAY0 + S, true),
        level("ask", "101", "2", DAY0 + S, true),
        trade("BTC-USDT", DAY0 + 2n * S, "100.5"),
        level("bid", "100.5", "3", DAY0 + 3n * S, false),
        trade("ETH-USDT", DAY0 + 4n * S, "3000"),
      ],
    },
    { exchange: "binance", hour: DAY0, captureId: "a", records: [trade("BTCUSDT", DAY0 + 2n * S, "100.4")] },
    {
      exchange: "okx",
      hour: DAY0 + HOUR,
      captureId: "a",
      records: [trade("BTC-USDT", DAY0 + HOUR + S, "99")],
    },
  ]);
});
afterAll(() => remove());

describe("ticktape replay, head, book", () => {
  it("--help shows an example", () => {
    for (const cmd of ["replay", "head", "book"]) {
      const r = run(cmd, "--help");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Examples?:\n\s+ticktape /);
    }
  });

  it("replay merges a root's files in time order as exact NDJSON", () => {
    const r = run("replay", "--root", root, "--json");
    expect(r.status).toBe(0);
    const recs = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(recs.map((x) => `${x.exchange}:${x.symbol}:${x.kind}`)).toEqual([
      "okx:BTC-USDT:book",
      "okx:BTC-USDT:book",
      // Equal exchange times: binance's file sorts first (by exchange name), at equal receive times.
      "binance:BTCUSDT:trade",
      "okx:BTC-USDT:trade",
      "okx:BTC-USDT:book",
      "okx:ETH-USDT:trade",
      "okx:BTC-USDT:trade",
    ]);
    expect(recs[2]).toMatchObject({
      ts: String(DAY0 + 2n * S),
      recvTs: String(DAY0 + 2n * S + 5n),
      price: "100.4",
    });
  });

  it("replay selects by exchange, symbol, kind and time (offsets too), and stops at --limit", () => {
    const r = run(
      "replay",
      "--root",
      root,
      "-e",
      "okx",
      "-k",
      "trade",
      "--from",
      "2024-08-08T00:00:03Z",
      "--to",
      "+119m",
      "--json",
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).price),
    ).toEqual(["3000", "99"]);
    const h = run("head", ...paths, "-n", "2", "--json", "--from", "+2s");
    expect(h.status).toBe(0);
    expect(
      h.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).ts),
    ).toEqual([String(DAY0 + 2n * S), String(DAY0 + 2n * S)]);
    const t = run("head", paths[1]!, "--table");
    expect(t.stdout).toMatch(
      /^2024-08-08T00:00:02\.000000000Z\s+binance\s+BTCUSDT\s+trade\s+buy\s+0\.5 @ 100\.4\s+id 7$/m,
    );
  });

  it("book prints the ladder at an instant, and JSON", () => {
    const r = run("book", "--root", root, "-e", "okx", "-s", "BTC-USDT", "--at", "2024-08-08T00:00:03Z");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("BTC-USDT at 2024-08-08T00:00:03.000000000Z: valid");
    expect(r.stdout).toMatch(/3\s+100\.5\s+\|\s+101\s+2/);
    const j = run("book", paths[0]!, "-s", "BTC-USDT", "--at", "+2s", "--json");
    expect(j.status).toBe(0);
    const book = JSON.parse(j.stdout);
    expect(book).toMatchObject({
      valid: true,
      bestBid: { price: 100, size: 1 },
      bestAsk: { price: 101, size: 2 },
    });
    expect(book.lastUpdate).toBe(String(DAY0 + S));
    // Sequence ids as text, as everywhere on the command line.
    expect(book.seq).toBe(String((DAY0 + S) / S));
    // In an AWS Batch child too, the book is rebuilt from every file (its snapshot may be in any share): no share.
    const args = ["book", "--root", root, "-e", "okx", "-s", "BTC-USDT", "--at", "2024-08-08T00:00:03Z"];
    for (const index of ["0", "1"]) {
      const child = spawnSync(process.execPath, [cli, ...args], {
        encoding: "utf8",
        env: { ...process.env, AWS_BATCH_JOB_ARRAY_INDEX: index, AWS_BATCH_JOB_ARRAY_SIZE: "2" },
      });
      expect(child.status).toBe(0);
      expect(child.stdout).toBe(r.stdout);
    }
    expect(run(...args, "--shard", "1/2").stderr).toMatch(/unknown option '--shard'/);
    // One symbol, book and event rows, an instant: the help offers nothing else.
    const help = run("book", "--help").stdout;
    expect(help).toMatch(/-s, --symbol <symbol>\s/);
    expect(help).not.toMatch(/--kind|--to /);
    expect(run(...args, "--kind", "trade").stderr).toMatch(/unknown option '--kind'/);
    expect(run("book", "--root", root, "-e", "okx", "--at", "+1s").stderr).toMatch(/--symbol/);
  });

  it("head prints the records it read before a damaged block stops it", async () => {
    const { readFile, writeFile } = await import("node:fs/promises");
    const { openTape } = await import("../src/index.js");
    const copy = `${paths[0]}.copy.tape`;
    const bytes = new Uint8Array(await readFile(paths[0]!));
    const r = await openTape(paths[0]!);
    // Damage the last record block: the records of the blocks before it are printed, then the error.
    const last = r.selectBlocks().at(-1)!;
    const before = r.selectBlocks().filter((b) => b.minTs <= last.minTs && b !== last).length;
    await r.close();
    bytes[last.offset + last.headerLength + 2]! ^= 0xff;
    await writeFile(copy, bytes);
    const h = run("head", copy, "-n", "100", "--json");
    expect(h.status).toBe(2);
    expect(h.stderr).toContain("E_TAPE_CRC");
    expect(h.stdout.trim().split("\n").length).toBeGreaterThanOrEqual(before);
    expect(run("head", copy, "-n", "1.5").stderr).toContain("E_USAGE");
  });

  it("usage errors and damaged data exit non-zero with a coded message", () => {
    expect(run("replay").stderr).toContain("E_USAGE");
    expect(run("replay", "--root", root, "--kind", "quote").stderr).toContain("E_USAGE");
    expect(run("replay", "--root", root, "--from", "+1m").stderr).toContain("E_USAGE");
    // --to not after --from, with files as with a root.
    for (const where of [[paths[0]!], ["--root", root]]) {
      const empty = run("replay", ...where, "--from", "2024-08-08T00:30Z", "--to", "2024-08-08T00:30Z");
      expect(empty.status).toBe(2);
      expect(empty.stderr).toMatch(/E_USAGE: --to .* must be after --from/);
    }
    const missing = run("replay", "--root", root, "--from", "2024-08-08T00:00Z", "--to", "+3h");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("E_TAPE_MISSING");
    const skipped = run(
      "replay",
      "--root",
      root,
      "--from",
      "2024-08-08T00:00Z",
      "--to",
      "+3h",
      "--on-corrupt",
      "skip",
      "--json",
    );
    expect(skipped.status).toBe(0);
    expect(skipped.stdout).toContain('"type":"gap"');
  });
});
