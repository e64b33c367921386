/**
 * A Kraken spot WebSocket v2 simulator at `/v2`: a `status` message on connect (with a connection id above 2^53),
 * `subscribe`/`unsubscribe` answered per symbol, `ping` answered with `pong`, a `heartbeat` every second;
 * channels `book` (a snapshot of the subscribed depth, then updates with only the levels that changed within that
 * depth, levels pushed out of it left for the client to drop, each with the CRC-32 checksum of the top 10),
 * `trade` and `ticker` (best bid and offer). Prices and quantities are JSON numbers with the pair's decimals.
 */
import { krakenChecksum } from "../connectors/kraken.js";
import type { SimSocket } from "./client-hub.js";
import type { FaultKind } from "./faults.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import { type HttpAnswer, LOOPBACK } from "./loopback-server.js";
import type { LevelText, MarketTick } from "./market.js";
import { SimulatorCore, type SimulatorEntry, type SimulatorOptions, type VenueMarket } from "./simulator.js";

const PATH = "/v2";
const DEPTHS = new Set([10, 25, 100, 500, 1000]);
/** The depth `book(symbol)` reports: what the recorder subscribes. */
const REPORTED_DEPTH = 25;

// Kraken prints quantities with 8 decimals (trailing zeros included) and prices with the pair's decimals.
const INSTRUMENTS: InstrumentRow[] = [
  ["BTC/USD", "45283.5", "0.1", "0.00000001", "0.15", 1, 8],
  ["ETH/USD", "2650.12", "0.01", "0.00000001", "1.5", 2, 8],
];

const KRAKEN_MARKET: VenueMarket = {
  venue: "kraken",
  defaultSymbols: ["BTC/USD", "ETH/USD"],
  instrument: (symbol) =>
    instrumentFrom(INSTRUMENTS, symbol, (d) => (0).toFixed(d), { priceDecimals: 2, sizeDecimals: 8 }),
  seqBase: 1_000_000n,
  tradeIdBase: 4_665_000n,
};

const levelsJson = (ls: readonly LevelText[]) =>
  `[${ls.map((l) => `{"price":${l.price},"qty":${l.size}}`).join(",")}]`;
const nowText = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");

interface Subscription {
  /** Book depth, for `book`. */
  depth: number;
}

export class KrakenSimulator extends SimulatorCore {
  readonly venue = "kraken";
  /** Each client's subscriptions: `channel symbol` → options. */
  private readonly subscribers = new Map<SimSocket, Map<string, Subscription>>();
  /** The book each depth in use was last published at, by symbol and depth. */
  private readonly published = new Map<string, { bids: LevelText[]; asks: LevelText[] }>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(options: SimulatorOptions) {
    super(KRAKEN_MARKET, options);
  }

  examples(): string[] {
    const first = this.symbols[0];
    return first === undefined
      ? []
      : [`send {"method":"subscribe","params":{"channel":"book","symbol":["${first}"],"depth":25}}`];
  }

  override book(symbol: string) {
    const b = super.book(symbol);
    return b === undefined
      ? undefined
      : { ...b, bids: b.bids.slice(0, REPORTED_DEPTH), asks: b.asks.slice(0, REPORTED_DEPTH) };
  }

  protected wsUrlOf(port: number): string {
    return `ws://${LOOPBACK}:${port}${PATH}`;
  }

  protected supports(kind: FaultKind): boolean {
    // No sequence ids: a duplicated update changes nothing and cannot be seen.
    return kind !== "duplicate";
  }

  protected refuses(url: URL): string | null {
    return url.pathname === PATH ? null : `no such endpoint ${url.pathname}: use ${PATH}`;
  }

  protected onConnection(socket: SimSocket): void {
    this.subscribers.set(socket, new Map());
    socket.ws.on("close", () => this.subscribers.delete(socket));
    socket.send(
      `{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":14061423187254263712}]}`,
    );
    if (this.heartbeat === null) {
      this.heartbeat = setInterval(() => {
        for (const [s, subs] of this.subscribers) if (subs.size > 0) s.send('{"channel":"heartbeat"}');
      }, 1000);
      this.heartbeat.unref();
    }
  }

  override async close(): Promise<void> {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    await super.close();
  }

  protected onText(socket: SimSocket, text: string): void {
    const subs = this.subscribers.get(socket);
    if (subs === undefined) return;
    let req: { method?: unknown; params?: Record<string, unknown>; req_id?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      socket.send(JSON.stringify({ error: "Malformed request", success: false }));
      return;
    }
    const reqId = typeof req.req_id === "number" ? { req_id: req.req_id } : {};
    const time = { time_in: nowText(Date.now()), time_out: nowText(Date.now()) };
    if (req.method === "ping") {
      socket.send(JSON.stringify({ method: "pong", ...reqId, ...time }));
      return;
    }
    const params = req.params ?? {};
    const channel = params["channel"];
    const symbols = params["symbol"];
    if (
      (req.method !== "subscribe" && req.method !== "unsubscribe") ||
      (channel !== "book" && channel !== "trade" && channel !== "ticker") ||
      !Array.isArray(symbols)
    ) {
      socket.send(
        JSON.stringify({
          error: `Unsupported request ${text}`,
          method: req.method,
          success: false,
          ...reqId,
          ...time,
        }),
      );
      return;
    }
    const depth = params["depth"] === undefined ? 10 : Number(params["depth"]);
    if (channel === "book" && !DEPTHS.has(depth)) {
      socket.send(
        JSON.stringify({
          error: `Invalid depth ${depth}`,
          method: req.method,
          success: false,
          ...reqId,
          ...time,
        }),
      );
      return;
    }
    for (const symbol of symbols) {
      if (typeof symbol !== "string" || this.market?.has(symbol) !== true) {
        socket.send(
          JSON.stringify({
            error: `Currency pair not supported ${String(symbol)}`,
            method: req.method,
            success: false,
            symbol,
            ...reqId,
            ...time,
          }),
        );
        continue;
      }
      const result = channel === "book" ? { channel, depth, snapshot: true, symbol } : { channel, symbol };
      socket.send(JSON.stringify({ method: req.method, result, success: true, ...reqId, ...time }));
      const key = `${channel} ${symbol}`;
      if (req.method === "unsubscribe") subs.delete(key);
      else {
        subs.set(key, { depth });
        if (channel === "book") socket.send(this.snapshot(symbol, depth));
      }
    }
  }

  protected onRest(_method: string, url: URL): HttpAnswer {
    return { status: 404, body: JSON.stringify({ error: [`EGeneral:Unknown method ${url.pathname}`] }) };
  }

  private snapshot(symbol: string, depth: number): string {
    const book = this.market!.book(symbol, depth)!;
    this.published.set(`${symbol} ${depth}`, { bids: book.bids, asks: book.asks });
    const sum = krakenChecksum(book.bids, book.asks);
    return (
      `{"channel":"book","type":"snapshot","data":[{"symbol":"${symbol}","bids":${levelsJson(book.bids)},` +
      `"asks":${levelsJson(book.asks)},"checksum":${sum},"timestamp":"${nowText(Date.now())}"}]}`
    );
  }

  /** The depths subscribed to a symbol's book, with their subscribers. */
  private bookDepths(symbol: string): Map<number, SimSocket[]> {
    const out = new Map<number, SimSocket[]>();
    for (const [socket, subs] of this.subscribers) {
      const sub = subs.get(`book ${symbol}`);
      if (sub === undefined) continue;
      const list = out.get(sub.depth) ?? [];
      list.push(socket);
      out.set(sub.depth, list);
    }
    return out;
  }

  protected publish(tick: MarketTick): void {
    if (this.subscribers.size === 0) return;
    const sym = tick.symbol;
    const time = nowText(tick.ts);
    if (tick.trades.length > 0) {
      const trades = tick.trades.map(
        (t) =>
          `{"symbol":"${sym}","side":"${t.side}","price":${t.price},"qty":${t.size},"ord_type":"limit","trade_id":${t.id},"timestamp":"${time}"}`,
      );
      this.deliver(`trade ${sym}`, `{"channel":"trade","type":"update","data":[${trades.join(",")}]}`);
    }
    if (tick.bids.length + tick.asks.length > 0) {
      const deleted = new Set(
        [...tick.bids, ...tick.asks].filter((l) => Number(l.size) === 0).map((l) => l.price),
      );
      for (const [depth, to] of this.bookDepths(sym)) {
        const key = `${sym} ${depth}`;
        const before = this.published.get(key) ?? { bids: [], asks: [] };
        const after = this.market!.book(sym, depth)!;
        this.published.set(key, { bids: after.bids, asks: after.asks });
        const bids = diff(before.bids, after.bids, deleted);
        const asks = diff(before.asks, after.asks, deleted);
        if (bids.length + asks.length === 0) continue;
        const top10 = (ls: LevelText[]) => ls.slice(0, 10);
        const sum = krakenChecksum(after.bids, after.asks);
        const text = (checksum: number) =>
          `{"channel":"book","type":"update","data":[{"symbol":"${sym}","bids":${levelsJson(bids)},` +
          `"asks":${levelsJson(asks)},"checksum":${checksum},"timestamp":"${time}"}]}`;
        // An update that leaves the top 10 as it was cannot be missed by a checksum: no fault is spent on it.
        const topChanged =
          JSON.stringify([top10(before.bids), top10(before.asks)]) !==
          JSON.stringify([top10(after.bids), top10(after.asks)]);
        this.bookFaults.route({
          symbol: sym,
          ids: [tick.seq, tick.seq],
          label: `update of ${sym} at depth ${depth}`,
          keepAlive: !topChanged,
          hasRecipients: true,
          send: () => this.send(to, text(sum)),
          sendCorrupted: () => {
            const wrong = (sum ^ 1) >>> 0;
            this.send(to, text(wrong));
            return `checksum ${wrong} sent instead of ${sum}`;
          },
        });
      }
    }
    if (tick.bboChanged) {
      const top = this.market!.book(sym, 1)!;
      const bid = top.bids[0]!;
      const ask = top.asks[0]!;
      this.deliver(
        `ticker ${sym}`,
        `{"channel":"ticker","type":"update","data":[{"symbol":"${sym}","bid":${bid.price},"bid_qty":${bid.size},"ask":${ask.price},"ask_qty":${ask.size}}]}`,
      );
    }
  }

  private deliver(key: string, text: string): void {
    const to: SimSocket[] = [];
    for (const [socket, subs] of this.subscribers) if (subs.has(key)) to.push(socket);
    this.send(to, text);
  }

  private send(to: readonly SimSocket[], text: string): void {
    for (const s of to) s.send(text);
  }
}

/**
 * The levels a depth-limited subscriber is sent: new or changed levels within the depth, and deletions of levels it
 * holds; a level pushed out of the depth (still in the book) is not sent — the client drops it itself.
 */
function diff(
  before: readonly LevelText[],
  after: readonly LevelText[],
  deleted: ReadonlySet<string>,
): LevelText[] {
  const held = new Map(before.map((l) => [l.price, l.size]));
  const now = new Set(after.map((l) => l.price));
  const out: LevelText[] = after.filter((l) => held.get(l.price) !== l.size);
  for (const l of before)
    if (!now.has(l.price) && deleted.has(l.price)) out.push({ ...l, size: (0).toFixed(8) });
  return out;
}

export const SIMULATOR: SimulatorEntry = {
  ...KRAKEN_MARKET,
  create: (options) => new KrakenSimulator(options),
};
