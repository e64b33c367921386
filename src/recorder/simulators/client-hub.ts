/**
 * The WebSocket clients of a simulator and everything between a message and the wire: transport faults (a stall
 * holds every outgoing message and pong, a slow burst holds messages until N are waiting and sends them at once,
 * a disconnect closes every socket) and bounded memory (a client whose unsent bytes pass the cap is dropped, as
 * a venue drops a slow consumer, instead of growing a buffer without end).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocket, WebSocketServer } from "ws";

/** Client messages are small (subscriptions, pings): a larger one is refused by the WebSocket layer. */
const MAX_INCOMING_BYTES = 64 * 1024;
/** A burst is sent at the latest after this long, also when fewer messages came. */
const MAX_BURST_MS = 10_000;
/** A closed socket that does not finish the closing handshake is cut after this long. */
const CLOSE_GRACE_MS = 1000;

type Outgoing = string | { pong: Buffer };

export interface HubOptions {
  /** Unsent bytes (held back plus the socket's buffer) above which a client is dropped. */
  maxBufferBytes: number;
  onLog?(message: string): void;
}

export interface HubStats {
  connections: number;
  messagesSent: number;
  droppedClients: number;
}

export class SimSocket {
  /** A connection id, as OKX puts in its acknowledgements. */
  readonly connId = randomBytes(4).toString("hex");
  private queue: Outgoing[] = [];
  private queuedBytes = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly hub: ClientHub,
    /** The connection under the WebSocket: corked while a market step is written (`ClientHub.inOneWrite`). */
    readonly socket: Duplex,
  ) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** A quarter of the cap is unsent (held back or in the socket's buffer): a producer that can wait should. */
  get backlogged(): boolean {
    return this.queuedBytes + this.ws.bufferedAmount > this.hub.options.maxBufferBytes / 4;
  }

  send(text: string): void {
    this.enqueue(text, Buffer.byteLength(text));
  }

  pong(data: Buffer): void {
    this.enqueue({ pong: data }, data.length);
  }

  /** Calls `fn` with each text message the client sends. */
  onText(fn: (text: string) => void): void {
    this.ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      fn(bytes.toString("utf8"));
    });
  }

  /** Waits until the client is no longer backlogged (or the socket closed). */
  async settled(): Promise<void> {
    while (this.open && this.backlogged) await sleep(2);
  }

  /** Closes the connection with a close frame; messages held back are discarded. */
  close(code: number, reason: string): void {
    this.discard();
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Cuts the connection: the client reads too slowly. */
  drop(reason: string): void {
    this.discard();
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
    this.hub.sockets.delete(this);
    this.hub.stats.droppedClients++;
    this.hub.options.onLog?.(`client ${this.connId} dropped: ${reason}`);
  }

  flush(): void {
    const q = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const m of q) this.write(m);
  }

  private discard(): void {
    this.queue = [];
    this.queuedBytes = 0;
  }

  private enqueue(m: Outgoing, bytes: number): void {
    if (!this.open) return;
    if (!this.hub.holding && this.queue.length === 0) {
      this.write(m);
      return;
    }
    this.queue.push(m);
    this.queuedBytes += bytes;
    if (this.queuedBytes + this.ws.bufferedAmount > this.hub.options.maxBufferBytes) {
      this.drop(`${this.queuedBytes} bytes held back`);
      return;
    }
    this.hub.noteHeld();
  }

  private write(m: Outgoing): void {
    if (!this.open) return;
    if (typeof m === "string") {
      this.ws.send(m);
      this.hub.stats.messagesSent++;
    } else this.ws.pong(m.pong);
    if (this.ws.bufferedAmount > this.hub.options.maxBufferBytes) {
      this.drop(`${this.ws.bufferedAmount} bytes unread`);
    }
  }
}

export class ClientHub {
  readonly sockets = new Set<SimSocket>();
  readonly stats: HubStats = { connections: 0, messagesSent: 0, droppedClients: 0 };
  private readonly wss: WebSocketServer;
  private stallTimer: NodeJS.Timeout | null = null;
  private burst: { target: number; held: number; timer: NodeJS.Timeout } | null = null;

  constructor(readonly options: HubOptions) {
    // Pongs go through the queue like everything else, so that a stall holds them too.
    this.wss = new WebSocketServer({ noServer: true, autoPong: false, maxPayload: MAX_INCOMING_BYTES });
  }

  get holding(): boolean {
    return this.stallTimer !== null || this.burst !== null;
  }

  /** Completes a WebSocket upgrade; `onOpen` gets the connected client. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, onOpen: (s: SimSocket) => void): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const s = new SimSocket(ws, this, socket);
      this.sockets.add(s);
      this.stats.connections++;
      ws.on("ping", (data) => s.pong(data));
      ws.on("close", () => this.sockets.delete(s));
      ws.on("error", () => ws.terminate());
      onOpen(s);
    });
  }

  /**
   * Runs `fn`, the messages it sends going out to each client in one write. The simulators send a market step (one
   * exchange time) this way: Binance does the same with the messages of one event time (in the recorded sessions in
   * fixtures/real, of the frames received within 20 µs of the one before, 87–97% share its `E`), and one write per
   * message cost a simulator at 100k messages/s its whole core, whose delays then showed as the client's latency.
   */
  inOneWrite(fn: () => void): void {
    const corked = [...this.sockets].map((s) => s.socket);
    for (const c of corked) c.cork();
    try {
      fn();
    } finally {
      for (const c of corked) c.uncork();
    }
  }

  /** Sends nothing for `ms` (messages and pongs wait), then everything at once. */
  stall(ms: number): void {
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      this.release();
    }, ms);
  }

  /** Holds messages until `count` are waiting, then sends them at once. */
  startBurst(count: number): void {
    this.endBurst();
    const timer = setTimeout(() => this.endBurst(), MAX_BURST_MS);
    this.burst = { target: count, held: 0, timer };
  }

  endBurst(): void {
    if (this.burst === null) return;
    clearTimeout(this.burst.timer);
    this.burst = null;
    this.release();
  }

  /** Called for each message held back. */
  noteHeld(): void {
    if (this.burst !== null && ++this.burst.held >= this.burst.target) this.endBurst();
  }

  /** Closes every client socket; returns how many. */
  disconnectAll(code: number, reason: string): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.close(code, reason);
    return n;
  }

  close(): void {
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (this.burst !== null) clearTimeout(this.burst.timer);
    this.burst = null;
    for (const s of this.sockets) s.ws.terminate();
    this.sockets.clear();
    this.wss.close();
  }

  private release(): void {
    if (this.holding) return;
    for (const s of this.sockets) s.flush();
  }
}
