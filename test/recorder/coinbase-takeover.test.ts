/**
 * A Coinbase book taken over by a new connection's snapshot, while the old connection's last change, stamped after
 * the snapshot, sets a level back for readers (takeover-watch.ts): the watch that finds it must be decided before
 * the hour's file is sealed, also when the product stays quiet, and when the recorder stops. The live feed with its
 * writer and an injected clock; the connection is scripted (frames of two sockets, the close at a stop).
 */
import { type FileHandle, open } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { datasetOfFiles, OrderBook, type TapeRecord } from "../../src/index.js";
import type { ConnectionOptions, FeedConnection } from "../../src/recorder/connection.js";
import { LiveFeed } from "../../src/recorder/live-feed.js";
import { silentLog } from "../../src/recorder/log.js";
import { RecorderMetrics } from "../../src/recorder/metrics.js";
import { tempDir } from "../reader/helpers.js";
import { withFaults } from "../support/faulty-file.js";
import { waitFor } from "../support/wait.js";
import { files, records } from "./recorded-files.js";

/** The start of an hour (2027-01-15T08:00Z), ms; times below are ms from it. */
const H = 1_800_000_000_000;
const nsOf = (ms: number) => BigInt(H + ms) * 1_000_000n;

/** A connection whose sockets the test drives: `opened`, frames through `events`, `closed`. */
class Scripted implements FeedConnection {
  readonly open = new Set<number>();
  readonly sent: string[] = [];
  constructor(
    readonly o: ConnectionOptions,
    private readonly now: () => bigint,
  ) {}
  start(): void {
    this.opened(1, false);
  }
  opened(id: number, replacing: boolean): void {
    this.open.add(id);
    this.o.events.onOpen(id, replacing, this.now());
  }
  closed(id: number, reason: string, why: "dropped" | "replaced" | "stopped"): void {
    this.open.delete(id);
    this.o.events.onClose(id, reason, why, this.now());
  }
  send(text: string): void {
    this.sent.push(text);
  }
  pauseReading(): void {}
  resumeReading(): void {}
  async stop(): Promise<void> {
    for (const id of [...this.open]) this.closed(id, "recorder stopping", "stopped");
  }
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

async function recording(
  writer: {
    maxUnwrittenBytes?: number;
    hourly?: { writer?: { openFile?(path: string, flags: string): Promise<FileHandle> } };
  } = {},
) {
  const root = (await tempDir()).dir;
  let now = nsOf(-60_000);
  let conn: Scripted | null = null;
  const live = new LiveFeed({
    feed: {
      venue: "coinbase",
      symbols: ["BTC-USD"],
      trades: false,
      book: true,
      bbo: false,
      raw: false,
      urls: {},
      stallMs: 60_000,
      maxConnectionAgeMs: 0,
    },
    root,
    captureId: "t",
    clock: { nowNs: () => now },
    log: silentLog,
    metrics: new RecorderMetrics(),
    writer: { hourly: {}, flushIntervalMs: 10, sync: false, ...writer },
    connect: (o) => {
      conn = new Scripted(o, () => now);
      return conn;
    },
  });
  await live.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await live.stop();
  };
  stops.push(stop);
  const c = conn as unknown as Scripted;
  const numbers = new Map<number, number>();
  /** The clock at `ms`. */
  const at = (ms: number) => {
    now = nsOf(ms);
  };
  /** A message of `socket`, stamped `ms` on its clock, received at `recvMs`. */
  const frame = (socket: number, ms: number, recvMs: number, channel: string, events: unknown[]) => {
    at(recvMs);
    if (!c.open.has(socket)) c.opened(socket, true);
    const n = numbers.get(socket) ?? 0;
    numbers.set(socket, n + 1);
    const timestamp = new Date(H + ms).toISOString();
    const text = JSON.stringify({ channel, client_id: "", timestamp, sequence_num: n, events });
    c.o.events.onFrame(socket, Buffer.from(text), now, text);
  };
  const l2 = (socket: number, ms: number, recvMs: number, type: string, bids: [string, string][]) => {
    const updates = [
      ...bids.map(([price_level, new_quantity]) => ({ side: "bid", price_level, new_quantity })),
      ...(type === "snapshot" ? [{ side: "offer", price_level: "101", new_quantity: "1" }] : []),
    ];
    frame(socket, ms, recvMs, "l2_data", [{ type, product_id: "BTC-USD", updates }]);
  };
  const heartbeat = (socket: number, ms: number) =>
    frame(socket, ms, ms, "heartbeats", [
      { current_time: new Date(H + ms).toISOString(), heartbeat_counter: ms },
    ]);
  /**
   * Connection 1's book, then its replacement at `ms`: connection 1's change of 99 to 5 is stamped `ms + 13` (its
   * clock 3 ms ahead) and received at `ms + 10`, before connection 2's snapshot, stamped `ms + 12`, with 99 at
   * `held`; connection 1 then sends its copy of the change to 7, and is closed. The product is quiet after.
   */
  const takeover = (ms: number, held: string) => {
    l2(1, -60_000, -60_000, "snapshot", [
      ["100", "1"],
      ["99", "1"],
    ]);
    l2(1, ms + 13, ms + 10, "update", [["99", "5"]]);
    l2(2, ms + 12, ms + 12, "snapshot", [
      ["100", "1"],
      ["99", held],
    ]);
    if (held === "7") l2(1, ms + 14, ms + 13, "update", [["99", "7"]]);
    at(ms + 20);
    c.closed(1, "code 1000", "replaced");
  };
  const book = () => live.connector.bookOf("BTC-USD")!;
  return { root, live, conn: c, at, l2, heartbeat, takeover, book, stop };
}

/**
 * The book of BTC-USD that readers rebuild from these files: up to the loss the recorder's stop states, if any
 * (as it stood when the recorder stopped).
 */
async function rebuilt(paths: string[]) {
  const book = new OrderBook("BTC-USD");
  const rows = datasetOfFiles(paths).replay({ symbols: ["BTC-USD", ""], kinds: ["book", "event"] });
  for await (const row of rows) {
    if (row.kind === "event" && row.symbol === "BTC-USD" && row.message.endsWith("recorder stopping")) break;
    book.apply(row);
  }
  return { valid: book.valid, bids: book.top(10).bids.map((l) => `${l.price}:${l.size}`) };
}

const gaps = (recs: TapeRecord[]) =>
  recs.flatMap((r) => (r.kind === "event" && r.type === "gap" ? [`${r.ts} ${r.message}`] : []));

/** The gap that says readers held 99 at the old connection's 5 from its change on. */
const SET_BACK = (ms: number) =>
  `${Number(nsOf(ms))} a change the replaced connection sent after the new connection's snapshot is not the venue's`;

describe("a coinbase takeover whose watch is still open", () => {
  it("is decided by the connection's heartbeats when the product stays quiet, before the hour's file is sealed", async () => {
    const r = await recording();
    r.takeover(-30_000, "7");
    for (let s = -29; s <= -1; s++) r.heartbeat(2, s * 1000);
    // The hour ends with nothing received: the writer seals its file (as at each flush once the hour is over).
    r.at(500);
    await waitFor(() => r.live.writer.stats.sealedFiles === 1, "the hour's file sealed");
    r.heartbeat(2, 600);
    await r.stop();
    const [hour, next] = await files(r.root);
    expect(next).toBeDefined();
    // Readers of the sealed hour: 99 at 5 from the old connection's change on, where the venue had 7.
    expect(gaps(await records([hour!]))).toEqual([SET_BACK(-30_000 + 13)]);
    expect(await rebuilt([hour!])).toMatchObject({ valid: false });
  });

  it("at the end of the hour: its gap goes into the hour's file, and the book is not carried into the next", async () => {
    const r = await recording();
    r.takeover(-500, "7");
    r.heartbeat(2, -100);
    // The next hour's first message, less than a second after the old change: the hour's file is not sealed yet.
    r.heartbeat(2, 300);
    expect(r.book().synced).toBe(false);
    expect(r.conn.sent.some((t) => t.includes('"subscribe"') && t.includes("level2"))).toBe(true);
    // The answer to the new subscription.
    r.l2(2, 400, 400, "snapshot", [
      ["100", "1"],
      ["99", "7"],
    ]);
    r.at(500);
    await r.stop();
    const [hour, next] = await files(r.root);
    expect(gaps(await records([hour!]))).toEqual([SET_BACK(-500 + 13)]);
    expect(await rebuilt([hour!])).toMatchObject({ valid: false });
    const carried = (await records([next!])).filter((x) => x.kind === "event" && x.type === "info");
    expect(carried).toEqual([]);
    expect(await rebuilt([next!])).toEqual({ valid: true, bids: ["100:1", "99:7"] });
  });

  it("at the end of the hour, when the writer seals the hour's file before the next hour's first message: its gap is in that file", async () => {
    const r = await recording();
    r.takeover(-500, "7");
    r.heartbeat(2, -100);
    const resubscriptions = () =>
      r.conn.sent.filter((t) => t.includes('"subscribe"') && t.includes("level2")).length;
    // The hour ends with nothing received, less than a second after the old change: the writer's next flush seals
    // the hour's file.
    r.at(300);
    await waitFor(() => r.live.writer.stats.sealedFiles === 1, "the hour's file sealed");
    expect(r.book().synced).toBe(false);
    expect(resubscriptions()).toBe(1);
    // The next hour's first message ends no hour again.
    r.heartbeat(2, 600);
    expect(resubscriptions()).toBe(1);
    // The answer to the new subscription.
    r.l2(2, 700, 700, "snapshot", [
      ["100", "1"],
      ["99", "7"],
    ]);
    r.at(800);
    await r.stop();
    const [hour, next] = await files(r.root);
    expect(gaps(await records([hour!]))).toEqual([SET_BACK(-500 + 13)]);
    expect(await rebuilt([hour!])).toMatchObject({ valid: false });
    // The next hour's file starts from the new snapshot: the wrong book is not carried into it.
    const carried = (await records([next!])).filter((x) => x.kind === "event" && x.type === "info");
    expect(carried).toEqual([]);
    expect(gaps(await records([next!]))).toEqual([]);
    expect(await rebuilt([next!])).toEqual({ valid: true, bids: ["100:1", "99:7"] });
  });

  it("settled before the end of the hour, when the snapshot held the old change as it is: no gap, the book is carried", async () => {
    const r = await recording();
    r.takeover(-1500, "5");
    // A second past the old change: settled, and right.
    r.heartbeat(2, -300);
    r.heartbeat(2, 300);
    expect(r.book().synced).toBe(true);
    await r.stop();
    const [hour, next] = await files(r.root);
    expect(gaps(await records([hour!, next!]))).toEqual([]);
    expect(await rebuilt([hour!])).toEqual({ valid: true, bids: ["100:1", "99:5"] });
    expect(await rebuilt([next!])).toEqual({ valid: true, bids: ["100:1", "99:5"] });
  });

  it("dropped before it is settled, when the snapshot held the old change as it is: a gap, since what would settle it will not come", async () => {
    const r = await recording();
    r.takeover(-30_000, "5");
    r.heartbeat(2, -29_500);
    // The new connection drops: an update of it stamped before the old change, which may have shown the change
    // wrong, is lost with it.
    r.at(-29_400);
    r.conn.closed(2, "code 1006", "dropped");
    await r.stop();
    const paths = await files(r.root);
    expect(gaps(await records(paths))).toEqual([SET_BACK(-30_000 + 13)]);
    expect(await rebuilt(paths)).toMatchObject({ valid: false });
  });

  it("is decided when the recorder stops: the last file holds its gap", async () => {
    const r = await recording();
    r.takeover(-30_000, "7");
    r.heartbeat(2, -29_500);
    r.at(-29_400);
    await r.stop();
    const paths = await files(r.root);
    expect(paths).toHaveLength(1);
    expect(gaps(await records(paths))).toEqual([SET_BACK(-30_000 + 13)]);
    expect(await rebuilt(paths)).toMatchObject({ valid: false });
  });
});

/**
 * Connection 1's book; its change of 99 to 5 is stamped -16 (its clock a little ahead) and received at -20;
 * connection 2's snapshot, stamped -18, has 99 at 5 too; connection 1 is then closed as replaced.
 */
async function takenOverBeforeTheHourEnds(): Promise<Awaited<ReturnType<typeof recording>>> {
  const r = await recording();
  r.l2(1, -60_000, -60_000, "snapshot", [
    ["100", "1"],
    ["99", "1"],
  ]);
  r.l2(1, -16, -20, "update", [["99", "5"]]);
  r.l2(2, -18, -18, "snapshot", [
    ["100", "1"],
    ["99", "5"],
  ]);
  r.at(-10);
  r.conn.closed(1, "code 1000", "replaced");
  return r;
}

describe("a coinbase takeover whose watch is still open when the hour ends", () => {
  it("is not taken as right when the new connection's update that shows the old change wrong comes after the hour's end", async () => {
    const r = await takenOverBeforeTheHourEnds();
    // Connection 2 then sets 99 to 8, stamped -17, before the old change's time: readers replay 5 (-18), 8 (-17),
    // then the old connection's 5 (-16), and hold 5 while the venue has 8. Its update is received after the hour's
    // end: it is the next hour's first message.
    r.l2(2, -17, 5, "update", [["99", "8"]]);
    // Well past the old change: an update of another level.
    r.l2(2, 1500, 1500, "update", [["100", "2"]]);
    r.at(1600);
    await r.stop();
    const paths = await files(r.root);
    // The book in the files is wrong since the old change: a gap must say so.
    expect(gaps(await records(paths))).toEqual([SET_BACK(-16)]);
    expect(await rebuilt(paths)).toMatchObject({ valid: false });
  });

  it("is not taken as right when the writer ends the hour before the new connection's update that shows the old change wrong", async () => {
    const r = await takenOverBeforeTheHourEnds();
    // The hour ends with nothing received: the writer's flush tells the hour's end and seals the hour's file.
    r.at(5);
    await waitFor(() => r.live.writer.stats.sealedFiles === 1, "the hour's file sealed");
    // Connection 2's update stamped -17 (before the old change's time), received after the hour's end: 99 is 8.
    r.l2(2, -17, 20, "update", [["99", "8"]]);
    r.l2(2, 1500, 1500, "update", [["100", "2"]]);
    r.at(1600);
    await r.stop();
    const paths = await files(r.root);
    expect(gaps(await records(paths))).toEqual([SET_BACK(-16)]);
    expect(await rebuilt(paths)).toMatchObject({ valid: false });
  });

  it("has its gap in the hour's file when the writer seals it while the disk holds the queue back", async () => {
    // fsync fails while `failSync`: the bytes written stay held, beyond the bound, and the writer holds its queue.
    let failSync = false;
    const openFile = async (path: string, flags: string): Promise<FileHandle> =>
      withFaults(await open(path, flags), {
        sync: async (real) => {
          if (failSync) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          return real.sync();
        },
      });
    const r = await recording({ maxUnwrittenBytes: 1, hourly: { writer: { openFile } } });
    // Connection 1's book opens the hour's file; then the disk fails, and the takeover's rows are held.
    r.l2(1, -60_000, -60_000, "snapshot", [
      ["100", "1"],
      ["99", "1"],
    ]);
    await waitFor(() => r.live.writer.stats.flushes > 0, "the hour's file opened");
    failSync = true;
    stops.push(async () => {
      failSync = false;
    });
    r.takeover(-500, "7");
    r.heartbeat(2, -100);
    await waitFor(() => r.live.writer.hourly.heldBytes > 1, "bytes held for the disk");
    // The hour ends with nothing received: the writer's next flush tells the hour's end (the watch is decided and
    // finds the book wrong), and its fsync fails.
    r.at(300);
    await waitFor(() => !r.book().synced, "the hour's end told");
    // The disk recovers: the flush that follows seals the hour's file.
    failSync = false;
    await waitFor(() => r.live.writer.stats.sealedFiles === 1, "the hour's file sealed");
    r.heartbeat(2, 600);
    r.at(800);
    await r.stop();
    const [hour, next] = await files(r.root);
    expect(next).toBeDefined();
    // What DURABILITY.md and `onHourOver` promise: what the hour's end says is written into the file before its
    // seal (it went into the next hour's file, with the other records the disk held back).
    expect(gaps(await records([hour!]))).toEqual([SET_BACK(-500 + 13)]);
    expect(await rebuilt([hour!])).toMatchObject({ valid: false });
  });
});
