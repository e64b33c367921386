/**
 * A Binance spot simulator: combined streams (`/stream?streams=a/b/c`, `{"stream","data"}` envelope) and raw
 * streams (`/ws/<stream>`) of `<sym>@trade`, `<sym>@depth@100ms` and `<sym>@bookTicker`, the `SUBSCRIBE`
 * family of stream requests, and REST `/api/v3/depth` snapshots that the depth stream continues: update ids are
 * consecutive (each event's `U` is the previous `u` + 1) and a snapshot's `lastUpdateId` is the `u` of the last
 * event sent before it.
 */

import type { VenueId } from "../connectors/index.js";
import type { SimSocket } from "./client-hub.js";
import type { FaultKind } from "./faults.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import type { HttpAnswer } from "./loopback-server.js";
import { LOOPBACK } from "./loopback-server.js";
import type { LevelText, MarketTick } from "./market.js";
import { SimulatorCore, type SimulatorEntry, type SimulatorOptions, type VenueMarket } from "./simulator.js";

/** Binance allows 1024 streams per connection. */
const MAX_STREAMS = 1024;
const DEFAULT_DEPTH_LIMIT = 100;

/** What differs between Binance's markets as a simulator serves them. */
export interface BinanceDialect extends VenueMarket {
  /** REST path prefix: `/api/v3` (spot), `/fapi/v1` (USD-M futures). */
  rest: string;
  maxDepthLimit: number;
  /**
   * Futures messages: depth events name the previous event's final id (`pu`) and carry the transaction time
   * `T`, update ids leave gaps between events, snapshots and `bookTicker` carry `E` and `T`.
   */
  futures: boolean;
}

// Binance spot prints every price and size with 8 decimals, deletes included ("0.00000000").
const SPOT_INSTRUMENTS: InstrumentRow[] = [
  ["BTCUSDT", "61837.63", "0.01", "0.00001", "0.05", 8, 8],
  ["ETHUSDT", "2650.12", "0.01", "0.0001", "0.8", 8, 8],
  ["SOLUSDT", "143.27", "0.01", "0.001", "12", 8, 8],
  ["BNBUSDT", "512.3", "0.01", "0.001", "2.5", 8, 8],
  ["XRPUSDT", "0.5712", "0.0001", "1", "900", 8, 8],
];

export const BINANCE_SPOT_DIALECT: BinanceDialect = {
  venue: "binance",
  defaultSymbols: ["BTCUSDT", "ETHUSDT"],
  instrument: (symbol) =>
    instrumentFrom(SPOT_INSTRUMENTS, symbol, (d) => (0).toFixed(d), { priceDecimals: 8, sizeDecimals: 8 }),
  seqBase: 50_000_000_000n,
  tradeIdBase: 3_700_000_000n,
  rest: "/api/v3",
  maxDepthLimit: 5000,
  futures: false,
};
const STREAM = /^([a-z0-9]+)@(trade|bookticker|depth(?:@100ms|@1000ms)?)$/;

/** A stream name's key (`btcusdt@depth` for every depth speed), or null when it is not one we serve. */
function keyOf(name: string): string | null {
  const m = STREAM.exec(name.toLowerCase());
  if (m === null) return null;
  return `${m[1]}@${m[2]!.startsWith("depth") ? "depth" : m[2]}`;
}

interface Client {
  /** Combined streams wrap each message in `{"stream","data"}`; a raw stream sends the data alone. */
  combined: boolean;
  /** Key → the names the client subscribed with (the envelope repeats the name as given). */
  streams: Map<string, Set<string>>;
  /** Times in microseconds: asked with `timeUnit=MICROSECOND` (spot only). */
  micros: boolean;
}

const pairs = (levels: readonly LevelText[]) => JSON.stringify(levels.map((l) => [l.price, l.size]));
const error = (status: number, code: number, msg: string): HttpAnswer => ({
  status,
  body: JSON.stringify({ code, msg }),
});

export class BinanceSimulator extends SimulatorCore {
  readonly venue: VenueId;
  private readonly subscribers = new Map<SimSocket, Client>();

  constructor(
    options: SimulatorOptions,
    private readonly dialect: BinanceDialect = BINANCE_SPOT_DIALECT,
  ) {
    // Binance spells symbols in upper case (streams in lower case).
    const symbols = options.symbols?.map((s) => s.toUpperCase());
    super(dialect, { ...options, ...(symbols === undefined ? {} : { symbols }) });
    this.venue = dialect.venue;
  }

  examples(): string[] {
    const first = this.symbols[0];
    if (first === undefined) return [];
    const s = first.toLowerCase();
    return [
      `${this.wsUrl}/stream?streams=${s}@trade/${s}@depth@100ms/${s}@bookTicker`,
      `${this.restUrl}${this.dialect.rest}/depth?symbol=${first}&limit=${this.dialect.maxDepthLimit}`,
    ];
  }

  protected wsUrlOf(port: number): string {
    return `ws://${LOOPBACK}:${port}`;
  }

  protected supports(kind: FaultKind): boolean {
    return kind !== "bad-checksum";
  }

  protected refuses(url: URL): string | null {
    if (url.pathname === "/stream") {
      const streams = url.searchParams.get("streams") ?? "";
      if (streams === "") return "Invalid request: no streams given (/stream?streams=a/b/c)";
      if (streams.split("/").length > MAX_STREAMS) return `Invalid request: more than ${MAX_STREAMS} streams`;
      return null;
    }
    if (url.pathname === "/ws" || url.pathname.startsWith("/ws/")) return null;
    return `no such endpoint ${url.pathname}: use /stream?streams=… or /ws/<stream>`;
  }

  protected onConnection(socket: SimSocket, url: URL): void {
    const combined = url.pathname === "/stream";
    const names = combined
      ? (url.searchParams.get("streams") ?? "").split("/")
      : url.pathname.slice("/ws/".length).split("/");
    const unit = url.searchParams.get("timeUnit")?.toUpperCase();
    const client: Client = {
      combined,
      streams: new Map(),
      micros: unit === "MICROSECOND" && !this.dialect.futures,
    };
    for (const name of names) this.add(client, name);
    this.subscribers.set(socket, client);
    socket.ws.on("close", () => this.subscribers.delete(socket));
  }

  private add(client: Client, name: string): boolean {
    const key = keyOf(name);
    if (key === null) return false;
    const set = client.streams.get(key) ?? new Set<string>();
    client.streams.set(key, set);
    set.add(name);
    return true;
  }

  /** `{"method":"SUBSCRIBE"|"UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS","params":[…],"id":…}`. */
  protected onText(socket: SimSocket, text: string): void {
    const client = this.subscribers.get(socket);
    if (client === undefined) return;
    let msg: { method?: unknown; params?: unknown; id?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      socket.send(
        JSON.stringify({ error: { code: 3, msg: "Invalid JSON: expected value at line 1 column 1" } }),
      );
      return;
    }
    const id = typeof msg.id === "number" || typeof msg.id === "string" ? msg.id : null;
    const params = Array.isArray(msg.params) ? msg.params : [];
    const fail = (m: string) => socket.send(JSON.stringify({ error: { code: 2, msg: m }, id }));
    if (msg.method === "LIST_SUBSCRIPTIONS") {
      const names = [...client.streams.values()].flatMap((s) => [...s]);
      socket.send(JSON.stringify({ result: names, id }));
    } else if (msg.method === "SUBSCRIBE" || msg.method === "UNSUBSCRIBE") {
      const bad = params.find((p) => typeof p !== "string" || keyOf(p) === null);
      if (bad !== undefined) {
        fail(`Invalid request: invalid stream name ${JSON.stringify(bad)}`);
        return;
      }
      for (const p of params as string[]) {
        if (msg.method === "SUBSCRIBE") this.add(client, p);
        else {
          const key = keyOf(p)!;
          client.streams.get(key)?.delete(p);
          if (client.streams.get(key)?.size === 0) client.streams.delete(key);
        }
      }
      socket.send(JSON.stringify({ result: null, id }));
    } else fail(`Invalid request: unknown method ${JSON.stringify(msg.method)}`);
  }

  protected onRest(method: string, url: URL): HttpAnswer {
    if (method !== "GET") return error(405, -1, `method ${method} not allowed`);
    const rest = this.dialect.rest;
    if (url.pathname === `${rest}/ping`) return { status: 200, body: "{}" };
    if (url.pathname === `${rest}/time`)
      return { status: 200, body: JSON.stringify({ serverTime: Date.now() }) };
    if (url.pathname !== `${rest}/depth`) return error(404, -1, `no such endpoint ${url.pathname}`);
    const symbol = url.searchParams.get("symbol") ?? "";
    if (symbol === "") {
      return error(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    }
    const limitText = url.searchParams.get("limit");
    if (limitText !== null && !/^[0-9]{1,20}$/.test(limitText)) {
      return error(
        400,
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
      );
    }
    const limit = Math.min(
      limitText === null ? DEFAULT_DEPTH_LIMIT : Number(limitText),
      this.dialect.maxDepthLimit,
    );
    if (limit < 1) return error(400, -1100, "Illegal value for parameter 'limit': it must be at least 1.");
    const book = this.market?.book(symbol, limit);
    if (book === undefined) return error(400, -1121, "Invalid symbol.");
    const now = Date.now();
    const times = this.dialect.futures ? `"E":${now},"T":${now},` : "";
    return {
      status: 200,
      body: `{"lastUpdateId":${book.seq},${times}"bids":${pairs(book.bids)},"asks":${pairs(book.asks)}}`,
    };
  }

  protected publish(tick: MarketTick): void {
    if (this.subscribers.size === 0) return;
    const sym = tick.symbol;
    const lower = sym.toLowerCase();
    const time = (micros: boolean) => (micros ? tick.tsMicros : tick.ts);
    const futures = this.dialect.futures;
    for (const t of tick.trades) {
      // `m`: the buyer is the maker, i.e. the taker sold.
      this.deliver(`${lower}@trade`, (micros) => {
        const E = time(micros);
        return futures
          ? `{"e":"trade","E":${E},"T":${E},"s":"${sym}","t":${t.id},"p":"${t.price}","q":"${t.size}","X":"MARKET","m":${t.side === "sell"}}`
          : `{"e":"trade","E":${E},"s":"${sym}","t":${t.id},"p":"${t.price}","q":"${t.size}","T":${E},"m":${t.side === "sell"},"M":true}`;
      });
    }
    if (tick.bids.length + tick.asks.length > 0) {
      const pu = tick.prevSeq;
      const u = tick.seq;
      // Futures ids leave holes between events: U is past pu + 1 whenever the event spans several ids.
      const U = futures ? pu + 1n + (u - pu - 1n) / 2n : pu + 1n;
      const levels = `"b":${pairs(tick.bids)},"a":${pairs(tick.asks)}`;
      const data = (micros: boolean) => {
        const E = time(micros);
        return futures
          ? `{"e":"depthUpdate","E":${E},"T":${E},"s":"${sym}","U":${U},"u":${u},"pu":${pu},${levels}}`
          : `{"e":"depthUpdate","E":${E},"s":"${sym}","U":${U},"u":${u},${levels}}`;
      };
      const to = this.recipients(`${lower}@depth`);
      this.bookFaults.route({
        symbol: sym,
        ids: [U, u],
        label: `update ${U}..${u}`,
        keepAlive: false,
        hasRecipients: to.length > 0,
        send: () => this.send(to, data),
      });
    }
    if (tick.bboChanged) {
      const top = this.market!.book(sym, 1)!;
      const bid = top.bids[0]!;
      const ask = top.asks[0]!;
      const quote = `"u":${tick.seq},"s":"${sym}","b":"${bid.price}","B":"${bid.size}","a":"${ask.price}","A":"${ask.size}"`;
      this.deliver(`${lower}@bookticker`, (micros) =>
        futures ? `{"e":"bookTicker",${quote},"T":${time(micros)},"E":${time(micros)}}` : `{${quote}}`,
      );
    }
  }

  private recipients(key: string): [SimSocket, Client, Set<string>][] {
    const out: [SimSocket, Client, Set<string>][] = [];
    for (const [socket, client] of this.subscribers) {
      const names = client.streams.get(key);
      if (names !== undefined) out.push([socket, client, names]);
    }
    return out;
  }

  private deliver(key: string, data: (micros: boolean) => string): void {
    this.send(this.recipients(key), data);
  }

  /** Sends a message made by `data` for the time unit each client asked for (made once per unit). */
  private send(to: readonly [SimSocket, Client, Set<string>][], data: (micros: boolean) => string): void {
    const made: [string | null, string | null] = [null, null];
    for (const [socket, client, names] of to) {
      const unit = client.micros ? 1 : 0;
      const text = made[unit] ?? data(client.micros);
      made[unit] = text;
      if (!client.combined) socket.send(text);
      else for (const name of names) socket.send(`{"stream":"${name}","data":${text}}`);
    }
  }
}

export const SIMULATOR: SimulatorEntry = {
  ...BINANCE_SPOT_DIALECT,
  create: (options) => new BinanceSimulator(options),
};
