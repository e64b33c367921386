/** Exchange simulators: real servers on 127.0.0.1 that speak a venue's protocol, for tests and local runs. */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { VenueId } from "../connectors/index.js";
import type { FeedConfig } from "../live-feed.js";
import { modulesExporting } from "../venue-modules.js";
import type { InstrumentSpec } from "./instruments.js";
import type { Simulator, SimulatorEntry, SimulatorOptions } from "./simulator.js";

export {
  FAULT_KINDS,
  type FaultKind,
  type FaultRequest,
  type InjectedFault,
  isFaultKind,
  parseFault,
  type ScheduledFault,
} from "./faults.js";
export type { InstrumentRow, InstrumentSpec } from "./instruments.js";
export {
  type LevelText,
  Market,
  type MarketBook,
  type MarketOptions,
  type MarketTick,
  type MarketTrade,
} from "./market.js";
export type {
  SimBook,
  Simulator,
  SimulatorEntry,
  SimulatorOptions,
  SimulatorStats,
  VenueMarket,
} from "./simulator.js";

/** Every module of this folder that exports a `SIMULATOR` entry, by venue: adding a venue is adding its file. */
const SIMULATORS: ReadonlyMap<VenueId, SimulatorEntry> = new Map(
  (await modulesExporting<SimulatorEntry>(dirname(fileURLToPath(import.meta.url)), "SIMULATOR")).map((e) => [
    e.venue,
    e,
  ]),
);

/** The simulator of a venue (every venue has one). */
export function simulatorEntry(venue: VenueId): SimulatorEntry {
  const entry = SIMULATORS.get(venue);
  if (entry === undefined) throw new Error(`no simulator of venue ${venue}`);
  return entry;
}

/** The instrument a venue's simulator lists as `symbol`. */
export function instrumentOf(venue: VenueId, symbol: string): InstrumentSpec {
  return simulatorEntry(venue).instrument(symbol);
}

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

/** Starts a simulator of `venue` and resolves once it listens. */
export async function startSimulator(venue: VenueId, options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = simulatorEntry(venue).create(options);
  try {
    return await sim.start();
  } catch (err) {
    await sim.close();
    throw err;
  }
}
