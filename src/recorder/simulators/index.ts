/** Exchange simulators: real servers on 127.0.0.1 that speak a venue's protocol, for tests and local runs. */
import type { VenueId } from "../connectors/index.js";
import type { FeedConfig } from "../live-feed.js";
import { BinanceSimulator } from "./binance.js";
import { BinanceUsdmSimulator } from "./binance-usdm.js";
import { OkxSimulator } from "./okx.js";
import type { Simulator, SimulatorOptions } from "./simulator.js";

export {
  FAULT_KINDS,
  type FaultKind,
  type FaultRequest,
  type InjectedFault,
  isFaultKind,
  parseFault,
  type ScheduledFault,
} from "./faults.js";
export { DEFAULT_SYMBOLS, type InstrumentSpec, instrumentOf } from "./instruments.js";
export {
  type LevelText,
  Market,
  type MarketBook,
  type MarketOptions,
  type MarketTick,
  type MarketTrade,
} from "./market.js";
export type { SimBook, Simulator, SimulatorOptions, SimulatorStats } from "./simulator.js";

/** A recorder feed of everything a simulator serves (trades, books, BBO, raw frames), as a demo or a test records it. */
export function feedOfSimulator(s: Simulator, stallMs: number): FeedConfig {
  return {
    venue: s.venue,
    symbols: [...s.symbols],
    trades: true,
    book: true,
    bbo: true,
    raw: true,
    urls: s.urls,
    stallMs,
    maxConnectionAgeMs: 0,
  };
}

/** The simulator of each venue. */
const SIMULATORS: Record<
  VenueId,
  (options: SimulatorOptions) => Simulator & { start(): Promise<Simulator> }
> = {
  binance: (o) => new BinanceSimulator(o),
  "binance-usdm": (o) => new BinanceUsdmSimulator(o),
  okx: (o) => new OkxSimulator(o),
};

/** Starts a simulator of `venue` and resolves once it listens. */
export async function startSimulator(venue: VenueId, options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = SIMULATORS[venue](options);
  try {
    return await sim.start();
  } catch (err) {
    await sim.close();
    throw err;
  }
}
