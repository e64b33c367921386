/**
 * A deterministic synthetic workload shaped like a multi-symbol crypto recording: random-walk prices in
 * ticks, lot-rounded heavy-tailed sizes, bursty trades sharing millisecond timestamps, L2 messages of
 * several level changes near the touch (and deletes of the levels the touch moved through, so that a book
 * rebuilt from them never crosses), and receive times with ns jitter. Rows of both tables are in
 * receive order across symbols, as a recorder would write them.
 */
import type { BookTable, SymbolInfo, TradeTable, Workload } from "./workload.js";

interface SymbolSpec {
  name: string;
  /** Starting price. */
  price: number;
  /** Tick = 10^-priceScale. */
  priceScale: number;
  sizeScale: number;
  /** Lot size in size-mantissa units (some venues print more decimals than the lot needs). */
  lotUnits: number;
  /** Share of all activity. */
  weight: number;
  spreadTicks: number;
  /** Median trade notional in quote currency. */
  tradeNotional: number;
}

// name, price, priceScale, sizeScale, lotUnits, weight, spreadTicks, tradeNotional
const SPEC_ROWS: readonly [string, number, number, number, number, number, number, number][] = [
  ["BTC-USDT", 65000, 2, 5, 1, 0.3, 1, 600],
  ["ETH-USDT", 3400, 2, 8, 1000, 0.2, 1, 400],
  ["SOL-USDT", 150, 3, 3, 1, 0.12, 2, 250],
  ["BNB-USDT", 590, 2, 3, 1, 0.08, 1, 200],
  ["XRP-USDT", 0.52, 5, 3, 100, 0.08, 2, 150],
  ["DOGE-USDT", 0.16, 5, 3, 1000, 0.08, 1, 150],
  ["AVAX-USDT", 35, 3, 4, 100, 0.07, 3, 150],
  ["LINK-USDT", 14, 3, 6, 10000, 0.07, 2, 120],
  // Used when more than eight symbols are asked for.
  ["ADA-USDT", 0.35, 4, 1, 1, 0.05, 1, 100],
  ["LTC-USDT", 70, 2, 5, 100, 0.05, 1, 100],
];
const ALL_SPECS: readonly SymbolSpec[] = SPEC_ROWS.map(
  ([name, price, priceScale, sizeScale, lotUnits, weight, spreadTicks, tradeNotional]) => ({
    name,
    price,
    priceScale,
    sizeScale,
    lotUnits,
    weight,
    spreadTicks,
    tradeNotional,
  }),
);

/** 2024-08-08T00:00:00Z in ns: a whole millisecond, so ms-resolution offsets stay ms-aligned. */
const BASE_NS = 1_723_075_200_000_000_000n;
const TWO32 = 4294967296;
const DAILY_VOL = 0.025;
const SNAPSHOT_LEVELS = 50;
const MAX_MESSAGE_LEVELS = 40;
/** Expected rows per trade burst and per book message, to keep both tables filling at the same pace. */
const MEAN_BURST = 3.2;
const MEAN_MESSAGE = 5.5;

/** Shares of sizes with 1, 2, 3, 4, 5 significant digits in the real tables (trades; book levels other than deletes). */
const TRADE_SIZE_DIGITS = [0.42, 0.29, 0.18, 0.09, 0.02] as const;
const BOOK_SIZE_DIGITS = [0.11, 0.16, 0.36, 0.32, 0.05] as const;

/** `v` rounded to `digits` significant digits, never below one lot. */
function roundToDigits(v: number, digits: number, lot: number): number {
  const magnitude = Math.floor(Math.log10(v)) + 1;
  if (magnitude <= digits) return v;
  const step = 10 ** (magnitude - digits);
  return Math.max(lot, Math.round(v / step) * step);
}

/** mulberry32: tiny, fast and good enough for test data. */
class Rng {
  private state: number;
  private spare = Number.NaN;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let x = this.state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / TWO32;
  }
  gauss(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  expo(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
  /** Failures before the first success. */
  geom(p: number): number {
    return Math.floor(Math.log(1 - this.next()) / Math.log(1 - p));
  }
}

/** Writes `BASE_NS + offset` into a BigInt64Array through 32-bit halves: much faster than a BigInt per row. */
class NsColumn {
  readonly values: BigInt64Array;
  private readonly words: Uint32Array | null;
  private readonly baseHi = Number(BASE_NS >> 32n);
  private readonly baseLo = Number(BASE_NS & 0xffffffffn);
  constructor(n: number) {
    this.values = new BigInt64Array(n);
    const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
    this.words = littleEndian ? new Uint32Array(this.values.buffer) : null;
  }
  set(row: number, offset: number): void {
    if (this.words === null) {
      this.values[row] = BASE_NS + BigInt(offset);
      return;
    }
    let lo = this.baseLo + offset;
    const carry = Math.floor(lo / TWO32);
    lo -= carry * TWO32;
    this.words[2 * row] = lo;
    this.words[2 * row + 1] = this.baseHi + carry;
  }
}

export interface SyntheticOptions {
  trades: number;
  bookUpdates: number;
  seed: number;
  /** How many symbols (1–10, default 8), the busiest first. */
  symbols?: number;
  /**
   * Multiplies the time between events (default 1): below 1 packs the same rows into less time, for a busier
   * market.
   */
  timeScale?: number;
}

export function syntheticWorkload(opts: SyntheticOptions): Workload {
  const SPECS = ALL_SPECS.slice(0, Math.max(1, Math.min(ALL_SPECS.length, opts.symbols ?? 8)));
  const scale = opts.timeScale ?? 1;
  const nTrades = opts.trades;
  const nBook = opts.bookUpdates;
  const rng = new Rng(opts.seed);
  const nSym = SPECS.length;

  const symbols: SymbolInfo[] = SPECS.map((s) => ({
    name: s.name,
    priceScale: s.priceScale,
    sizeScale: s.sizeScale,
  }));
  const cumWeight = new Float64Array(nSym);
  let acc = 0;
  for (let s = 0; s < nSym; s++) {
    acc += SPECS[s]!.weight;
    cumWeight[s] = acc;
  }

  // Per-symbol market state. Prices are in ticks (= price mantissas).
  const bid = new Float64Array(nSym);
  const spread = new Float64Array(nSym);
  const volPerSqrtSec = new Float64Array(nSym);
  const lotPrice = new Float64Array(nSym); // price of one lot in quote currency per tick of price
  const lastT = new Float64Array(nSym);
  const tradeId = new Float64Array(nSym);
  const seq = new Float64Array(nSym);
  const lastSide = new Uint8Array(nSym);
  for (let s = 0; s < nSym; s++) {
    const spec = SPECS[s]!;
    const tick = 10 ** -spec.priceScale;
    bid[s] = Math.round(spec.price / tick);
    spread[s] = spec.spreadTicks;
    volPerSqrtSec[s] = (DAILY_VOL * spec.price) / Math.sqrt(86400) / tick;
    lotPrice[s] = tick * (spec.lotUnits / 10 ** spec.sizeScale);
    tradeId[s] = 1_000_000_000 + Math.floor(rng.next() * 3_000_000_000);
    seq[s] = 4_000_000_000_000 + Math.floor(rng.next() * 1_000_000_000_000);
    lastSide[s] = 1 + (s & 1);
  }

  const tTs = new NsColumn(nTrades);
  const tRecv = new NsColumn(nTrades);
  const trades: TradeTable = {
    count: nTrades,
    symbol: new Uint16Array(nTrades),
    ts: tTs.values,
    recvTs: tRecv.values,
    priceMantissa: new Float64Array(nTrades),
    sizeMantissa: new Float64Array(nTrades),
    side: new Uint8Array(nTrades),
    tradeId: new Float64Array(nTrades),
  };
  const bTs = new NsColumn(nBook);
  const bRecv = new NsColumn(nBook);
  const book: BookTable = {
    count: nBook,
    symbol: new Uint16Array(nBook),
    ts: bTs.values,
    recvTs: bRecv.values,
    side: new Uint8Array(nBook),
    priceMantissa: new Float64Array(nBook),
    sizeMantissa: new Float64Array(nBook),
    snapshot: new Uint8Array(nBook),
    seq: new Float64Array(nBook),
  };

  /**
   * Lot-rounded log-normal size (heavy tail, never below one lot), in size-mantissa units, rounded to a number
   * of significant digits drawn from what the real Binance tables show (../shared/realdata/tables): traders
   * send round sizes, so most trade sizes have 1–3 significant digits and resting book sizes 3–4.
   */
  const drawSize = (s: number, notional: number, sigma: number, digits: readonly number[]): number => {
    const q = Math.exp(Math.log(notional) + sigma * rng.gauss());
    const lots = Math.max(1, Math.round(q / (bid[s]! * lotPrice[s]!)));
    return roundToDigits(lots * SPECS[s]!.lotUnits, pick(digits), SPECS[s]!.lotUnits);
  };
  const pick = (weights: readonly number[]): number => {
    let u = rng.next();
    for (let k = 0; k < weights.length; k++) {
      u -= weights[k]!;
      if (u < 0) return k + 1;
    }
    return weights.length;
  };

  // Exchange time (ns offset from BASE_NS, continuous) and the last receive time handed out (ns offset).
  let t = 0;
  let lastRecv = 0;
  const receive = (): number => {
    // A few ms of network latency with µs/ns jitter; the recorder receives one message at a time.
    const latency = 1_500_000 + rng.expo(1_200_000) + rng.next() * 1000;
    const recv = Math.max(Math.round(t + latency), lastRecv + 1 + Math.floor(rng.next() * 4000));
    lastRecv = recv;
    return recv;
  };
  const msOf = (time: number): number => Math.floor(time / 1_000_000) * 1_000_000;

  // Order-book message scratch: side, price and size of each level change.
  const mSide = new Uint8Array(4096);
  const mPrice = new Float64Array(mSide.length);
  const mSize = new Float64Array(mSide.length);
  // Resting levels of each symbol's book (bids, asks), so that messages delete what the touch moved through.
  const resting = SPECS.map(() => [new RestingSide(true), new RestingSide(false)]);

  let ti = 0;
  let bi = 0;

  const writeBookRow = (
    s: number,
    ts: number,
    recv: number,
    side: number,
    price: number,
    size: number,
    snap: number,
  ) => {
    book.symbol[bi] = s;
    bTs.set(bi, ts);
    bRecv.set(bi, recv);
    book.side[bi] = side;
    book.priceMantissa[bi] = price;
    book.sizeMantissa[bi] = size;
    book.snapshot[bi] = snap;
    book.seq[bi] = seq[s]!;
    bi++;
  };

  // Each book starts with a snapshot: levels spread out from the touch with small random gaps.
  for (let s = 0; s < nSym && bi < nBook; s++) {
    t += rng.expo(3_000_000 * scale);
    lastT[s] = t;
    const ts = msOf(t);
    const recv = receive();
    let p = bid[s]!;
    for (let l = 0; l < SNAPSHOT_LEVELS && bi < nBook; l++) {
      writeBookRow(s, ts, recv, 0, p, drawSize(s, 4 * SPECS[s]!.tradeNotional, 1.6, BOOK_SIZE_DIGITS), 1);
      resting[s]![0]!.add(p);
      p -= 1 + rng.geom(0.6);
    }
    p = bid[s]! + spread[s]!;
    for (let l = 0; l < SNAPSHOT_LEVELS && bi < nBook; l++) {
      writeBookRow(s, ts, recv, 1, p, drawSize(s, 4 * SPECS[s]!.tradeNotional, 1.6, BOOK_SIZE_DIGITS), 1);
      resting[s]![1]!.add(p);
      p += 1 + rng.geom(0.6);
    }
  }

  let sym = 0;
  while (ti < nTrades || bi < nBook) {
    // Bursty arrivals: a mix of short gaps inside a cluster (often on the same symbol) and longer pauses.
    if (rng.next() < 0.6) {
      t += rng.expo(500_000 * scale);
      if (rng.next() >= 0.7) sym = pickSymbol(cumWeight, rng.next() * acc);
    } else {
      t += rng.expo(15_000_000 * scale);
      sym = pickSymbol(cumWeight, rng.next() * acc);
    }
    const s = sym;
    const spec = SPECS[s]!;

    // Random walk of the touch since this symbol's last event.
    const dt = (t - lastT[s]!) / 1e9;
    lastT[s] = t;
    bid[s] = Math.max(10, bid[s]! + Math.round(rng.gauss() * volPerSqrtSec[s]! * Math.sqrt(dt)));
    spread[s] = rng.next() < 0.8 ? spec.spreadTicks : spec.spreadTicks + 1 + rng.geom(0.5);

    const remTrades = nTrades - ti;
    const remBook = nBook - bi;
    const tradeWeight = remTrades / MEAN_BURST;
    const isTrade = rng.next() * (tradeWeight + remBook / MEAN_MESSAGE) < tradeWeight;

    if (isTrade) {
      // A burst: one taker order filling several makers, same side throughout, often the same ms.
      const u = rng.next();
      let n = u < 0.5 ? 1 : u < 0.97 ? 2 + rng.geom(0.33) : 8 + Math.floor(rng.next() * 40);
      n = Math.min(n, remTrades);
      const side = rng.next() < 0.65 ? lastSide[s]! : 3 - lastSide[s]!;
      lastSide[s] = side;
      const dir = side === 1 ? 1 : -1;
      let price = side === 1 ? bid[s]! + spread[s]! : bid[s]!;
      let ts = msOf(t);
      let recv = receive();
      for (let k = 0; k < n; k++) {
        if (k > 0) {
          if (rng.next() < 0.3) price += dir * (1 + rng.geom(0.7));
          if (rng.next() < 0.12) {
            t += rng.expo(700_000 * scale);
            ts = msOf(t);
            recv = receive();
          }
          // Otherwise the fill comes in the same message as the previous one (most venues send a taker's
          // fills together), so it shares the receive time.
        }
        trades.symbol[ti] = s;
        tTs.set(ti, ts);
        tRecv.set(ti, recv);
        trades.priceMantissa[ti] = price;
        trades.sizeMantissa[ti] = drawSize(s, spec.tradeNotional, 1.5, TRADE_SIZE_DIGITS);
        trades.side[ti] = side;
        tradeId[s] = tradeId[s]! + 1;
        trades.tradeId[ti] = tradeId[s]!;
        ti++;
      }
      // The sweep moved the touch.
      bid[s] = side === 1 ? Math.max(bid[s]!, price - spread[s]!) : Math.min(bid[s]!, price);
    } else {
      // One depth message: first the deletes of the levels the touch moved through (they traded or were
      // pulled), then a few level changes, geometric in distance from the touch.
      let n = 0;
      const ask = bid[s]! + spread[s]!;
      const [restBid, restAsk] = resting[s]!;
      for (const p of restBid!.crossed(bid[s]!)) if (n < mSide.length - MAX_MESSAGE_LEVELS) add(0, p, 0);
      for (const p of restAsk!.crossed(ask)) if (n < mSide.length - MAX_MESSAGE_LEVELS) add(1, p, 0);
      const changes = Math.min(1 + rng.geom(1 / MEAN_MESSAGE), MAX_MESSAGE_LEVELS);
      for (let k = 0; k < changes; k++) {
        const side = rng.next() < 0.5 ? 0 : 1;
        const rest = side === 0 ? restBid! : restAsk!;
        let dist = rng.geom(0.3);
        let price = 0;
        for (;;) {
          price = side === 0 ? bid[s]! - dist : ask + dist;
          let dup = false;
          for (let j = 0; j < n; j++) if (mSide[j] === side && mPrice[j] === price) dup = true;
          if (!dup) break;
          dist++;
        }
        // A delete only removes a level that rests; otherwise the change sets a size.
        const remove = rest.has(price) && rng.next() < 0.15;
        add(side, price, remove ? 0 : drawSize(s, 4 * spec.tradeNotional, 1.8, BOOK_SIZE_DIGITS));
      }
      // Venues list bids (best first) and then asks (best first).
      for (let k = 1; k < n; k++) {
        const sd = mSide[k]!;
        const pr = mPrice[k]!;
        const sz = mSize[k]!;
        let j = k - 1;
        while (j >= 0 && levelAfter(mSide[j]!, mPrice[j]!, sd, pr)) {
          mSide[j + 1] = mSide[j]!;
          mPrice[j + 1] = mPrice[j]!;
          mSize[j + 1] = mSize[j]!;
          j--;
        }
        mSide[j + 1] = sd;
        mPrice[j + 1] = pr;
        mSize[j + 1] = sz;
      }
      seq[s] = seq[s]! + 1 + Math.floor(rng.expo(2));
      const ts = msOf(t);
      const recv = receive();
      n = Math.min(n, remBook);
      for (let k = 0; k < n; k++) {
        const side = mSide[k]!;
        const rest = side === 0 ? restBid! : restAsk!;
        if (mSize[k] === 0) rest.remove(mPrice[k]!);
        else rest.add(mPrice[k]!);
        writeBookRow(s, ts, recv, side, mPrice[k]!, mSize[k]!, 0);
      }
      function add(side: number, price: number, size: number): void {
        mSide[n] = side;
        mPrice[n] = price;
        mSize[n] = size;
        n++;
      }
    }
  }

  return { label: `synthetic (seed ${opts.seed})`, symbols, trades, book };
}

/** The resting price levels of one side of a book, best last (bids ascending, asks descending). */
class RestingSide {
  private readonly prices: number[] = [];
  constructor(private readonly isBid: boolean) {}

  /** Index of `price`, or -(insertion point) - 1. */
  private find(price: number): number {
    const a = this.prices;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid]!;
      if (v === price) return mid;
      if (this.isBid ? v < price : v > price) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }
  has(price: number): boolean {
    return this.find(price) >= 0;
  }
  add(price: number): void {
    const i = this.find(price);
    if (i < 0) this.prices.splice(-i - 1, 0, price);
  }
  remove(price: number): void {
    const i = this.find(price);
    if (i >= 0) this.prices.splice(i, 1);
  }
  /** Removes and returns the levels beyond the touch: bids above it, asks below it. */
  crossed(touch: number): number[] {
    const out: number[] = [];
    const a = this.prices;
    while (a.length > 0 && (this.isBid ? a[a.length - 1]! > touch : a[a.length - 1]! < touch))
      out.push(a.pop()!);
    return out;
  }
}

function pickSymbol(cumWeight: Float64Array, x: number): number {
  for (let s = 0; s < cumWeight.length - 1; s++) if (x < cumWeight[s]!) return s;
  return cumWeight.length - 1;
}

/** True when level (sideA, priceA) sorts after (sideB, priceB): bids descending, then asks ascending. */
function levelAfter(sideA: number, priceA: number, sideB: number, priceB: number): boolean {
  if (sideA !== sideB) return sideA > sideB;
  return sideA === 0 ? priceA < priceB : priceA > priceB;
}
