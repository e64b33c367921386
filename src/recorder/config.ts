/**
 * The recorder's configuration file (YAML; docs/RECORDER.md has an example). Every key is checked: an unknown key,
 * a missing one or a bad value is `E_TAPE_CONFIG` naming the key path and its line, so a typo never silently
 * records the wrong thing.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument, type Scalar } from "yaml";
import { CODECS, type Codec } from "../format/codecs.js";
import { TapeError } from "../format/errors.js";
import { captureIdProblem } from "../reader/layout.js";
import type { TimeUnit } from "./connector.js";
import { isVenueId, VENUE_IDS } from "./connectors/index.js";
import type { FeedConfig } from "./live-feed.js";

export interface RecorderConfig {
  root: string;
  captureId: string;
  codec: Codec;
  flushIntervalMs: number;
  sync: boolean;
  maxQueuedRecords: number;
  statusPort: number | null;
  statusHost: string;
  logLevel: string;
  /** Each feed on a thread of its own (docs/RECORDER.md, "Feed threads"). */
  feedThreads: boolean;
  /** Seconds a stop may take before the process gives up (SIGTERM). */
  stopTimeoutSeconds: number;
  feeds: FeedConfig[];
}

type Path = (string | number)[];

class Checker {
  readonly lines = new LineCounter();
  readonly doc: Document;
  constructor(
    text: string,
    readonly file: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true });
    const e = this.doc.errors[0];
    if (e !== undefined) {
      const at = this.lines.linePos(e.pos[0]);
      throw new TapeError("E_TAPE_CONFIG", `line ${at.line}: ${e.message.split("\n")[0]}`, { file });
    }
  }

  fail(path: Path, message: string): never {
    const node = this.nodeAt(path) ?? (path.length > 1 ? this.nodeAt(path.slice(0, -1)) : undefined);
    const where = node?.range == null ? "" : `line ${this.lines.linePos(node.range[0]).line}: `;
    const key = path.length === 0 ? undefined : path.join(".");
    throw new TapeError("E_TAPE_CONFIG", `${where}${message}`, { file: this.file, field: key });
  }

  /**
   * The node at `path`, or the key of its last step in its mapping: a key that is not text (`1:`, `true:`) is a
   * number or boolean to `getIn`, but the checks name it by its text.
   */
  private nodeAt(path: Path): { range?: [number, number, number] | null } | undefined {
    const node = this.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    if (node?.range != null || path.length === 0) return node;
    const parent = path.length === 1 ? this.doc.contents : this.doc.getIn(path.slice(0, -1), true);
    if (!isMap(parent)) return undefined;
    const last = String(path.at(-1));
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === last);
    return pair === undefined ? undefined : (pair.key as Scalar);
  }

  object(v: unknown, path: Path, keys: readonly string[]): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v))
      this.fail(path, "expected a mapping of keys");
    for (const k of Object.keys(v)) {
      if (!keys.includes(k)) this.fail([...path, k], `unknown key (known: ${keys.join(", ")})`);
    }
    return v as Record<string, unknown>;
  }

  string(v: unknown, path: Path, fallback?: string): string {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "string" || v === "") this.fail(path, v === undefined ? "required" : "expected a text");
    return v;
  }

  number(v: unknown, path: Path, fallback: number, min: number, max: number, whole = false): number {
    if (v === undefined) return fallback;
    if (
      typeof v !== "number" ||
      !Number.isFinite(v) ||
      v < min ||
      v > max ||
      (whole && !Number.isInteger(v))
    ) {
      this.fail(path, `expected a ${whole ? "whole " : ""}number from ${min} to ${max}`);
    }
    return v;
  }

  integer(v: unknown, path: Path, fallback: number, min: number, max: number): number {
    return this.number(v, path, fallback, min, max, true);
  }

  /** The document as plain values; an alias without its anchor, or too many aliases, is an error of the file. */
  values(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new TapeError("E_TAPE_CONFIG", (err as Error).message.split("\n")[0]!, { file: this.file });
    }
  }

  boolean(v: unknown, path: Path, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") this.fail(path, "expected true or false");
    return v;
  }
}

const TOP = [
  "root",
  "captureId",
  "codec",
  "flush",
  "queue",
  "status",
  "log",
  "feedThreads",
  "stopTimeoutSeconds",
  "feeds",
] as const;
const FEED = [
  "venue",
  "symbols",
  "kinds",
  "raw",
  "urls",
  "stallSeconds",
  "maxConnectionHours",
  "maxFrameMiB",
  "timeUnit",
] as const;
const KINDS = ["trade", "book", "bbo"] as const;
/** A host name: dot-separated labels of letters, digits and inner hyphens (RFC 1123), 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** Binance drops connections after 24 h: replace them a little before. */
const DEFAULT_MAX_CONNECTION_HOURS: Record<string, number> = { binance: 23.5 };

/** Parses and checks configuration text; `env` supplies the default capture id (HOSTNAME). */
export function parseRecorderConfig(
  text: string,
  file = "config",
  env: Record<string, string | undefined> = process.env,
): RecorderConfig {
  const c: Checker = new Checker(text, file);
  if (!isMap(c.doc.contents)) c.fail([], "expected a mapping of keys");
  const top = c.object(c.values(), [], TOP);
  // Not in the file: HOSTNAME (the pod's name), and an error must say so, or it names a key the file does not have.
  if (top.captureId === undefined && (env.HOSTNAME ?? "") === "")
    c.fail(["captureId"], "required: not in the file, and HOSTNAME (its default) is not set");
  const captureId = c.string(top.captureId, ["captureId"], env.HOSTNAME ?? "");
  const problem = captureIdProblem(captureId);
  if (problem !== null) {
    const from = top.captureId === undefined;
    c.fail(
      ["captureId"],
      from
        ? `not in the file, and HOSTNAME (its default) ${JSON.stringify(captureId)} cannot be one: ${problem}`
        : problem,
    );
  }
  const codec = c.string(top.codec, ["codec"], "zstd");
  if (!(CODECS as readonly string[]).includes(codec))
    c.fail(["codec"], `expected one of ${CODECS.join(", ")}`);
  // A section absent takes its defaults; one present without keys (`status:` with its lines commented out) is a
  // value missing, as for any other key, not a choice of defaults (without `status.port`, no status server).
  const section = (v: unknown) => (v === undefined ? {} : v);
  const flush = c.object(section(top.flush), ["flush"], ["intervalMs", "sync"]);
  const queue = c.object(section(top.queue), ["queue"], ["maxRecords"]);
  const status = c.object(section(top.status), ["status"], ["port", "host"]);
  const log = c.object(section(top.log), ["log"], ["level"]);
  const level = c.string(log.level, ["log", "level"], "info");
  if (!["trace", "debug", "info", "warn", "error", "fatal"].includes(level)) {
    c.fail(["log", "level"], "expected trace, debug, info, warn, error or fatal");
  }
  if (!isSeq(c.doc.get("feeds", true)) || !Array.isArray(top.feeds) || top.feeds.length === 0) {
    c.fail(["feeds"], "expected a list of feeds (venue, symbols, …)");
  }
  const seen = new Set<string>();
  const feeds = (top.feeds as unknown[]).map((raw, i): FeedConfig => {
    const p: Path = ["feeds", i];
    const f = c.object(raw, p, FEED);
    const venue = c.string(f.venue, [...p, "venue"]);
    if (!isVenueId(venue))
      c.fail([...p, "venue"], `unknown venue ${venue} (venues: ${VENUE_IDS.join(", ")})`);
    if (seen.has(venue)) c.fail([...p, "venue"], "each venue once (list all its symbols in one feed)");
    seen.add(venue);
    if (!Array.isArray(f.symbols) || f.symbols.length === 0)
      c.fail([...p, "symbols"], "expected a list of symbols");
    const symbols = f.symbols.map((s, j) => c.string(s, [...p, "symbols", j]));
    const kinds = f.kinds === undefined ? [...KINDS] : f.kinds;
    if (!Array.isArray(kinds) || kinds.length === 0)
      c.fail([...p, "kinds"], `expected a list of ${KINDS.join(", ")}`);
    kinds.forEach((k, j) => {
      if (!(KINDS as readonly unknown[]).includes(k))
        c.fail([...p, "kinds", j], `expected one of ${KINDS.join(", ")}`);
    });
    const urls = c.object(section(f.urls), [...p, "urls"], ["ws", "rest"]);
    const feedUrls: FeedConfig["urls"] = {};
    for (const key of ["ws", "rest"] as const) {
      if (urls[key] === undefined) continue;
      const u = c.string(urls[key], [...p, "urls", key]);
      const schemes = key === "ws" ? ["ws:", "wss:"] : ["http:", "https:"];
      if (!schemes.includes(parsedUrl(u)?.protocol ?? "") || !/^[a-z]+:\/\//i.test(u))
        c.fail(
          [...p, "urls", key],
          `expected a ${key === "ws" ? "ws:// or wss://" : "http:// or https://"} URL with a host (and a port from 1 to 65535)`,
        );
      feedUrls[key] = u;
    }
    // Binance spot sends microseconds when asked (said here, so that `--check` shows it).
    let timeUnit: TimeUnit | undefined = venue === "binance" ? "microsecond" : undefined;
    if (f.timeUnit !== undefined) {
      const unit = c.string(f.timeUnit, [...p, "timeUnit"]);
      if (venue !== "binance")
        c.fail([...p, "timeUnit"], "only Binance spot lets a client choose the unit of its times");
      if (unit !== "millisecond" && unit !== "microsecond")
        c.fail([...p, "timeUnit"], "expected millisecond or microsecond");
      timeUnit = unit;
    }
    return {
      venue,
      symbols,
      trades: kinds.includes("trade"),
      book: kinds.includes("book"),
      bbo: kinds.includes("bbo"),
      raw: c.boolean(f.raw, [...p, "raw"], true),
      urls: feedUrls,
      stallMs: c.number(f.stallSeconds, [...p, "stallSeconds"], 30, 1, 3600) * 1000,
      maxConnectionAgeMs:
        c.number(
          f.maxConnectionHours,
          [...p, "maxConnectionHours"],
          DEFAULT_MAX_CONNECTION_HOURS[venue] ?? 0,
          0,
          720,
        ) * 3_600_000,
      maxFrameBytes: c.integer(f.maxFrameMiB, [...p, "maxFrameMiB"], 64, 1, 1024) * 1024 * 1024,
      ...(timeUnit === undefined ? {} : { timeUnit }),
    };
  });
  const port = status.port === undefined ? null : c.integer(status.port, ["status", "port"], 0, 0, 65535);
  const statusHost = c.string(status.host, ["status", "host"], "0.0.0.0");
  if (isIP(statusHost) === 0 && !HOST_NAME.test(statusHost))
    c.fail(["status", "host"], "expected an IP address or a host name");
  return {
    root: c.string(top.root, ["root"]),
    captureId,
    codec: codec as Codec,
    flushIntervalMs: c.number(flush.intervalMs, ["flush", "intervalMs"], 1000, 10, 60_000),
    sync: c.boolean(flush.sync, ["flush", "sync"], true),
    maxQueuedRecords: c.integer(queue.maxRecords, ["queue", "maxRecords"], 1_000_000, 1000, 100_000_000),
    statusPort: port,
    statusHost,
    logLevel: level,
    feedThreads: c.boolean(top.feedThreads, ["feedThreads"], false),
    stopTimeoutSeconds: c.number(top.stopTimeoutSeconds, ["stopTimeoutSeconds"], 30, 1, 3600),
    feeds,
  };
}

/** The URL `text` names, or null when it names none (no host, a bad port, spaces). */
function parsedUrl(text: string): URL | null {
  try {
    const url = new URL(text);
    return url.hostname === "" ? null : url;
  } catch {
    return null;
  }
}

export async function loadRecorderConfig(file: string): Promise<RecorderConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new TapeError("E_TAPE_CONFIG", `cannot read: ${(err as Error).message}`, { file, cause: err });
  }
  return parseRecorderConfig(text, file);
}
