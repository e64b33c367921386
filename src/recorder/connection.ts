/**
 * One WebSocket connection of a feed, kept alive for as long as the recorder runs: connect, subscribe within the
 * venue's message rate, heartbeat when idle, reconnect a silent (stalled) connection (on a venue that sends heartbeats
 * of its own, one that only answers pings is silent), reconnect after a drop with
 * capped exponential backoff and jitter, and replace the connection before the venue's forced disconnect by
 * opening the new one first and closing the old one only once the new one delivers (the connectors drop what
 * arrives twice by its sequence or id).
 */
import WebSocket from "ws";
import type { Clock } from "./clock.js";
import type { ConnectionPlan, Heartbeat } from "./connector.js";

/** Times are the clock's (ns), read when the socket told. */
export interface ConnectionEvents {
  /** A socket opened and its subscription was sent. */
  onOpen(socketId: number, replacing: boolean, atNs: bigint): void;
  /**
   * A frame, with its receive time read as early as possible: its UTF-8 bytes as received, and their text when
   * the connection decoded it already (to tell a venue's text pong), else null.
   */
  onFrame(socketId: number, bytes: Buffer, recvNs: bigint, text: string | null): void;
  /** A socket closed: dropped (it reconnects), replaced by its successor, or stopped. */
  onClose(socketId: number, reason: string, why: "dropped" | "replaced" | "stopped", atNs: bigint): void;
  /** No frame for `stallMs`: the connection is being replaced. */
  onStall(socketId: number, silentMs: number, atNs: bigint): void;
  /** Bad things that do not close the socket (an error event before close, a frame that is not text). */
  onWarning(message: string): void;
}

/** What a feed needs of a connection: this one, or one whose sockets another thread reads (feed-thread.ts). */
export interface FeedConnection {
  start(): void;
  send(text: string): void;
  pauseReading(): void;
  resumeReading(): void;
  stop(): Promise<void>;
}

export interface ConnectionOptions {
  plan: ConnectionPlan;
  clock: Clock;
  heartbeat: Heartbeat;
  sendsPerSecond: number;
  /** Reconnect when nothing arrived for this long (ms). Default 30 s. */
  stallMs?: number;
  /** Replace the connection after this long (ms), before the venue drops it (Binance: 24 h). Default: never. */
  maxAgeMs?: number;
  /** Backoff after a failed or dropped connection: first delay and cap (ms). Defaults 500 and 30,000. */
  backoffMs?: { first: number; max: number };
  /** Largest frame accepted (bytes); a bigger one closes the socket (ws: 1009). Default 64 MiB. */
  maxFrameBytes?: number;
  events: ConnectionEvents;
}

interface Socket {
  id: number;
  ws: WebSocket;
  openedAt: number;
  lastFrameAt: number;
  lastPingAt: number;
  /** Closed on purpose (replaced or stopped): its close is not a drop. */
  retired: boolean;
  delivered: boolean;
  /** The last error the socket reported (it says why a close with code 1006 happened). */
  lastError: string | null;
  /** The handshake succeeded (a socket that never opened is a failed attempt, not a lost connection). */
  opened: boolean;
}

let nextSocketId = 1;
/** A handshake that takes longer is a failed attempt. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a replaced socket keeps delivering after its successor took over. */
const OVERLAP_GRACE_MS = 2000;
/** A successor that has not delivered after this long is given up (and tried again later). */
const SUCCESSOR_DEADLINE_MS = 60_000;

export class Connection implements FeedConnection {
  private current: Socket | null = null;
  /** The socket that replaces `current` (proactive reconnect), while both are open. */
  private successor: Socket | null = null;
  private stopped = false;
  private attempt = 0;
  /** Failed replacements in a row, and when the next may be tried (ms since the epoch). */
  private replaceAttempt = 0;
  private replaceNotBefore = 0;
  /** Replaced sockets still delivering for a moment before they close. */
  private readonly retiring = new Set<Socket>();
  private timer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private readonly sendQueue: { socket: Socket; text: string }[] = [];
  private sending: NodeJS.Timeout | null = null;

  /** Reading is paused (the recorder is behind): sockets opened meanwhile start paused too. */
  private readingPaused = false;

  constructor(private readonly o: ConnectionOptions) {}

  private sockets(): Socket[] {
    return [this.current, this.successor, ...this.retiring].filter((s): s is Socket => s !== null);
  }

  /**
   * Stops reading the sockets: what the venue sends waits in the socket buffers (and the venue's) instead of
   * in the recorder's memory. The silence this causes is not a stall.
   */
  pauseReading(): void {
    // A stopping connection reads on: a paused socket would not read the close handshake.
    if (this.readingPaused || this.stopped) return;
    this.readingPaused = true;
    for (const s of this.sockets()) s.ws.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    const now = Date.now();
    for (const s of this.sockets()) {
      s.lastFrameAt = Math.max(s.lastFrameAt, now);
      s.ws.resume();
    }
  }

  start(): void {
    this.open(false);
    this.timer = setInterval(() => this.tick(), 250);
  }

  /** Sends on the current socket, within the venue's message rate. */
  send(text: string): void {
    const s = this.current;
    if (s !== null) this.enqueue(s, text);
  }

  private enqueue(socket: Socket, text: string): void {
    this.sendQueue.push({ socket, text });
    if (this.sending === null) this.pump();
  }

  private pump(): void {
    const next = this.sendQueue.shift();
    if (next === undefined) {
      this.sending = null;
      return;
    }
    if (next.socket.ws.readyState === WebSocket.OPEN) next.socket.ws.send(next.text);
    this.sending = setTimeout(() => this.pump(), Math.ceil(1000 / this.o.sendsPerSecond));
  }

  private open(replacing: boolean): void {
    const ws = new WebSocket(this.o.plan.url, {
      maxPayload: this.o.maxFrameBytes ?? 64 * 1024 * 1024,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    const now = Date.now();
    const s: Socket = {
      id: nextSocketId++,
      ws,
      openedAt: now,
      lastFrameAt: now,
      lastPingAt: 0,
      retired: false,
      delivered: false,
      lastError: null,
      opened: false,
    };
    if (replacing) this.successor = s;
    else this.current = s;
    ws.on("open", () => {
      s.opened = true;
      s.lastFrameAt = Date.now();
      if (this.readingPaused) ws.pause();
      for (const m of this.o.plan.subscribe) this.enqueue(s, m);
      this.o.events.onOpen(s.id, replacing, this.o.clock.nowNs());
    });
    ws.on("message", (data, isBinary) => {
      const recvNs = this.o.clock.nowNs();
      // A binary frame goes the way of any frame (no venue here sends one): unreadable, it is a bad frame, stated by
      // a gap event, its bytes kept as a raw record.
      if (isBinary) this.o.events.onWarning(`binary frame of ${(data as Buffer).length} bytes`);
      const bytes = data as Buffer;
      // Only a venue with a text ping answers in text: other frames are decoded by whoever reads them (a feed
      // thread, not this one).
      const text = this.o.heartbeat.ping === null ? null : bytes.toString();
      if (text !== null && this.o.heartbeat.isPong(text)) {
        this.ponged(s);
        return;
      }
      s.lastFrameAt = Date.now();
      if (this.successor === s && !s.delivered) this.promote(s);
      s.delivered = true;
      this.o.events.onFrame(s.id, bytes, recvNs, text);
    });
    ws.on("pong", () => this.ponged(s));
    ws.on("error", (err) => {
      s.lastError = err.message;
      this.o.events.onWarning(`socket ${s.id}: ${err.message}`);
    });
    ws.on("close", (code, reason) => {
      const why =
        reason.length > 0 ? ` ${reason.toString()}` : s.lastError === null ? "" : `: ${s.lastError}`;
      this.closed(s, `code ${code}${why}`);
    });
  }

  /** An answer to our ping: the feed's sign of life only on a venue that sends no heartbeats of its own. */
  private ponged(s: Socket): void {
    if (!this.o.heartbeat.venueBeats) s.lastFrameAt = Date.now();
  }

  /** The successor delivers: it becomes the connection, and the old one is closed. */
  private promote(s: Socket): void {
    const old = this.current;
    this.current = s;
    this.successor = null;
    this.replaceAttempt = 0;
    if (this.retry !== null) {
      clearTimeout(this.retry);
      this.retry = null;
    }
    if (old !== null) {
      // The old socket may still hold frames in flight: it keeps delivering for a moment (what both deliver is
      // dropped by id), then closes.
      old.retired = true;
      this.retiring.add(old);
      setTimeout(() => old.ws.close(1000, "replaced"), OVERLAP_GRACE_MS).unref();
    }
  }

  private closed(s: Socket, reason: string): void {
    this.retiring.delete(s);
    if (!s.opened) {
      // A failed attempt: nothing was connected, so nothing was lost; try again after a pause.
      this.o.events.onWarning(`socket ${s.id}: connection attempt failed (${reason})`);
    } else {
      // A successor that closes before it delivered lost nothing: the current socket delivered meanwhile.
      const why = this.stopped ? "stopped" : s.retired || this.successor === s ? "replaced" : "dropped";
      this.o.events.onClose(s.id, reason, why, this.o.clock.nowNs());
    }
    if (s.retired || this.stopped) return;
    if (this.successor === s) {
      this.successor = null;
      this.replaceNotBefore = Date.now() + this.backoff(this.replaceAttempt++);
      // The current socket dropped while this one opened, leaving it to take over: reconnect.
      if (this.current === null) this.reconnectLater();
      return;
    }
    if (this.current !== s) return;
    this.current = null;
    // A successor still opening takes over when it delivers: no second connection is started.
    if (this.successor !== null) return;
    // A connection that lived a minute resets the backoff.
    if (s.opened && Date.now() - s.openedAt > 60_000) this.attempt = 0;
    this.reconnectLater();
  }

  /** Opens a new connection after the backoff, unless one is there by then. */
  private reconnectLater(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(
      () => {
        this.retry = null;
        if (!this.stopped && this.current === null && this.successor === null) this.open(false);
      },
      this.backoff(this.attempt++),
    );
  }

  /** Capped exponential backoff with jitter (ms). */
  private backoff(attempt: number): number {
    const { first, max } = this.o.backoffMs ?? { first: 500, max: 30_000 };
    return Math.min(max, first * 2 ** attempt) * (0.5 + Math.random() / 2);
  }

  private tick(): void {
    const now = Date.now();
    const next = this.successor;
    if (next !== null && !next.delivered && now - next.openedAt > SUCCESSOR_DEADLINE_MS) {
      // A successor that never delivers must not block every later replacement.
      next.retired = true;
      next.ws.terminate();
      this.successor = null;
      this.replaceNotBefore = now + this.backoff(this.replaceAttempt++);
      if (this.current === null) this.open(false);
    }
    const s = this.current;
    if (s === null || s.ws.readyState !== WebSocket.OPEN || this.readingPaused) return;
    const silent = now - s.lastFrameAt;
    const stallMs = this.o.stallMs ?? 30_000;
    if (silent >= stallMs) {
      this.o.events.onStall(s.id, silent, this.o.clock.nowNs());
      s.ws.terminate();
      return;
    }
    // Pinged by half the stall time at the latest: where a quiet market is silent, the answer must come before the
    // connection is taken for dead.
    const idleMs = Math.min(this.o.heartbeat.idleMs, stallMs / 2);
    if (silent >= idleMs && now - s.lastPingAt >= idleMs) {
      s.lastPingAt = now;
      if (this.o.heartbeat.ping === null) s.ws.ping();
      else s.ws.send(this.o.heartbeat.ping);
    }
    const maxAge = this.o.maxAgeMs;
    if (
      maxAge !== undefined &&
      this.successor === null &&
      now - s.openedAt >= maxAge &&
      now >= this.replaceNotBefore
    ) {
      this.open(true);
    }
  }

  /** Closes every socket; no reconnect. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.retry !== null) clearTimeout(this.retry);
    if (this.sending !== null) clearTimeout(this.sending);
    const sockets = this.sockets();
    // A paused socket would not read the close handshake.
    this.resumeReading();
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.retired = true;
            if (s.ws.readyState === WebSocket.CLOSED) return resolve();
            s.ws.once("close", () => resolve());
            s.ws.close(1000, "recorder stopping");
            setTimeout(() => {
              s.ws.terminate();
              resolve();
            }, 2000).unref();
          }),
      ),
    );
  }
}
