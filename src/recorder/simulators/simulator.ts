/**
 * What every venue simulator shares: a loopback server, the simulated market and its clock (or a capture played
 * back instead), the client hub, fault injection and the log of injected faults. A venue subclass only speaks its
 * protocol: which WebSocket paths it serves, what clients may send, how a market step is written, its REST.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { TapeError } from "../../format/errors.js";
import { systemClock } from "../clock.js";
import type { VenueUrls } from "../connector.js";
import type { VenueId } from "../connectors/index.js";
import type { TextLevel } from "../level-book.js";
import { CapturePlayback } from "./capture-playback.js";
import { ClientHub, type SimSocket } from "./client-hub.js";
import {
  BookFaults,
  DEFAULT_SLOW_COUNT,
  DEFAULT_STALL_MS,
  type FaultKind,
  FaultLog,
  type FaultRequest,
  type InjectedFault,
  isBookFault,
  type ScheduledFault,
} from "./faults.js";
import type { InstrumentSpec } from "./instruments.js";
import { closeServer, type HttpAnswer, LOOPBACK, listenLoopback, refuseUpgrade } from "./loopback-server.js";
import { Market, type MarketTick } from "./market.js";
import { MarketClock } from "./market-clock.js";

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; 0 (the default) takes any free port. */
  port?: number;
  /** The venue's own symbols (default: two majors of the venue). */
  symbols?: readonly string[];
  /** Book messages per second per symbol (default 10, Binance's `@100ms`). */
  rate?: number;
  /** PRNG seed: the same seed gives the same market (default 1). */
  seed?: number;
  /** Levels per side at the start (default 50). */
  levels?: number;
  /** Faults to inject at given times after the start. */
  faults?: readonly ScheduledFault[];
  /** A capture file to play back to each client instead of a simulated market. */
  replay?: string;
  /** Playback speed: 1 is real time, 10 ten times faster, 0 as fast as the client reads (default 1). */
  speed?: number;
  /** Unsent bytes per client above which the client is dropped (default 16 MiB). */
  maxClientBufferBytes?: number;
  /** Told about each fault injected. */
  onFault?(fault: InjectedFault): void;
  /** Told about what happened to clients (dropped for reading too slowly, playback finished). */
  onLog?(message: string): void;
}

/** A simulator's book for a symbol, as a test compares it with a recorder's. */
export interface SimBook {
  symbol: string;
  /** Best first, exact text. */
  bids: TextLevel[];
  asks: TextLevel[];
  /** The id of the last update made (Binance `u`, OKX `seqId`). */
  lastSeq: bigint;
}

/** The market a venue's simulator starts from: its instruments and the first ids it hands out. */
export interface VenueMarket {
  venue: VenueId;
  /** Symbols simulated when none are given. */
  defaultSymbols: readonly string[];
  /** The instrument the venue lists as `symbol`: start price, tick, lot and how the venue prints them. */
  instrument(symbol: string): InstrumentSpec;
  /** First sequence id of the books, and first trade id. */
  seqBase: bigint;
  tradeIdBase: bigint;
}

/** What a simulator module exports as `SIMULATOR`: the registry finds it there (simulators/index.ts). */
export interface SimulatorEntry extends VenueMarket {
  create(options: SimulatorOptions): Simulator & { start(): Promise<Simulator> };
}

export interface SimulatorStats {
  /** WebSocket connections accepted so far. */
  connections: number;
  /** Connections open now. */
  clients: number;
  messagesSent: number;
  /** Clients cut for reading too slowly. */
  droppedClients: number;
  restRequests: number;
  /** Clients that were sent a whole capture. */
  playbacksFinished: number;
}

export interface Simulator {
  readonly venue: VenueId;
  readonly port: number;
  /** What to give the venue's connector (`createConnector(venue, selection, sim.urls)`). */
  readonly urls: VenueUrls;
  readonly wsUrl: string;
  readonly restUrl: string;
  /** The symbols of the simulated market (empty when playing a capture). */
  readonly symbols: readonly string[];
  readonly paused: boolean;
  /** Faults injected so far, in order (the last 10 000). */
  readonly faults: readonly InjectedFault[];
  readonly stats: SimulatorStats;
  faultCount(kind?: FaultKind): number;
  /** Lines showing how to reach the simulator by hand (a stream URL, a subscribe message, a REST request). */
  examples(): string[];
  /** The simulated book of a symbol; undefined for an unknown symbol or when playing a capture. */
  book(symbol: string): SimBook | undefined;
  /**
   * Injects a fault. Transport faults act at once; a book fault waits for the next book update it can hit (of
   * `symbol`, if given) and the promise resolves when it did.
   */
  inject(fault: FaultRequest): Promise<InjectedFault>;
  /** Stops the market (or the playback): nothing new is sent until `resume`. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export abstract class SimulatorCore implements Simulator {
  abstract readonly venue: VenueId;
  protected readonly market: Market | null;
  protected readonly hub: ClientHub;
  protected readonly log: FaultLog;
  protected readonly bookFaults: BookFaults;
  private readonly clock: MarketClock | null;
  /** Exchange times: the recorder's clock, read the same way (µs matter where a venue sends them). */
  private readonly wallClock = systemClock();
  private playback: CapturePlayback | null = null;
  private server: Server | null = null;
  private boundPort = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private gate: { promise: Promise<void>; open(): void } | null = null;
  private restRequests = 0;
  private playbacksFinished = 0;
  private closed = false;

  constructor(
    venue: VenueMarket,
    protected readonly options: SimulatorOptions,
  ) {
    this.log = new FaultLog(options.onFault);
    this.bookFaults = new BookFaults(this.log);
    this.hub = new ClientHub({
      maxBufferBytes: options.maxClientBufferBytes ?? 16 * 1024 * 1024,
      ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
    });
    const speed = options.speed ?? 1;
    if (!(speed >= 0) || !Number.isFinite(speed)) {
      throw new TapeError("E_TAPE_CONFIG", `speed must be a number >= 0, got ${speed}`);
    }
    if (options.replay !== undefined) {
      this.market = null;
      this.clock = null;
      return;
    }
    const symbols = options.symbols ?? venue.defaultSymbols;
    this.market = new Market(
      symbols.map((s) => venue.instrument(s)),
      {
        seed: options.seed ?? 1,
        seqBase: venue.seqBase,
        tradeIdBase: venue.tradeIdBase,
        ...(options.levels === undefined ? {} : { levels: options.levels }),
      },
    );
    this.clock = new MarketClock(options.rate ?? 10, () => this.step());
  }

  // The venue's protocol.

  /** The WebSocket URL a connector is given (Binance: the host, the connector adds `/stream?…`). */
  protected abstract wsUrlOf(port: number): string;
  /** Whether a WebSocket upgrade to `url` is served: null if so, else why not. */
  protected abstract refuses(url: URL): string | null;
  /** A client connected to the simulated market. */
  protected abstract onConnection(socket: SimSocket, url: URL): void;
  /** A text message from a client of the simulated market. */
  protected abstract onText(socket: SimSocket, text: string): void;
  protected abstract onRest(method: string, url: URL): HttpAnswer;
  /** Sends what one market step did to one symbol. */
  protected abstract publish(tick: MarketTick): void;
  /** Fault kinds the venue can show (bad-checksum needs a checksum). */
  protected abstract supports(kind: FaultKind): boolean;
  abstract examples(): string[];
  /** The venue answers a text `ping` with `pong`. */
  protected readonly textPing: boolean = false;

  async start(): Promise<this> {
    const o = this.options;
    if (o.replay !== undefined) this.playback = await CapturePlayback.load(o.replay);
    for (const f of o.faults ?? []) this.check(f);
    const { server, port } = await listenLoopback(o.port ?? 0, {
      request: (method, url) => this.request(method, url),
      upgrade: (req, url, socket, head) => this.upgrade(req, url, socket, head),
    });
    this.server = server;
    this.boundPort = port;
    for (const f of o.faults ?? []) {
      this.later(f.atMs, () => {
        this.inject(f).catch((err: Error) => {
          if (!this.closed) o.onLog?.(`fault ${f.kind} not injected: ${err.message}`);
        });
      });
    }
    this.clock?.start();
    return this;
  }

  get port(): number {
    return this.boundPort;
  }

  get wsUrl(): string {
    return this.wsUrlOf(this.boundPort);
  }

  get restUrl(): string {
    return `http://${LOOPBACK}:${this.boundPort}`;
  }

  get urls(): VenueUrls {
    return { ws: this.wsUrl, rest: this.restUrl };
  }

  get symbols(): readonly string[] {
    return this.market?.symbols ?? [];
  }

  get paused(): boolean {
    return this.gate !== null;
  }

  get faults(): readonly InjectedFault[] {
    return this.log.entries;
  }

  get stats(): SimulatorStats {
    return {
      ...this.hub.stats,
      clients: this.hub.sockets.size,
      restRequests: this.restRequests,
      playbacksFinished: this.playbacksFinished,
    };
  }

  faultCount(kind?: FaultKind): number {
    return this.log.count(kind);
  }

  book(symbol: string): SimBook | undefined {
    const b = this.market?.book(symbol);
    if (b === undefined) return undefined;
    const text = (l: TextLevel): TextLevel => ({ price: l.price, size: l.size });
    return { symbol, bids: b.bids.map(text), asks: b.asks.map(text), lastSeq: this.bookSeq(symbol, b.seq) };
  }

  /** The id a connector holds for the book after the last update sent: the market's sequence id, unless the venue counts messages. */
  protected bookSeq(_symbol: string, marketSeq: bigint): bigint {
    return marketSeq;
  }

  inject(fault: FaultRequest): Promise<InjectedFault> {
    try {
      this.check(fault);
    } catch (err) {
      return Promise.reject(err);
    }
    switch (fault.kind) {
      case "disconnect": {
        const n = this.hub.disconnectAll(1001, "simulated disconnect");
        return Promise.resolve(this.log.record("disconnect", "", [], `${n} connections closed`));
      }
      case "stall": {
        const ms = fault.ms ?? DEFAULT_STALL_MS;
        this.hub.stall(ms);
        return Promise.resolve(this.log.record("stall", "", [], `nothing sent for ${ms} ms`));
      }
      case "slow": {
        const count = fault.count ?? DEFAULT_SLOW_COUNT;
        this.hub.startBurst(count);
        return Promise.resolve(
          this.log.record("slow", "", [], `${count} messages held back, then sent at once`),
        );
      }
      default:
        return this.bookFaults.arm(fault);
    }
  }

  pause(): void {
    if (this.gate !== null) return;
    let open = () => {};
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.gate = { promise, open };
    this.clock?.stop();
    // Nothing more is coming: what is held for a reorder or a burst goes out now.
    this.bookFaults.release();
    this.hub.endBurst();
  }

  resume(): void {
    const g = this.gate;
    if (g === null || this.closed) return;
    this.gate = null;
    g.open();
    this.clock?.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock?.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.bookFaults.cancel("simulator closed");
    this.gate?.open();
    this.hub.close();
    if (this.server !== null) await closeServer(this.server);
  }

  private check(f: FaultRequest): void {
    const bad = (why: string) => new TapeError("E_TAPE_CONFIG", `fault ${f.kind}: ${why}`);
    if (!this.supports(f.kind)) throw bad(`not possible on ${this.venue}`);
    if (isBookFault(f.kind) && this.market === null)
      throw bad("a capture played back has no book updates to alter");
    if (f.symbol !== undefined && this.market !== null && !this.market.has(f.symbol)) {
      throw bad(`unknown symbol ${f.symbol}`);
    }
    if (f.ms !== undefined && !(f.ms >= 0)) throw bad(`bad duration ${f.ms}`);
    if (f.count !== undefined && !(f.count >= 1)) throw bad(`bad count ${f.count}`);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private step(): void {
    const market = this.market!;
    this.hub.inOneWrite(() => {
      for (const tick of market.step(Number(this.wallClock.nowNs() / 1000n))) this.publish(tick);
    });
  }

  private request(method: string, url: URL): HttpAnswer {
    this.restRequests++;
    if (this.playback === null) return this.onRest(method, url);
    const body = method === "GET" ? this.playback.restBody(`${url.pathname}${url.search}`) : undefined;
    return body === undefined
      ? {
          status: 404,
          body: JSON.stringify({ code: -1, msg: "the capture holds no response for this request" }),
        }
      : { status: 200, body };
  }

  private upgrade(req: IncomingMessage, url: URL, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const why = this.refuses(url);
    if (why !== null) {
      refuseUpgrade(socket, 400, why);
      return;
    }
    this.hub.accept(req, socket, head, (s) => {
      const playback = this.playback;
      if (playback === null) {
        s.onText((text) => this.onText(s, text));
        this.onConnection(s, url);
        return;
      }
      s.onText((text) => {
        if (this.textPing && text === "ping") s.send("pong");
      });
      playback
        .play(s, this.options.speed ?? 1, () => this.gate?.promise ?? null)
        .then((sent) => {
          if (sent < playback.frames) return;
          this.playbacksFinished++;
          this.options.onLog?.(`client ${s.connId}: all ${sent} frames of ${playback.file} sent`);
        })
        .catch((err: Error) => {
          this.options.onLog?.(`playback to ${s.connId} failed: ${err.message}`);
          s.close(1011, "playback failed");
        });
    });
  }
}
