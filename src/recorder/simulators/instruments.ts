/**
 * The instruments a simulator trades: start price, tick size, lot size and the decimals each venue prints, close
 * to the real ones so that connectors meet the strings they meet in production (Binance spot pads to 8 decimals,
 * OKX prints the instrument's own precision). A symbol not in the tables gets a plain 100.00 instrument.
 */
import type { VenueId } from "../connectors/index.js";

export interface InstrumentSpec {
  symbol: string;
  /** Best bid at the start. */
  price: string;
  tick: string;
  lot: string;
  /** Decimals the venue prints for prices and sizes (fixed: every string of the instrument has them). */
  priceDecimals: number;
  sizeDecimals: number;
  /** A typical level size. */
  size: string;
  /** The size text of a deleted level. */
  zero: string;
}

type Row = [symbol: string, price: string, tick: string, lot: string, size: string];

// Binance spot prints every price and size with 8 decimals, deletes included ("0.00000000").
const BINANCE: Row[] = [
  ["BTCUSDT", "61837.63", "0.01", "0.00001", "0.05"],
  ["ETHUSDT", "2650.12", "0.01", "0.0001", "0.8"],
  ["SOLUSDT", "143.27", "0.01", "0.001", "12"],
  ["BNBUSDT", "512.3", "0.01", "0.001", "2.5"],
  ["XRPUSDT", "0.5712", "0.0001", "1", "900"],
];

// Binance USD-M prints the instrument's own precision, deletes included ("0.000").
const BINANCE_USDM: [...Row, priceDecimals: number, sizeDecimals: number][] = [
  ["BTCUSDT", "61800.20", "0.10", "0.001", "0.6", 2, 3],
  ["ETHUSDT", "2650.12", "0.01", "0.001", "9", 2, 3],
  ["SOLUSDT", "143.270", "0.010", "1", "40", 3, 0],
  ["XRPUSDT", "0.5712", "0.0001", "0.1", "2500", 4, 1],
];

// OKX prints the instrument's tick and lot precision and deletes as "0"; swaps count contracts.
const OKX: [...Row, priceDecimals: number, sizeDecimals: number][] = [
  ["BTC-USDT", "30316.1", "0.1", "0.00000001", "0.12", 1, 8],
  ["ETH-USDT", "2050.37", "0.01", "0.000001", "1.5", 2, 6],
  ["SOL-USDT", "143.27", "0.01", "0.000001", "20", 2, 6],
  ["BTC-USDT-SWAP", "30314.6", "0.1", "1", "40", 1, 0],
  ["ETH-USDT-SWAP", "2050.36", "0.01", "1", "60", 2, 0],
];

export const DEFAULT_SYMBOLS: Record<VenueId, readonly string[]> = {
  binance: ["BTCUSDT", "ETHUSDT"],
  "binance-usdm": ["BTCUSDT", "ETHUSDT"],
  okx: ["BTC-USDT", "ETH-USDT"],
};

export function instrumentOf(venue: VenueId, symbol: string): InstrumentSpec {
  if (venue === "binance") {
    const [, price, tick, lot, size] = BINANCE.find((r) => r[0] === symbol) ?? [
      symbol,
      "100",
      "0.01",
      "0.001",
      "10",
    ];
    return { symbol, price, tick, lot, size, priceDecimals: 8, sizeDecimals: 8, zero: "0.00000000" };
  }
  const table = venue === "binance-usdm" ? BINANCE_USDM : OKX;
  const [, price, tick, lot, size, priceDecimals, sizeDecimals] = table.find((r) => r[0] === symbol) ?? [
    symbol,
    "100",
    "0.01",
    "0.001",
    "10",
    2,
    3,
  ];
  const zero = venue === "binance-usdm" ? (0).toFixed(sizeDecimals) : "0";
  return { symbol, price, tick, lot, size, priceDecimals, sizeDecimals, zero };
}
