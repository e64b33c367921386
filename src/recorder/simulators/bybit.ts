/**
 * A Bybit v5 public simulator at `/v5/public/linear` (and `/v5/public/spot`): `subscribe`/`unsubscribe` ops
 * answered with `{"success":…,"op":…}`, `{"op":"ping"}` answered with `ret_msg: "pong"`; topics
 * `orderbook.50.<sym>` (a snapshot on each subscribe, then deltas whose `u` counts the topic's messages one by
 * one), `orderbook.1.<sym>` (the top of the book, as snapshots) and `publicTrade.<sym>`.
 */
import type { SimSocket } from "./client-hub.js";
import type { FaultKind } from "./faults.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import { type HttpAnswer, LOOPBACK } from "./loopback-server.js";
import type { LevelText, MarketTick } from "./market.js";
import { SimulatorCore, type SimulatorEntry, type SimulatorOptions, type VenueMarket } from "./simulator.js";

const PATHS = new Set(["/v5/public/linear", "/v5/public/spot"]);
const TOPIC = /^(publicTrade|orderbook\.50|orderbook\.1)\.([A-Z0-9]+)$/;

// Bybit prints each instrument's tick and lot precision; deletes are "0".
const INSTRUMENTS: InstrumentRow[] = [
  ["BTCUSDT", "61800.20", "0.10", "0.001", "0.6", 2, 3],
  ["ETHUSDT", "2650.12", "0.01", "0.01", "9", 2, 2],
  ["SOLUSDT", "143.270", "0.010", "0.1", "40", 3, 1],
];

const BYBIT_MARKET: VenueMarket = {
  venue: "bybit",
  defaultSymbols: ["BTCUSDT", "ETHUSDT"],
  instrument: (symbol) => instrumentFrom(INSTRUMENTS, symbol, () => "0"),
  seqBase: 7_961_000_000n,
  tradeIdBase: 1_000_000n,
};

/** Where each topic's `u` starts: far from 1, which Bybit sends only after a restart of its service. */
const FIRST_U = 18_521_288n;

const levels = (ls: readonly LevelText[]) => JSON.stringify(ls.map((l) => [l.price, l.size]));
/** Bybit trade ids are UUIDs; the simulator's are made from its trade numbers. */
const tradeUuid = (id: bigint) => `00000000-0000-4000-8000-${id.toString(16).padStart(12, "0")}`;

export class BybitSimulator extends SimulatorCore {
  readonly venue = "bybit";
  /** Each client's topics. */
  private readonly subscribers = new Map<SimSocket, Set<string>>();
  /** The last `u` of each symbol's book and top-of-book topics. */
  private readonly bookU = new Map<string, bigint>();
  private readonly topU = new Map<string, bigint>();

  constructor(options: SimulatorOptions) {
    super(BYBIT_MARKET, options);
  }

  examples(): string[] {
    const first = this.symbols[0];
    return first === undefined
      ? []
      : [
          `send {"op":"subscribe","args":["orderbook.50.${first}","publicTrade.${first}","orderbook.1.${first}"]}`,
        ];
  }

  protected wsUrlOf(port: number): string {
    return `ws://${LOOPBACK}:${port}/v5/public/linear`;
  }

  protected supports(kind: FaultKind): boolean {
    return kind !== "bad-checksum";
  }

  protected refuses(url: URL): string | null {
    return PATHS.has(url.pathname) ? null : `no such endpoint ${url.pathname}: use /v5/public/linear`;
  }

  protected onConnection(socket: SimSocket): void {
    this.subscribers.set(socket, new Set());
    socket.ws.on("close", () => this.subscribers.delete(socket));
  }

  protected onText(socket: SimSocket, text: string): void {
    const topics = this.subscribers.get(socket);
    if (topics === undefined) return;
    let req: { op?: unknown; args?: unknown; req_id?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      socket.send(
        JSON.stringify({ success: false, ret_msg: `error:json parse ${text}`, conn_id: socket.connId }),
      );
      return;
    }
    const reqId = typeof req.req_id === "string" ? req.req_id : "";
    const reply = (success: boolean, retMsg: string) =>
      socket.send(
        JSON.stringify({ success, ret_msg: retMsg, conn_id: socket.connId, req_id: reqId, op: req.op }),
      );
    if (req.op === "ping") {
      reply(true, "pong");
      return;
    }
    if ((req.op !== "subscribe" && req.op !== "unsubscribe") || !Array.isArray(req.args)) {
      reply(false, `error:invalid op ${JSON.stringify(req.op)}`);
      return;
    }
    const args = req.args as unknown[];
    const bad = args.filter((a) => {
      const m = typeof a === "string" ? TOPIC.exec(a) : null;
      return m === null || this.market?.has(m[2]!) !== true;
    });
    if (bad.length > 0) {
      reply(false, `error:handler not found,topic:${bad.map(String).join(",")}`);
      return;
    }
    reply(true, "");
    for (const topic of args as string[]) {
      if (req.op === "unsubscribe") topics.delete(topic);
      else {
        topics.add(topic);
        if (topic.startsWith("orderbook.50."))
          socket.send(this.snapshot(topic.slice("orderbook.50.".length)));
      }
    }
  }

  protected onRest(_method: string, url: URL): HttpAnswer {
    return {
      status: 404,
      body: JSON.stringify({ retCode: 10001, retMsg: `no such endpoint ${url.pathname}` }),
    };
  }

  /** Bybit's book id is the topic's message count `u`, not the market's sequence. */
  protected override bookSeq(symbol: string): bigint {
    return this.bookU.get(symbol) ?? FIRST_U;
  }

  private snapshot(symbol: string): string {
    const book = this.market!.book(symbol, Number.POSITIVE_INFINITY)!;
    const u = this.bookSeq(symbol);
    const now = Date.now();
    return (
      `{"topic":"orderbook.50.${symbol}","type":"snapshot","ts":${now},"data":{"s":"${symbol}",` +
      `"b":${levels(book.bids)},"a":${levels(book.asks)},"u":${u},"seq":${book.seq}},"cts":${now}}`
    );
  }

  protected publish(tick: MarketTick): void {
    if (this.subscribers.size === 0) return;
    const sym = tick.symbol;
    const ts = tick.ts;
    if (tick.trades.length > 0) {
      const trades = tick.trades.map(
        (t) =>
          `{"T":${ts},"s":"${sym}","S":"${t.side === "buy" ? "Buy" : "Sell"}","v":"${t.size}","p":"${t.price}","L":"ZeroPlusTick","i":"${tradeUuid(t.id)}","BT":false}`,
      );
      this.deliver(
        `publicTrade.${sym}`,
        `{"topic":"publicTrade.${sym}","type":"snapshot","ts":${ts},"data":[${trades.join(",")}]}`,
      );
    }
    if (tick.bids.length + tick.asks.length > 0) {
      const u = this.bookSeq(sym) + 1n;
      this.bookU.set(sym, u);
      const topic = `orderbook.50.${sym}`;
      const to = this.recipients(topic);
      const text =
        `{"topic":"${topic}","type":"delta","ts":${ts},"data":{"s":"${sym}","b":${levels(tick.bids)},` +
        `"a":${levels(tick.asks)},"u":${u},"seq":${tick.seq}},"cts":${ts}}`;
      this.bookFaults.route({
        symbol: sym,
        ids: [u, u],
        label: `update ${u}`,
        keepAlive: false,
        hasRecipients: to.length > 0,
        send: () => this.send(to, text),
      });
    }
    if (tick.bboChanged) {
      const top = this.market!.book(sym, 1)!;
      const u = (this.topU.get(sym) ?? FIRST_U) + 1n;
      this.topU.set(sym, u);
      this.deliver(
        `orderbook.1.${sym}`,
        `{"topic":"orderbook.1.${sym}","type":"snapshot","ts":${ts},"data":{"s":"${sym}","b":${levels(top.bids)},` +
          `"a":${levels(top.asks)},"u":${u},"seq":${tick.seq}},"cts":${ts}}`,
      );
    }
  }

  private recipients(topic: string): SimSocket[] {
    const out: SimSocket[] = [];
    for (const [socket, topics] of this.subscribers) if (topics.has(topic)) out.push(socket);
    return out;
  }

  private deliver(topic: string, text: string): void {
    this.send(this.recipients(topic), text);
  }

  private send(to: readonly SimSocket[], text: string): void {
    for (const s of to) s.send(text);
  }
}

export const SIMULATOR: SimulatorEntry = {
  ...BYBIT_MARKET,
  create: (options) => new BybitSimulator(options),
};
