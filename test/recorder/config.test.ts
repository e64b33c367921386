import { describe, expect, it } from "vitest";
import { TapeError } from "../../src/format/errors.js";
import { parseRecorderConfig } from "../../src/recorder/config.js";

const GOOD = `
root: /efs/ticks
captureId: pod-a
flush:
  intervalMs: 500
status:
  port: 9464
feeds:
  - venue: binance
    symbols: [BTCUSDT, ETHUSDT]
    urls:
      ws: ws://127.0.0.1:9001
      rest: http://127.0.0.1:9001
  - venue: okx
    symbols: [BTC-USDT]
    kinds: [trade, book]
    raw: false
`;

function configError(text: string): TapeError {
  try {
    parseRecorderConfig(text, "rec.yaml", {});
  } catch (err) {
    expect(err).toBeInstanceOf(TapeError);
    expect((err as TapeError).code).toBe("E_TAPE_CONFIG");
    return err as TapeError;
  }
  throw new Error("accepted");
}

describe("recorder configuration", () => {
  it("reads a configuration with defaults filled in", () => {
    const c = parseRecorderConfig(GOOD, "rec.yaml", {});
    expect(c).toMatchObject({
      root: "/efs/ticks",
      captureId: "pod-a",
      codec: "zstd",
      flushIntervalMs: 500,
      sync: true,
      feedThreads: false,
    });
    expect(parseRecorderConfig(`feedThreads: true\n${GOOD}`, "rec.yaml", {}).feedThreads).toBe(true);
    expect(c.statusPort).toBe(9464);
    expect(c.feeds[0]).toMatchObject({
      venue: "binance",
      symbols: ["BTCUSDT", "ETHUSDT"],
      trades: true,
      book: true,
      bbo: true,
      raw: true,
      urls: { ws: "ws://127.0.0.1:9001", rest: "http://127.0.0.1:9001" },
      stallMs: 30_000,
      maxConnectionAgeMs: 23.5 * 3_600_000,
      timeUnit: "microsecond",
    });
    expect(c.feeds[1]!.timeUnit).toBeUndefined();
    const millis = GOOD.replace("symbols: [BTCUSDT", "timeUnit: millisecond\n    symbols: [BTCUSDT");
    expect(parseRecorderConfig(millis, "rec.yaml", {}).feeds[0]!.timeUnit).toBe("millisecond");
    expect(c.feeds[1]).toMatchObject({
      venue: "okx",
      trades: true,
      book: true,
      bbo: false,
      raw: false,
      maxConnectionAgeMs: 0,
    });
  });

  it("says where a capture id it cannot use came from, when it is not in the file", () => {
    const absent = GOOD.replace("captureId: pod-a\n", "");
    const error = (env: Record<string, string>) => {
      try {
        parseRecorderConfig(absent, "rec.yaml", env);
      } catch (err) {
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(error({})).toMatch(
      /field captureId: required: not in the file, and HOSTNAME \(its default\) is not set/,
    );
    expect(error({ HOSTNAME: "ip-10-0-0-1.ec2.internal" })).toMatch(
      /field captureId: not in the file, and HOSTNAME \(its default\) "ip-10-0-0-1\.ec2\.internal" cannot be one: use letters/,
    );
  });

  it("takes the capture id from HOSTNAME when absent", () => {
    const c = parseRecorderConfig(GOOD.replace("captureId: pod-a\n", ""), "rec.yaml", {
      HOSTNAME: "recorder-0",
    });
    expect(c.captureId).toBe("recorder-0");
  });

  it("names the key and the line of each mistake", () => {
    expect(configError(`feedThreads: maybe\n${GOOD}`).message).toMatch(
      /field feedThreads: line 1: expected true or false/,
    );
    expect(configError(GOOD.replace("intervalMs: 500", "intervalMS: 500")).message).toBe(
      "rec.yaml, field flush.intervalMS: line 5: unknown key (known: intervalMs, sync)",
    );
    expect(configError(GOOD.replace("venue: okx", "venue: kraken-x")).message).toMatch(
      /field feeds\.1\.venue: line 14: unknown venue kraken-x/,
    );
    expect(configError(GOOD.replace("[trade, book]", "[trade, quotes]")).message).toMatch(
      /field feeds\.1\.kinds\.1: line 16: expected one of trade, book, bbo/,
    );
    expect(configError(GOOD.replace("root: /efs/ticks\n", "")).message).toMatch(/field root: required/);
    expect(configError(GOOD.replace("ws: ws://", "ws: http://")).message).toMatch(
      /field feeds\.0\.urls\.ws: line 12: expected a ws/,
    );
    expect(configError(GOOD.replace("captureId: pod-a", "captureId: pod.a")).message).toMatch(
      /field captureId: line 3: use letters/,
    );
    // A name past the file system's 255 bytes would fail at the first file, after --check had passed.
    expect(configError(GOOD.replace("captureId: pod-a", `captureId: ${"p".repeat(101)}`)).message).toMatch(
      /field captureId: line 3: 101 characters: at most 100/,
    );
    expect(
      parseRecorderConfig(GOOD.replace("captureId: pod-a", `captureId: ${"p".repeat(100)}`)).captureId,
    ).toHaveLength(100);
    expect(configError(GOOD.replace("port: 9464", "port: 99999")).message).toMatch(
      /field status\.port: line \d+: expected a whole number from 0 to 65535/,
    );
    expect(configError(GOOD.replace("port: 9464", "port: 9464.5")).message).toMatch(
      /field status\.port: line \d+: expected a whole number/,
    );
    // URLs that name no host or port a socket could use are refused here, not when the feed connects.
    for (const bad of ["wss://", "ws://a b", "ws://host:99999"]) {
      expect(configError(GOOD.replace(/ws: ws:\/\/\S+/, `ws: "${bad}"`)).message, bad).toMatch(
        /field feeds\.0\.urls\.ws: line 12: expected a ws:\/\/ or wss:\/\/ URL with a host/,
      );
    }
    expect(
      configError(GOOD.replace("symbols: [BTCUSDT", "maxFrameMiB: 0.5\n    symbols: [BTCUSDT")).message,
    ).toMatch(/field feeds\.0\.maxFrameMiB: line \d+: expected a whole number from 1 to 1024/);
    expect(
      configError(GOOD.replace("symbols: [BTCUSDT", "timeUnit: nanosecond\n    symbols: [BTCUSDT")).message,
    ).toMatch(/field feeds\.0\.timeUnit: line 10: expected millisecond or microsecond/);
    expect(
      configError(GOOD.replace("symbols: [BTC-USDT]", "symbols: [BTC-USDT]\n    timeUnit: microsecond"))
        .message,
    ).toMatch(
      /field feeds\.1\.timeUnit: line \d+: only Binance spot lets a client choose the unit of its times/,
    );
    // Aliases: one without its anchor, and a "billion laughs" document.
    expect(configError(GOOD.replace("root: /efs/ticks", "root: *nope")).message).toMatch(
      /^rec\.yaml: Unresolved alias/,
    );
    const laughs = Array.from({ length: 9 }, (_, i) =>
      i === 0
        ? 'a0: &a0 ["lol"]'
        : `a${i}: &a${i} [${Array(9)
            .fill(`*a${i - 1}`)
            .join(", ")}]`,
    ).join("\n");
    expect(configError(`${laughs}\n${GOOD}`).message).toMatch(/^rec\.yaml: Excessive alias count/);
    expect(configError("root: [unclosed").message).toMatch(/^rec\.yaml: line 1: /);
    expect(configError(`${GOOD}\nroot: /again`).message).toMatch(/line \d+: Map keys must be unique/);
    expect(configError(GOOD.replace(/feeds:[\s\S]*/, "feeds: []")).message).toMatch(
      /field feeds: line \d+: expected a list of feeds/,
    );
    // Keys that YAML reads as a number or a boolean are named by their text, with their line.
    expect(configError(`${GOOD}1: x\n`).message).toMatch(/field 1: line \d+: unknown key/);
    expect(configError(GOOD.replace("intervalMs: 500", "true: 500")).message).toBe(
      "rec.yaml, field flush.true: line 5: unknown key (known: intervalMs, sync)",
    );
    expect(configError(`${GOOD}  - venue: binance\n    symbols: [X]\n`).message).toMatch(
      /field feeds\.2\.venue: line \d+: each venue once/,
    );
  });
});

describe("recorder configuration, sections and the status address", () => {
  it("refuses a section left empty (its keys commented out), as any other key without a value, with its line", () => {
    // `status:` alone would otherwise mean no status server at all: the probes of deploy/ then fail.
    for (const [section, text] of [
      ["flush", GOOD.replace("flush:\n  intervalMs: 500\n", "flush:\n#  intervalMs: 500\n")],
      ["status", GOOD.replace("status:\n  port: 9464\n", "status:\n#  port: 9464\n")],
      ["queue", `${GOOD}queue:\n`],
      ["log", `${GOOD}log:\n`],
      ["feeds.0.urls", GOOD.replace(/ {4}urls:\n.*\n.*\n/, "    urls:\n")],
    ] as const) {
      expect(configError(text).message, section).toMatch(
        new RegExp(`field ${section.replace(".", "\\.")}: line \\d+: expected a mapping of keys`),
      );
    }
  });

  it("refuses a status host that names no address, instead of passing --check and failing the start", () => {
    expect(configError(GOOD.replace("port: 9464", "port: 9464\n  host: not a host!")).message).toMatch(
      /field status\.host: line 8: expected an IP address or a host name/,
    );
    for (const host of ["0.0.0.0", "::", "127.0.0.1", "localhost", "pod-a.recorders.svc.cluster.local"]) {
      const c = parseRecorderConfig(
        GOOD.replace("port: 9464", `port: 9464\n  host: "${host}"`),
        "rec.yaml",
        {},
      );
      expect(c.statusHost).toBe(host);
    }
  });
});

describe("ticktape record --check", () => {
  it("prints the configuration as the recorder will use it, the venues' production URLs included", async () => {
    const { spawnSync } = await import("node:child_process");
    const { mkdtemp, rm, writeFile } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { VENUES } = await import("../../src/recorder/index.js");
    const dir = await mkdtemp(join(tmpdir(), "check-"));
    try {
      const file = join(dir, "rec.yaml");
      await writeFile(file, GOOD);
      const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");
      const r = spawnSync(process.execPath, [cli, "record", "--config", file, "--check"], {
        encoding: "utf8",
      });
      expect(r.status).toBe(0);
      const feeds = JSON.parse(r.stdout).feeds;
      // Given in the file: kept; not given: the venue's own.
      expect(feeds[0].urls).toEqual({ ws: "ws://127.0.0.1:9001", rest: "http://127.0.0.1:9001" });
      expect(feeds[1].urls).toEqual(VENUES.get("okx")!.urls);
      expect(feeds[1].urls.ws).toMatch(/^wss:\/\//);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
