/**
 * A Binance USD-M futures simulator: the Binance spot simulator's streams and stream requests with the futures
 * messages (`pu` chain, `T` times, ids with holes between events) and REST `/fapi/v1/depth` (at most 1000 levels),
 * whose `lastUpdateId` is the `u` of the last event sent before it.
 */
import { type BinanceDialect, BinanceSimulator } from "./binance.js";
import { type InstrumentRow, instrumentFrom } from "./instruments.js";
import type { SimulatorEntry, SimulatorOptions } from "./simulator.js";

// USD-M prints each contract's own precision, deletes included ("0.000").
const INSTRUMENTS: InstrumentRow[] = [
  ["BTCUSDT", "61800.20", "0.10", "0.001", "0.6", 2, 3],
  ["ETHUSDT", "2650.12", "0.01", "0.001", "9", 2, 3],
  ["SOLUSDT", "143.270", "0.010", "1", "40", 3, 0],
  ["XRPUSDT", "0.5712", "0.0001", "0.1", "2500", 4, 1],
];

export const BINANCE_USDM_DIALECT: BinanceDialect = {
  venue: "binance-usdm",
  defaultSymbols: ["BTCUSDT", "ETHUSDT"],
  instrument: (symbol) => instrumentFrom(INSTRUMENTS, symbol, (d) => (0).toFixed(d)),
  seqBase: 5_123_000_000_000n,
  tradeIdBase: 5_266_000_000n,
  rest: "/fapi/v1",
  maxDepthLimit: 1000,
  futures: true,
};

export class BinanceUsdmSimulator extends BinanceSimulator {
  constructor(options: SimulatorOptions) {
    super(options, BINANCE_USDM_DIALECT);
  }
}

export const SIMULATOR: SimulatorEntry = {
  ...BINANCE_USDM_DIALECT,
  create: (options) => new BinanceUsdmSimulator(options),
};
