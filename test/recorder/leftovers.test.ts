/**
 * What an earlier process left, found at the start (docs/DURABILITY.md, "Restarts"), when a folder cannot be listed:
 * the hours in it cannot be sealed, and someone must be told, as when the seal itself fails.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { TapeWriter } from "../../src/index.js";
import { systemClock } from "../../src/recorder/clock.js";
import { LiveFeed } from "../../src/recorder/live-feed.js";
import type { RecorderLog } from "../../src/recorder/log.js";
import { RecorderMetrics } from "../../src/recorder/metrics.js";
import { tempDir } from "../reader/helpers.js";
import { H10, HOUR, trade } from "./trades.js";

/** Folders whose listing fails as on a network file system in trouble (EIO). */
const failing = vi.hoisted(() => new Set<string>());
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...fs,
    readdir: (async (...args: Parameters<typeof fs.readdir>) => {
      if (failing.has(String(args[0])))
        throw Object.assign(new Error(`EIO: i/o error, scandir '${String(args[0])}'`), { code: "EIO" });
      return fs.readdir(...args);
    }) as typeof fs.readdir,
  };
});

const recordingLog = () => {
  const lines: { level: string; message: string; details?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, details?: Record<string, unknown>) =>
    lines.push({ level, message, ...(details === undefined ? {} : { details }) });
  const log: RecorderLog = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    alert: at("alert"),
    child: () => log,
  };
  return { log, lines };
};

describe("leftovers of an earlier process", () => {
  it("in a folder that cannot be listed are an alert naming it, not silently taken for none", async () => {
    const root = (await tempDir()).dir;
    // An hour long over, left .open by a crash.
    const dir = join(root, "2026-11-27", "okx");
    await mkdir(dir, { recursive: true });
    const left = await TapeWriter.create(join(dir, "okx-2026-11-27T10.t.tape"), {
      exchange: "okx",
      captureId: "t",
      periodStart: H10,
      periodEnd: H10 + HOUR,
    });
    left.append(trade(1, H10 + 1_000_000n, "BTC-USDT"));
    await left.close();
    failing.add(dir);
    const { log, lines } = recordingLog();
    const feed = new LiveFeed({
      feed: {
        venue: "okx",
        symbols: ["BTC-USDT"],
        trades: true,
        book: true,
        bbo: true,
        raw: false,
        // Nothing listens: the feed retries its connection; this test is about the start.
        urls: { ws: "ws://127.0.0.1:1" },
        stallMs: 30_000,
        maxConnectionAgeMs: 0,
      },
      root,
      captureId: "t",
      clock: systemClock(),
      log,
      metrics: new RecorderMetrics({ processMetrics: false }),
      writer: { hourly: {}, flushIntervalMs: 50, sync: false },
    });
    try {
      await feed.start();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      failing.clear();
      await feed.stop().catch(() => {});
    }
    // The hour is not sealed (the folder could not be listed) …
    expect(await readdir(dir)).toEqual(["okx-2026-11-27T10.t.tape.open"]);
    // … and the log says so, at alert level, naming the folder.
    const alerts = lines.filter((l) => l.level === "alert");
    expect(alerts.map((a) => `${a.message} ${JSON.stringify(a.details)}`).join("\n")).toContain(dir);
  });
});
