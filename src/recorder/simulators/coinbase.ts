/**
 * A Coinbase Advanced Trade market-data simulator at `/`: `subscribe`/`unsubscribe` of one channel for a list of
 * products, answered by a `subscriptions` message; channels `level2` (`l2_data`: a snapshot on each subscribe,
 * then updates), `market_trades`, `ticker` and `heartbeats` (one a second). Every message of a connection carries
 * its own `sequence_num`, from 0; a message lost to a fault still takes its number, as on a real connection.
 */
import type { SimSocket } from "./client-hub.js";
import type { FaultKind } from "./faults.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import { type HttpAnswer, LOOPBACK } from "./loopback-server.js";
import type { LevelText, MarketTick } from "./market.js";
import { SimulatorCore, type SimulatorEntry, type SimulatorOptions, type VenueMarket } from "./simulator.js";

const CHANNELS = new Set(["level2", "market_trades", "ticker", "heartbeats"]);

// Coinbase prints each product's own increments; deletes are "0".
const INSTRUMENTS: InstrumentRow[] = [
  ["BTC-USD", "21921.73", "0.01", "0.00000001", "0.06", 2, 8],
  ["ETH-USD", "1260.01", "0.01", "0.00000001", "1.2", 2, 8],
];

const COINBASE_MARKET: VenueMarket = {
  venue: "coinbase",
  defaultSymbols: ["BTC-USD", "ETH-USD"],
  instrument: (symbol) =>
    instrumentFrom(INSTRUMENTS, symbol, () => "0", { priceDecimals: 2, sizeDecimals: 8 }),
  seqBase: 1_000_000n,
  tradeIdBase: 600_000_000n,
};

const isoNs = (ms: number) => new Date(ms).toISOString().replace("Z", "000000Z");

interface Client {
  /** The next `sequence_num` of the connection. */
  next: number;
  /** Channel → products. */
  channels: Map<string, Set<string>>;
}

export class CoinbaseSimulator extends SimulatorCore {
  readonly venue = "coinbase";
  private readonly clients = new Map<SimSocket, Client>();
  private heartbeats: NodeJS.Timeout | null = null;
  private heartbeatCounter = 0;

  constructor(options: SimulatorOptions) {
    super(COINBASE_MARKET, options);
  }

  examples(): string[] {
    const first = this.symbols[0];
    return first === undefined
      ? []
      : [`send {"type":"subscribe","product_ids":["${first}"],"channel":"level2"}`];
  }

  protected wsUrlOf(port: number): string {
    return `ws://${LOOPBACK}:${port}`;
  }

  protected supports(kind: FaultKind): boolean {
    return kind !== "bad-checksum";
  }

  protected refuses(url: URL): string | null {
    return url.pathname === "/" ? null : `no such endpoint ${url.pathname}: use /`;
  }

  protected onConnection(socket: SimSocket): void {
    this.clients.set(socket, { next: 0, channels: new Map() });
    socket.ws.on("close", () => this.clients.delete(socket));
    if (this.heartbeats === null) {
      this.heartbeats = setInterval(() => {
        this.heartbeatCounter++;
        const now = Date.now();
        for (const [s, c] of this.clients) {
          if (!c.channels.has("heartbeats")) continue;
          this.sendTo(
            s,
            c,
            "heartbeats",
            now,
            `[{"current_time":"${isoNs(now)}","heartbeat_counter":${this.heartbeatCounter}}]`,
          );
        }
      }, 1000);
      this.heartbeats.unref();
    }
  }

  override async close(): Promise<void> {
    if (this.heartbeats !== null) clearInterval(this.heartbeats);
    await super.close();
  }

  /** One message to one client, numbered in its connection. */
  private sendTo(
    socket: SimSocket,
    client: Client,
    channel: string,
    ms: number,
    events: string,
    seq?: number,
  ): void {
    const n = seq ?? client.next++;
    socket.send(
      `{"channel":"${channel}","client_id":"","timestamp":"${isoNs(ms)}","sequence_num":${n},"events":${events}}`,
    );
  }

  protected onText(socket: SimSocket, text: string): void {
    const client = this.clients.get(socket);
    if (client === undefined) return;
    let req: { type?: unknown; channel?: unknown; product_ids?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      socket.send(JSON.stringify({ type: "error", message: "failure to parse request" }));
      return;
    }
    const channel = typeof req.channel === "string" ? req.channel : "";
    const products = Array.isArray(req.product_ids) ? (req.product_ids as unknown[]) : [];
    if ((req.type !== "subscribe" && req.type !== "unsubscribe") || !CHANNELS.has(channel)) {
      socket.send(JSON.stringify({ type: "error", message: `unsupported request ${text}` }));
      return;
    }
    const bad = products.find((p) => typeof p !== "string" || this.market?.has(p) !== true);
    if (bad !== undefined) {
      socket.send(JSON.stringify({ type: "error", message: `invalid product_id ${String(bad)}` }));
      return;
    }
    const set = client.channels.get(channel) ?? new Set<string>();
    for (const p of products as string[]) {
      if (req.type === "subscribe") set.add(p);
      else set.delete(p);
    }
    if (req.type === "subscribe" || set.size > 0 || channel === "heartbeats")
      client.channels.set(channel, set);
    if (req.type === "unsubscribe" && set.size === 0) client.channels.delete(channel);
    const now = Date.now();
    const subscriptions = Object.fromEntries([...client.channels].map(([c, ps]) => [c, [...ps]]));
    this.sendTo(socket, client, "subscriptions", now, JSON.stringify([{ subscriptions }]));
    if (req.type === "subscribe" && channel === "level2")
      for (const p of products as string[])
        this.sendTo(socket, client, "l2_data", now, this.snapshot(p, now));
  }

  protected onRest(_method: string, url: URL): HttpAnswer {
    return {
      status: 404,
      body: JSON.stringify({ error: "NOT_FOUND", message: `no such endpoint ${url.pathname}` }),
    };
  }

  private snapshot(product: string, ms: number): string {
    const book = this.market!.book(product, Number.POSITIVE_INFINITY)!;
    return `[{"type":"snapshot","product_id":"${product}","updates":${updates(book.bids, book.asks, ms)}}]`;
  }

  private subscribers(channel: string, product: string): [SimSocket, Client][] {
    const out: [SimSocket, Client][] = [];
    for (const [s, c] of this.clients) if (c.channels.get(channel)?.has(product)) out.push([s, c]);
    return out;
  }

  protected publish(tick: MarketTick): void {
    if (this.clients.size === 0) return;
    const p = tick.symbol;
    const ms = tick.ts;
    if (tick.trades.length > 0) {
      const trades = tick.trades.map(
        (t) =>
          `{"trade_id":"${t.id}","product_id":"${p}","price":"${t.price}","size":"${t.size}","side":"${t.side === "buy" ? "BUY" : "SELL"}","time":"${isoNs(ms)}"}`,
      );
      for (const [s, c] of this.subscribers("market_trades", p))
        this.sendTo(s, c, "market_trades", ms, `[{"type":"update","trades":[${trades.join(",")}]}]`);
    }
    if (tick.bids.length + tick.asks.length > 0) {
      const events = `[{"type":"update","product_id":"${p}","updates":${updates(tick.bids, tick.asks, ms)}}]`;
      for (const [s, c] of this.subscribers("level2", p)) {
        // The number is the connection's whether or not the message gets through.
        const n = c.next++;
        this.bookFaults.route({
          symbol: p,
          ids: [BigInt(n), BigInt(n)],
          label: `l2_data ${n}`,
          keepAlive: false,
          hasRecipients: true,
          send: () => this.sendTo(s, c, "l2_data", ms, events, n),
        });
      }
    }
    if (tick.bboChanged) {
      const top = this.market!.book(p, 1)!;
      const bid = top.bids[0]!;
      const ask = top.asks[0]!;
      const ticker = `[{"type":"update","tickers":[{"type":"ticker","product_id":"${p}","price":"${bid.price}","best_bid":"${bid.price}","best_bid_quantity":"${bid.size}","best_ask":"${ask.price}","best_ask_quantity":"${ask.size}"}]}]`;
      for (const [s, c] of this.subscribers("ticker", p)) this.sendTo(s, c, "ticker", ms, ticker);
    }
  }
}

/** Levels as Coinbase sends them: one object per level with its side and new quantity. */
function updates(bids: readonly LevelText[], asks: readonly LevelText[], ms: number): string {
  const t = new Date(ms).toISOString();
  const one = (side: string) => (l: LevelText) =>
    `{"side":"${side}","event_time":"${t}","price_level":"${l.price}","new_quantity":"${l.size}"}`;
  return `[${[...bids.map(one("bid")), ...asks.map(one("offer"))].join(",")}]`;
}

export const SIMULATOR: SimulatorEntry = {
  ...COINBASE_MARKET,
  create: (options) => new CoinbaseSimulator(options),
};
