/**
 * The simulated market shared by every venue simulator: per symbol an L2 book and a trade tape driven by a seeded
 * PRNG, so one seed always gives the same books, trades and sequence ids. Each step moves levels near the touch
 * (new sizes, new levels, deletes), sometimes trades at the touch, and keeps the book uncrossed and a few dozen
 * levels deep. Venues only format what a step produced: the market owns the truth a test compares against.
 */
import type { TextLevel } from "../level-book.js";
import { formatUnits, toUnits } from "./decimal-units.js";
import type { InstrumentSpec } from "./instruments.js";
import { MarketSide, type SimLevel } from "./market-book.js";
import { SeededRandom, seedOf } from "./random.js";

export interface MarketOptions {
  seed: number;
  /** Levels per side at the start; the book stays within 3/4 and 3/2 of it (at most 400). Default 50. */
  levels?: number;
  /** First sequence id of each book (a symbol's own offset is added). */
  seqBase?: bigint;
  /** First trade id of each symbol (a symbol's own offset is added). */
  tradeIdBase?: bigint;
}

/** A level as sent: exact price and size text, and the orders at it. */
export interface LevelText extends TextLevel {
  orders: number;
}

export interface MarketTrade {
  id: bigint;
  price: string;
  size: string;
  /** The taker's side: a buy lifts the best ask, a sell hits the best bid. */
  side: "buy" | "sell";
}

/** What one step did to one symbol. */
export interface MarketTick {
  symbol: string;
  /** Exchange time, ms. */
  ts: number;
  /** The same in µs (for venues asked for microseconds). */
  tsMicros: number;
  /** The book's sequence id before and after the step; equal when the step changed nothing. */
  prevSeq: bigint;
  seq: bigint;
  /** Levels changed, best first, with their new size (the instrument's zero text when deleted). */
  bids: LevelText[];
  asks: LevelText[];
  trades: MarketTrade[];
  /** The best bid or ask (price or size) changed. */
  bboChanged: boolean;
}

export interface MarketBook {
  bids: LevelText[];
  asks: LevelText[];
  seq: bigint;
}

const MIN_LEVELS = 20;
const MAX_LEVELS = 400;
/** How far from the touch most activity happens (levels). */
const NEAR = 15;

class Instrument {
  readonly rng: SeededRandom;
  readonly bids = new MarketSide(true);
  readonly asks = new MarketSide(false);
  readonly tickUnits: number;
  readonly lotUnits: number;
  readonly typicalLots: number;
  seq: bigint;
  tradeId: bigint;

  constructor(
    readonly spec: InstrumentSpec,
    seed: number,
    levels: number,
    seqBase: bigint,
    tradeIdBase: bigint,
  ) {
    this.rng = new SeededRandom(seedOf(seed, spec.symbol));
    this.tickUnits = toUnits(spec.tick, spec.priceDecimals);
    this.lotUnits = toUnits(spec.lot, spec.sizeDecimals);
    this.typicalLots = Math.max(1, Math.round(toUnits(spec.size, spec.sizeDecimals) / this.lotUnits));
    this.seq = seqBase + BigInt(this.rng.int(0, 1e9));
    this.tradeId = tradeIdBase + BigInt(this.rng.int(0, 1e9));
    const start = Math.round(toUnits(spec.price, spec.priceDecimals) / this.tickUnits);
    let bid = start;
    let ask = start + 1;
    for (let i = 0; i < levels; i++) {
      if (bid >= 1) this.bids.set(bid, this.lots(), this.rng.int(1, 8));
      this.asks.set(ask, this.lots(), this.rng.int(1, 8));
      bid -= this.gap();
      ask += this.gap();
    }
  }

  /** A level size: log-normal around the typical size. */
  lots(): number {
    const x = Math.round(this.typicalLots * Math.exp(0.9 * this.rng.gauss()));
    return Math.min(Math.max(1, x), this.typicalLots * 50);
  }

  /** Ticks between neighbouring levels: mostly adjacent near a liquid touch. */
  gap(): number {
    return this.rng.chance(0.6) ? 1 : this.rng.int(2, 4);
  }

  price(tick: number): string {
    return formatUnits(tick * this.tickUnits, this.spec.priceDecimals);
  }

  size(lots: number): string {
    return lots === 0 ? this.spec.zero : formatUnits(lots * this.lotUnits, this.spec.sizeDecimals);
  }

  text(l: SimLevel): LevelText {
    return { price: this.price(l.tick), size: this.size(l.lots), orders: l.orders };
  }
}

export class Market {
  private readonly instruments = new Map<string, Instrument>();
  private readonly minLevels: number;
  private readonly maxLevels: number;

  constructor(specs: readonly InstrumentSpec[], options: MarketOptions) {
    const levels = Math.min(Math.max(options.levels ?? 50, MIN_LEVELS), MAX_LEVELS);
    this.minLevels = Math.max(MIN_LEVELS, Math.floor(levels * 0.75));
    this.maxLevels = Math.min(MAX_LEVELS, Math.ceil(levels * 1.5));
    for (const spec of specs) {
      this.instruments.set(
        spec.symbol,
        new Instrument(
          spec,
          options.seed,
          levels,
          options.seqBase ?? 1_000_000_000n,
          options.tradeIdBase ?? 100_000_000n,
        ),
      );
    }
  }

  get symbols(): string[] {
    return [...this.instruments.keys()];
  }

  has(symbol: string): boolean {
    return this.instruments.has(symbol);
  }

  /** One step of every symbol, at exchange time `nowMicros` (µs). */
  step(nowMicros: number): MarketTick[] {
    return [...this.instruments.values()].map((inst) => this.stepOne(inst, nowMicros));
  }

  /** A symbol's book now, best first (at most `depth` levels a side), and the sequence id it is at. */
  book(symbol: string, depth = MAX_LEVELS): MarketBook | undefined {
    const inst = this.instruments.get(symbol);
    if (inst === undefined) return undefined;
    const side = (s: MarketSide) => {
      const out: LevelText[] = [];
      for (let i = 0; i < Math.min(depth, s.length); i++) out.push(inst.text(s.at(i)!));
      return out;
    };
    return { bids: side(inst.bids), asks: side(inst.asks), seq: inst.seq };
  }

  private stepOne(inst: Instrument, nowMicros: number): MarketTick {
    const rng = inst.rng;
    const tick: MarketTick = {
      symbol: inst.spec.symbol,
      ts: Math.floor(nowMicros / 1000),
      tsMicros: nowMicros,
      prevSeq: inst.seq,
      seq: inst.seq,
      bids: [],
      asks: [],
      trades: [],
      bboChanged: false,
    };
    // Some steps change nothing (a venue sends a keep-alive, or nothing).
    if (rng.chance(0.06)) return tick;
    const before = touchOf(inst);
    const touched = { bid: new Set<number>(), ask: new Set<number>() };
    const set = (isBid: boolean, t: number, lots: number) => {
      (isBid ? inst.bids : inst.asks).set(t, lots, lots === 0 ? 0 : rng.int(1, 12));
      (isBid ? touched.bid : touched.ask).add(t);
    };
    const actions = rng.chance(0.5) ? 1 : rng.int(2, 5);
    for (let a = 0; a < actions; a++) {
      const r = rng.next();
      const isBid = rng.chance(0.5);
      const side = isBid ? inst.bids : inst.asks;
      if (r < 0.15) this.trade(inst, tick, set);
      else if (r < 0.5 || (r >= 0.78 && side.length <= this.minLevels)) {
        // A new size at a level near the touch.
        const level = side.at(Math.floor(rng.next() ** 2 * Math.min(NEAR, side.length)))!;
        set(isBid, level.tick, inst.lots());
      } else if (r < 0.78) this.add(inst, isBid, set);
      else {
        // A delete near the touch.
        const level = side.at(Math.floor(rng.next() ** 2 * Math.min(10, side.length)))!;
        set(isBid, level.tick, 0);
      }
      this.keepDepth(inst, set);
    }
    // Engine events that changed no level we show (an order in and out) still take sequence ids.
    inst.seq += BigInt(actions + tick.trades.length + rng.int(0, 2));
    tick.seq = inst.seq;
    tick.bids = changes(inst, inst.bids, touched.bid);
    tick.asks = changes(inst, inst.asks, touched.ask);
    const after = touchOf(inst);
    tick.bboChanged = before.some((v, i) => v !== after[i]);
    return tick;
  }

  /** A taker order at the touch: the trade, and the level it took from. */
  private trade(
    inst: Instrument,
    tick: MarketTick,
    set: (isBid: boolean, t: number, lots: number) => void,
  ): void {
    const rng = inst.rng;
    const buy = rng.chance(0.5);
    const level = (buy ? inst.asks : inst.bids).at(0)!;
    const lots = rng.chance(0.3)
      ? level.lots
      : Math.min(level.lots, Math.max(1, Math.round(inst.lots() / 3)));
    inst.tradeId += 1n;
    tick.trades.push({
      id: inst.tradeId,
      price: inst.price(level.tick),
      size: inst.size(lots),
      side: buy ? "buy" : "sell",
    });
    set(!buy, level.tick, level.lots - lots);
  }

  /** A new level: inside a wide spread, or at or behind the touch; never crossing the other side. */
  private add(
    inst: Instrument,
    isBid: boolean,
    set: (isBid: boolean, t: number, lots: number) => void,
  ): void {
    const rng = inst.rng;
    const bid = inst.bids.best()!;
    const ask = inst.asks.best()!;
    const spread = ask - bid;
    let t: number;
    if (spread > 1 && rng.chance(0.6)) {
      const inside = rng.int(1, spread - 1);
      t = isBid ? bid + inside : ask - inside;
    } else {
      const behind = Math.floor(rng.next() ** 2 * 20);
      t = isBid ? bid - behind : ask + behind;
    }
    if (t >= 1) set(isBid, t, inst.lots());
  }

  /** Keeps each side between the minimum and maximum depth: levels added behind the worst, the worst deleted. */
  private keepDepth(inst: Instrument, set: (isBid: boolean, t: number, lots: number) => void): void {
    for (const side of [inst.bids, inst.asks]) {
      while (side.length < this.minLevels) {
        const worst = side.worst()!;
        const t = side.isBid ? worst - inst.gap() : worst + inst.gap();
        if (t < 1) break;
        set(side.isBid, t, inst.lots());
      }
      while (side.length > this.maxLevels) set(side.isBid, side.worst()!, 0);
    }
  }
}

function touchOf(inst: Instrument): number[] {
  const b = inst.bids.at(0);
  const a = inst.asks.at(0);
  return [b?.tick ?? -1, b?.lots ?? 0, a?.tick ?? -1, a?.lots ?? 0];
}

function changes(inst: Instrument, side: MarketSide, ticks: Set<number>): LevelText[] {
  const sorted = [...ticks].sort((x, y) => (side.isBid ? y - x : x - y));
  return sorted.map((t) => {
    const l = side.get(t);
    return l === undefined ? { price: inst.price(t), size: inst.spec.zero, orders: 0 } : inst.text(l);
  });
}
