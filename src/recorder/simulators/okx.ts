/**
 * An OKX v5 public simulator at `/ws/v5/public`: `subscribe`/`unsubscribe` ops acknowledged per argument;
 * `books` (a snapshot on each subscribe, then updates chained by `prevSeqId` = previous `seqId`, keep-alives with
 * empty sides and `seqId == prevSeqId`, each with the OKX checksum of the top 25 levels as sent), `trades` and
 * `bbo-tbt`; text `ping` answered with `pong`; OKX's error events for bad requests.
 */
import { okxChecksum } from "../connectors/okx.js";
import type { SimSocket } from "./client-hub.js";
import type { FaultKind } from "./faults.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import { type HttpAnswer, LOOPBACK } from "./loopback-server.js";
import type { LevelText, MarketTick } from "./market.js";
import { SimulatorCore, type SimulatorEntry, type SimulatorOptions, type VenueMarket } from "./simulator.js";

export const OKX_PATH = "/ws/v5/public";
const CHANNELS = new Set(["books", "trades", "bbo-tbt"]);
const CHECKSUM_LEVELS = 25;
/** The depth of the `books` channel. */
const BOOK_DEPTH = 400;

interface Arg {
  channel: string;
  instId: string;
}

const subKey = (channel: string, instId: string) => `${channel} ${instId}`;
const argText = (channel: string, instId: string) => JSON.stringify({ channel, instId });
const levels = (ls: readonly LevelText[]) =>
  JSON.stringify(ls.map((l) => [l.price, l.size, "0", String(l.orders)]));

// OKX prints the instrument's tick and lot precision and deletes as "0"; swaps count contracts.
const INSTRUMENTS: InstrumentRow[] = [
  ["BTC-USDT", "30316.1", "0.1", "0.00000001", "0.12", 1, 8],
  ["ETH-USDT", "2050.37", "0.01", "0.000001", "1.5", 2, 6],
  ["SOL-USDT", "143.27", "0.01", "0.000001", "20", 2, 6],
  ["BTC-USDT-SWAP", "30314.6", "0.1", "1", "40", 1, 0],
  ["ETH-USDT-SWAP", "2050.36", "0.01", "1", "60", 2, 0],
];

const OKX_MARKET: VenueMarket = {
  venue: "okx",
  defaultSymbols: ["BTC-USDT", "ETH-USDT"],
  instrument: (symbol) => instrumentFrom(INSTRUMENTS, symbol, () => "0"),
  seqBase: 10_000_000_000n,
  tradeIdBase: 338_000_000n,
};

export class OkxSimulator extends SimulatorCore {
  readonly venue = "okx";
  protected override readonly textPing = true;
  /** Each client's subscriptions, as `channel instId`. */
  private readonly subscribers = new Map<SimSocket, Set<string>>();

  constructor(options: SimulatorOptions) {
    super(OKX_MARKET, options);
  }

  examples(): string[] {
    const first = this.symbols[0];
    return first === undefined
      ? []
      : [`send {"op":"subscribe","args":[{"channel":"books","instId":"${first}"}]}`];
  }

  protected wsUrlOf(port: number): string {
    return `ws://${LOOPBACK}:${port}${OKX_PATH}`;
  }

  protected supports(_kind: FaultKind): boolean {
    return true;
  }

  protected refuses(url: URL): string | null {
    return url.pathname === OKX_PATH ? null : `no such endpoint ${url.pathname}: use ${OKX_PATH}`;
  }

  protected onConnection(socket: SimSocket): void {
    this.subscribers.set(socket, new Set());
    socket.ws.on("close", () => this.subscribers.delete(socket));
  }

  protected onText(socket: SimSocket, text: string): void {
    const subs = this.subscribers.get(socket);
    if (subs === undefined) return;
    if (text === "ping") {
      socket.send("pong");
      return;
    }
    const error = (code: string, msg: string) =>
      socket.send(JSON.stringify({ event: "error", code, msg, connId: socket.connId }));
    let req: { op?: unknown; args?: unknown; id?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      error("60012", `Invalid request: ${text}`);
      return;
    }
    if (
      (req.op !== "subscribe" && req.op !== "unsubscribe") ||
      !Array.isArray(req.args) ||
      req.args.length === 0
    ) {
      error("60012", `Invalid request: ${text}`);
      return;
    }
    const args = req.args as unknown[];
    const bad = args.find(
      (a) =>
        typeof a !== "object" ||
        a === null ||
        typeof (a as Partial<Arg>).channel !== "string" ||
        typeof (a as Partial<Arg>).instId !== "string",
    );
    if (bad !== undefined) {
      error("60012", `Invalid request: ${text}`);
      return;
    }
    // OKX echoes a request's `id`.
    const id = typeof req.id === "string" ? { id: req.id } : {};
    for (const a of args as Arg[]) {
      if (!CHANNELS.has(a.channel) || this.market?.has(a.instId) !== true) {
        error(
          "60018",
          `Wrong URL or channel:${a.channel},instId:${a.instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`,
        );
        continue;
      }
      const key = subKey(a.channel, a.instId);
      const arg = { channel: a.channel, instId: a.instId };
      socket.send(JSON.stringify({ ...id, event: req.op, arg, connId: socket.connId }));
      if (req.op === "unsubscribe") subs.delete(key);
      else {
        subs.add(key);
        if (a.channel === "books") socket.send(this.snapshot(a.instId));
      }
    }
  }

  protected onRest(_method: string, url: URL): HttpAnswer {
    return { status: 404, body: JSON.stringify({ code: "50000", msg: `no such endpoint ${url.pathname}` }) };
  }

  private snapshot(instId: string): string {
    const book = this.market!.book(instId, BOOK_DEPTH)!;
    const sum = okxChecksum(book.bids.slice(0, CHECKSUM_LEVELS), book.asks.slice(0, CHECKSUM_LEVELS));
    return (
      `{"arg":${argText("books", instId)},"action":"snapshot","data":[{"asks":${levels(book.asks)},` +
      `"bids":${levels(book.bids)},"ts":"${Date.now()}","checksum":${sum},"prevSeqId":-1,"seqId":${book.seq}}]}`
    );
  }

  protected publish(tick: MarketTick): void {
    if (this.subscribers.size === 0) return;
    const inst = tick.symbol;
    const ts = `"${tick.ts}"`;
    for (const t of tick.trades) {
      this.deliver(
        "trades",
        inst,
        `{"arg":${argText("trades", inst)},"data":[{"instId":"${inst}","tradeId":"${t.id}","px":"${t.price}","sz":"${t.size}","side":"${t.side}","ts":${ts}}]}`,
      );
    }
    const to = this.recipients("books", inst);
    if (to.length > 0) {
      const top = this.market!.book(inst, CHECKSUM_LEVELS)!;
      const sum = okxChecksum(top.bids, top.asks);
      const text = (checksum: number) =>
        `{"arg":${argText("books", inst)},"action":"update","data":[{"asks":${levels(tick.asks)},"bids":${levels(tick.bids)},` +
        `"ts":${ts},"checksum":${checksum},"prevSeqId":${tick.prevSeq},"seqId":${tick.seq}}]}`;
      const keepAlive = tick.seq === tick.prevSeq;
      this.bookFaults.route({
        symbol: inst,
        ids: [tick.prevSeq, tick.seq],
        label: keepAlive
          ? `keep-alive at seqId ${tick.seq}`
          : `update seqId ${tick.seq} (prevSeqId ${tick.prevSeq})`,
        keepAlive,
        hasRecipients: true,
        send: () => this.send(to, text(sum)),
        sendCorrupted: () => {
          // Never 0: that means "no checksum" and would not be checked.
          const wrong = (sum ^ 1) === 0 ? sum ^ 2 : sum ^ 1;
          this.send(to, text(wrong));
          return `checksum ${wrong} sent instead of ${sum}`;
        },
      });
    }
    if (tick.bboChanged) {
      const top = this.market!.book(inst, 1)!;
      this.deliver(
        "bbo-tbt",
        inst,
        `{"arg":${argText("bbo-tbt", inst)},"data":[{"asks":${levels(top.asks)},"bids":${levels(top.bids)},"ts":${ts},"seqId":${tick.seq}}]}`,
      );
    }
  }

  private recipients(channel: string, instId: string): SimSocket[] {
    const key = subKey(channel, instId);
    const out: SimSocket[] = [];
    for (const [socket, subs] of this.subscribers) if (subs.has(key)) out.push(socket);
    return out;
  }

  private deliver(channel: string, instId: string, text: string): void {
    this.send(this.recipients(channel, instId), text);
  }

  private send(to: readonly SimSocket[], text: string): void {
    for (const s of to) s.send(text);
  }
}

export const SIMULATOR: SimulatorEntry = {
  ...OKX_MARKET,
  create: (options) => new OkxSimulator(options),
};
