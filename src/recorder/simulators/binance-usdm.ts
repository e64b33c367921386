/**
 * A Binance USD-M futures simulator: the Binance spot simulator's streams and stream requests with the futures
 * messages (`pu` chain, `T` times, ids with holes between events) and REST `/fapi/v1/depth` (at most 1000 levels),
 * whose `lastUpdateId` is the `u` of the last event sent before it.
 */
import { type BinanceDialect, BinanceSimulator } from "./binance.js";
import type { SimulatorOptions } from "./simulator.js";

export const BINANCE_USDM_DIALECT: BinanceDialect = {
  venue: "binance-usdm",
  rest: "/fapi/v1",
  maxDepthLimit: 1000,
  futures: true,
  seqBase: 5_123_000_000_000n,
  tradeIdBase: 5_266_000_000n,
};

export class BinanceUsdmSimulator extends BinanceSimulator {
  constructor(options: SimulatorOptions) {
    super(options, BINANCE_USDM_DIALECT);
  }
}
