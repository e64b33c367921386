/**
 * A Deribit v2 simulator at `/ws/api/v2`: JSON-RPC requests `public/subscribe`, `public/unsubscribe` and
 * `public/test` answered as Deribit does (errors with JSON-RPC codes); notifications on `book.<inst>.raw` (a
 * snapshot on each subscribe, then changes chained by `prev_change_id`), `trades.<inst>.raw` and
 * `quote.<inst>`, with prices and amounts as JSON numbers.
 */
import type { SimSocket } from "./client-hub.js";
import type { FaultKind } from "./faults.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import { type HttpAnswer, LOOPBACK } from "./loopback-server.js";
import type { LevelText, MarketTick } from "./market.js";
import { SimulatorCore, type SimulatorEntry, type SimulatorOptions, type VenueMarket } from "./simulator.js";

const PATH = "/ws/api/v2";
const CHANNEL = /^(book\.([A-Z0-9-]+)\.raw|trades\.([A-Z0-9-]+)\.raw|quote\.([A-Z0-9-]+))$/;

// Deribit prints numbers as floats: perpetual amounts in USD with ".0", prices at the tick.
const INSTRUMENTS: InstrumentRow[] = [
  ["BTC-PERPETUAL", "61800.5", "0.5", "10", "5000", 1, 1],
  ["ETH-PERPETUAL", "2650.15", "0.05", "1", "500", 2, 1],
];

const DERIBIT_MARKET: VenueMarket = {
  venue: "deribit",
  defaultSymbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"],
  instrument: (symbol) => instrumentFrom(INSTRUMENTS, symbol, (d) => (0).toFixed(d)),
  seqBase: 33_195_000_000n,
  tradeIdBase: 160_000_000n,
};

/** Levels as Deribit sends them: `[action, price, amount]` with numbers unquoted. */
function levels(ls: readonly LevelText[], snapshot: boolean): string {
  return `[${ls
    .map((l) => {
      const action = snapshot ? "new" : Number(l.size) === 0 ? "delete" : "change";
      return `["${action}",${l.price},${l.size}]`;
    })
    .join(",")}]`;
}

const notification = (channel: string, data: string) =>
  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${channel}","data":${data}}}`;

export class DeribitSimulator extends SimulatorCore {
  readonly venue = "deribit";
  private readonly subscribers = new Map<SimSocket, Set<string>>();

  constructor(options: SimulatorOptions) {
    super(DERIBIT_MARKET, options);
  }

  examples(): string[] {
    const first = this.symbols[0];
    return first === undefined
      ? []
      : [
          `send {"jsonrpc":"2.0","id":1,"method":"public/subscribe","params":{"channels":["book.${first}.raw","trades.${first}.raw","quote.${first}"]}}`,
        ];
  }

  protected wsUrlOf(port: number): string {
    return `ws://${LOOPBACK}:${port}${PATH}`;
  }

  protected supports(kind: FaultKind): boolean {
    return kind !== "bad-checksum";
  }

  protected refuses(url: URL): string | null {
    return url.pathname === PATH ? null : `no such endpoint ${url.pathname}: use ${PATH}`;
  }

  protected onConnection(socket: SimSocket): void {
    this.subscribers.set(socket, new Set());
    socket.ws.on("close", () => this.subscribers.delete(socket));
  }

  protected onText(socket: SimSocket, text: string): void {
    const channels = this.subscribers.get(socket);
    if (channels === undefined) return;
    let req: { id?: unknown; method?: unknown; params?: { channels?: unknown } };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      socket.send(JSON.stringify({ jsonrpc: "2.0", error: { message: "Parse error", code: -32700 } }));
      return;
    }
    const id = typeof req.id === "number" || typeof req.id === "string" ? req.id : null;
    const fail = (message: string, code: number, reason: string) =>
      socket.send(JSON.stringify({ jsonrpc: "2.0", id, error: { message, data: { reason }, code } }));
    const ok = (result: unknown) =>
      socket.send(JSON.stringify({ jsonrpc: "2.0", id, result, testnet: false }));
    if (req.method === "public/test") {
      ok({ version: "1.2.26" });
      return;
    }
    if (req.method !== "public/subscribe" && req.method !== "public/unsubscribe") {
      fail("Method not found", -32601, `unknown method ${String(req.method)}`);
      return;
    }
    const list = req.params?.channels;
    if (!Array.isArray(list) || list.some((c) => typeof c !== "string")) {
      fail("Invalid params", -32602, "channels must be a list of strings");
      return;
    }
    const known = (c: string) => {
      const m = CHANNEL.exec(c);
      return m !== null && this.market?.has(m[2] ?? m[3] ?? m[4]!) === true;
    };
    const bad = (list as string[]).find((c) => !known(c));
    if (bad !== undefined) {
      fail("Invalid params", -32602, `invalid channel ${bad}`);
      return;
    }
    ok(list);
    for (const c of list as string[]) {
      if (req.method === "public/unsubscribe") channels.delete(c);
      else {
        channels.add(c);
        if (c.startsWith("book.")) socket.send(this.snapshot(c.slice("book.".length, -".raw".length)));
      }
    }
  }

  protected onRest(_method: string, url: URL): HttpAnswer {
    return {
      status: 404,
      body: JSON.stringify({
        jsonrpc: "2.0",
        error: { message: `no such endpoint ${url.pathname}`, code: 10000 },
      }),
    };
  }

  private snapshot(inst: string): string {
    const book = this.market!.book(inst, Number.POSITIVE_INFINITY)!;
    return notification(
      `book.${inst}.raw`,
      `{"type":"snapshot","timestamp":${Date.now()},"instrument_name":"${inst}","change_id":${book.seq},"bids":${levels(book.bids, true)},"asks":${levels(book.asks, true)}}`,
    );
  }

  protected publish(tick: MarketTick): void {
    if (this.subscribers.size === 0) return;
    const inst = tick.symbol;
    const ts = tick.ts;
    if (tick.trades.length > 0) {
      const trades = tick.trades.map(
        (t) =>
          `{"trade_seq":${t.id},"trade_id":"${t.id}","timestamp":${ts},"tick_direction":0,"price":${t.price},"mark_price":${t.price},"instrument_name":"${inst}","index_price":${t.price},"direction":"${t.side}","amount":${t.size}}`,
      );
      this.deliver(`trades.${inst}.raw`, notification(`trades.${inst}.raw`, `[${trades.join(",")}]`));
    }
    if (tick.bids.length + tick.asks.length > 0) {
      const channel = `book.${inst}.raw`;
      const to = this.recipients(channel);
      const text = notification(
        channel,
        `{"type":"change","timestamp":${ts},"prev_change_id":${tick.prevSeq},"instrument_name":"${inst}","change_id":${tick.seq},"bids":${levels(tick.bids, false)},"asks":${levels(tick.asks, false)}}`,
      );
      this.bookFaults.route({
        symbol: inst,
        ids: [tick.prevSeq, tick.seq],
        label: `change ${tick.seq} (prev ${tick.prevSeq})`,
        keepAlive: false,
        hasRecipients: to.length > 0,
        send: () => this.send(to, text),
      });
    }
    if (tick.bboChanged) {
      const top = this.market!.book(inst, 1)!;
      const bid = top.bids[0]!;
      const ask = top.asks[0]!;
      this.deliver(
        `quote.${inst}`,
        notification(
          `quote.${inst}`,
          `{"timestamp":${ts},"instrument_name":"${inst}","best_bid_price":${bid.price},"best_bid_amount":${bid.size},"best_ask_price":${ask.price},"best_ask_amount":${ask.size}}`,
        ),
      );
    }
  }

  private recipients(channel: string): SimSocket[] {
    const out: SimSocket[] = [];
    for (const [socket, channels] of this.subscribers) if (channels.has(channel)) out.push(socket);
    return out;
  }

  private deliver(channel: string, text: string): void {
    this.send(this.recipients(channel), text);
  }

  private send(to: readonly SimSocket[], text: string): void {
    for (const s of to) s.send(text);
  }
}

export const SIMULATOR: SimulatorEntry = {
  ...DERIBIT_MARKET,
  create: (options) => new DeribitSimulator(options),
};
