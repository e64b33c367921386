import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeTape, type RecordInput } from "../src/index.js";

// The built command (npm test builds first), run as a user would run it: a real child process.
const root = join(import.meta.dirname, "..");
const cli = join(root, "dist", "cli", "main.js");
const fixture = (name: string) => join(root, "fixtures", name);

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ticktape-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ticktape CLI", () => {
  it("--help of every command shows an example", () => {
    for (const cmd of ["inspect", "cat", "verify", "repair"]) {
      const r = run(cmd, "--help");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Examples?:\n\s+ticktape /);
    }
  });

  it("inspect --json reports kinds, symbols and sizes from the index", () => {
    const r = run("inspect", "--json", fixture("all-kinds-zstd.tape"));
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.sealed).toBe(true);
    expect(s.exchange).toBe("binance");
    expect(s.kinds.map((k: { kind: string }) => k.kind).sort()).toEqual([
      "bbo",
      "book",
      "event",
      "raw",
      "trade",
    ]);
    expect(s.rows).toBe(JSON.parse(readFileSync(fixture("all-kinds-zstd.json"), "utf8")).records.length);
    expect(s.codecs).toEqual({ zstd: s.blocks });
  });

  it("inspect on a torn file says it is not sealed and where the valid data ends", () => {
    const r = run("inspect", fixture("truncated.tape.open"));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("NOT SEALED");
    expect(r.stdout).toMatch(/valid up to offset \d+/);
  });

  it("cat filters by symbol, kind and time and prints exact NDJSON", () => {
    const r = run(
      "cat",
      fixture("trades-zstd.tape"),
      "--symbol",
      "BTCUSDT",
      "--kind",
      "trade",
      "--from",
      "1732500000007000000",
      "--to",
      "2024-11-25T02:00:00.050Z",
    );
    expect(r.status).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.symbol).toBe("BTCUSDT");
      expect(BigInt(row.ts) >= 1732500000007000000n && BigInt(row.ts) < 1732500000050000000n).toBe(true);
      expect(typeof row.price).toBe("string");
    }
    const all = run("cat", fixture("trades-zstd.tape")).stdout.trim().split("\n");
    expect(all.length).toBeGreaterThan(rows.length);
  });

  it("cat stops at a torn tail or a missing footer unless told to skip, and then says what was lost", async () => {
    const torn = run("cat", fixture("truncated.tape.open"));
    expect(torn.status).toBe(2);
    expect(torn.stderr).toMatch(/E_TAPE_TRUNCATED: .*truncated\.tape\.open, offset \d+: torn tail/);
    expect(torn.stdout).toBe("");
    const skipped = run("cat", fixture("truncated.tape.open"), "--on-corrupt", "skip");
    expect(skipped.status).toBe(0);
    expect(skipped.stderr).toMatch(/E_TAPE_TRUNCATED/);
    const intact = JSON.parse(readFileSync(fixture("truncated.json"), "utf8"));
    expect(
      skipped.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(intact.expectedRecords);
    // A sealed name cut short: its footer is gone.
    const dir = mkdtempSync(join(tmpdir(), "cat-"));
    const cut = join(dir, "cut.tape");
    const whole = readFileSync(fixture("trades-zstd.tape"));
    writeFileSync(cut, whole.subarray(0, whole.length - 10));
    const r = run("cat", cut);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cut\.tape, offset \d+: unsealed file/);
    expect(run("cat", "-n", "abc", fixture("trades-zstd.tape")).stderr).toMatch(
      /E_USAGE: --limit must be a positive integer/,
    );
  });

  it("cat stops at a damaged block unless told to skip, and then prints every other block and names the loss", () => {
    const dir = mkdtempSync(join(tmpdir(), "cat-"));
    const records: RecordInput[] = [];
    for (let i = 0; i < 3000; i++)
      records.push({
        kind: "trade",
        symbol: i % 2 === 0 ? "A" : "B",
        ts: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n,
        price: String(100 + (i % 7)),
        size: "1",
        side: "buy",
      });
    const whole = encodeTape(records, { exchange: "ex" }, { policy: { maxRows: 500 } });
    const damaged = Uint8Array.from(whole);
    // A byte inside one of the blocks (past the header, far before the footer).
    damaged[400] = damaged[400]! ^ 0xff;
    const path = join(dir, "damaged.tape");
    writeFileSync(path, damaged);
    const stopped = run("cat", path);
    expect(stopped.status).toBe(2);
    expect(stopped.stderr).toMatch(/E_TAPE_CRC: .*damaged\.tape, offset \d+/);
    const skipped = run("cat", path, "--on-corrupt", "skip");
    expect(skipped.status).toBe(0);
    expect(skipped.stderr).toMatch(
      /E_TAPE_CRC: .*damaged\.tape, offset \d+.*\(lost: 500 trade rows of "[AB]"\)/,
    );
    expect(skipped.stdout.trim().split("\n")).toHaveLength(2500);
  });

  it("inspect counts checkpoint blocks as such, not as unknown blocks or overhead", () => {
    const r = run("inspect", "--json", "--blocks", fixture("book-checkpoints-zstd.tape"));
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    const list = s.blockList as { kind: string; length: number }[];
    const checkpoints = list.filter((b) => b.kind === "checkpoint");
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(list.filter((b) => b.kind.startsWith("unknown"))).toEqual([]);
    expect(s.checkpoints).toEqual({
      blocks: checkpoints.length,
      storedBytes: checkpoints.reduce((n, b) => n + b.length, 0),
    });
    expect(s.overheadBytes).toBe(s.bytes - list.reduce((n, b) => n + b.length, 0));
    expect(run("inspect", fixture("book-checkpoints-zstd.tape")).stdout).toMatch(
      /books +\d+ checkpoint blocks/,
    );
  });

  it("cat rejects an unknown kind and a malformed time with a clear message", () => {
    const bad = run("cat", fixture("trades-zstd.tape"), "--kind", "quote");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown kind");
    const badTime = run("cat", fixture("trades-zstd.tape"), "--from", "yesterday");
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toContain("E_TIME_PARSE");
    // Times a tape cannot hold, and counts written other than in decimal digits.
    for (const time of ["9999999999999999999", "1969-12-31", "2262-04-12"]) {
      const far = run("cat", fixture("trades-zstd.tape"), "--from", time);
      expect(far.status, time).toBe(2);
      expect(far.stderr, time).toMatch(/E_TIME_PARSE: .* is outside the times a tape holds/);
    }
    for (const n of ["0x10", "1e1", "+3", "2.5"]) {
      const limit = run("cat", fixture("trades-zstd.tape"), "-n", n);
      expect(limit.status, n).toBe(2);
      expect(limit.stderr, n).toMatch(/E_USAGE: --limit must be a positive integer/);
    }
    // An empty range is a mistake, not a question whose answer is nothing.
    const empty = run(
      "cat",
      fixture("trades-zstd.tape"),
      "--from",
      "2024-01-01T01:00Z",
      "--to",
      "2024-01-01T00:00Z",
    );
    expect(empty.status).toBe(2);
    expect(empty.stdout).toBe("");
    expect(empty.stderr).toMatch(/E_USAGE: --to \(\d+ ns\) must be after --from/);
  });

  it("verify: 0 when intact, 1 with the first bad offset when a byte is flipped, 2 when not a tape", async () => {
    expect(run("verify", fixture("trades-zstd.tape"), fixture("book-lz4.tape")).status).toBe(0);
    const bytes = new Uint8Array(await readFile(fixture("trades-zstd.tape")));
    bytes[200] = (bytes[200] ?? 0) ^ 0x40;
    const damaged = join(dir, "damaged.tape");
    await writeFile(damaged, bytes);
    const r = run("verify", "--json", damaged);
    expect(r.status).toBe(1);
    const [report] = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.firstBadOffset).toBeLessThanOrEqual(200);
    const notTape = join(dir, "x.tape");
    await writeFile(notTape, '{"not":"a tape"}');
    const n = run("verify", notTape);
    expect(n.status).toBe(2);
    expect(n.stdout).toContain("E_TAPE_NOT_A_TAPE");
  });

  it("repair seals the whole blocks of a torn .open file, and verify then passes", async () => {
    const open = join(dir, "torn.tape.open");
    await copyFile(fixture("truncated.tape.open"), open);
    const r = run("repair", "--json", open);
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.output).toBe(join(dir, "torn.tape"));
    expect(result.droppedBytes).toBeGreaterThan(0);
    expect(run("verify", result.output).status).toBe(0);
    const expected = JSON.parse(readFileSync(fixture("truncated.json"), "utf8")).expectedRecords;
    const rows = run("cat", result.output)
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toEqual(expected);
  });

  it("repair says what it dropped: a torn tail, or damaged blocks before kept ones", async () => {
    const open = join(dir, "torn-text.tape.open");
    await copyFile(fixture("truncated.tape.open"), open);
    expect(run("repair", open).stdout).toMatch(/records kept; [\d.]+ \w+ after the last whole block dropped/);
    // A sealed file whose first block is damaged: the blocks after it are kept, into X.repaired.tape.
    const sealed = join(dir, "damaged.tape");
    const bytes = readFileSync(fixture("trades-zstd.tape"));
    const first = bytes.readUInt32LE(12);
    bytes[first + 50]! ^= 0xff;
    await writeFile(sealed, bytes);
    const r = run("repair", sealed);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`→ ${join(dir, "damaged.repaired.tape")}: 2 blocks`);
    expect(r.stdout).toMatch(/dropped, 1 damaged block among them/);
    expect(run("repair", "--help").stdout).toContain("X.repaired.tape for a damaged X.tape");
  });

  it("repair whose last write stores only part of the trailer (a file-size limit) fails and keeps the .open file", async () => {
    // A torn file of some tens of KiB (footer and trailer cut off) whose sealed form ends a few bytes past a KiB
    // boundary: under a limit at that boundary, the write of the 32-byte trailer stores only its first bytes.
    const HOUR = 1_723_075_200_000_000_000n;
    const meta = {
      exchange: "testvenue",
      captureId: "c1",
      periodStart: HOUR,
      periodEnd: HOUR + 3_600_000_000_000n,
    };
    const trade = (i: number): RecordInput => ({
      kind: "trade",
      symbol: i % 3 === 0 ? "ETH-USDT" : "BTC-USDT",
      ts: HOUR + BigInt(i) * 1_234_567n,
      price: `${60000 + ((i * 7919) % 10007) / 100}`,
      size: `${((i * 104729) % 99991) / 10000}`,
      side: i % 2 === 0 ? "buy" : "sell",
      tradeId: `${i}`,
    });
    const trades = Array.from({ length: 20_000 }, (_, i) => trade(i));
    let bytes = encodeTape(trades, meta, { policy: { maxRows: 2048 } });
    while (bytes.length % 1024 === 0 || bytes.length % 1024 > 24) {
      trades.push(trade(trades.length));
      bytes = encodeTape(trades, meta, { policy: { maxRows: 2048 } });
    }
    const torn = bytes.subarray(0, bytes.length - 100);
    const whole = join(dir, "whole.tape.open");
    await writeFile(whole, torn);
    const sealedBytes = (await stat(JSON.parse(run("repair", "--json", whole).stdout).output)).size;
    const limitKiB = Math.floor(sealedBytes / 1024);
    expect(sealedBytes - limitKiB * 1024, "bytes of the trailer past the limit").toBeLessThan(32);
    const open = join(dir, "limited.tape.open");
    await writeFile(open, torn);
    const r = spawnSync(
      "bash",
      ["-c", `ulimit -f ${limitKiB} && exec "$0" "$@"`, process.execPath, cli, "repair", open],
      { encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain("E_TAPE_IO");
    expect(r.stderr).toContain("EFBIG");
    expect(existsSync(join(dir, "limited.tape"))).toBe(false);
    expect(new Uint8Array(await readFile(open))).toEqual(new Uint8Array(torn));
  });
});
