/**
 * The benchmark's input, in a neutral columnar shape that every writer (ticktape and its peers) starts from.
 * Prices and sizes are exact decimals: an integer mantissa (a safe integer held in a float64) and a
 * per-symbol decimal scale, so `value = mantissa / 10 ** scale`.
 */
export interface SymbolInfo {
  name: string;
  priceScale: number;
  sizeScale: number;
}

export interface TradeTable {
  count: number;
  /** Index into `Workload.symbols`. */
  symbol: Uint16Array;
  /** Exchange timestamp, ns since the epoch. */
  ts: BigInt64Array;
  /** Local receive timestamp, ns since the epoch; null when the source has none. */
  recvTs: BigInt64Array | null;
  priceMantissa: Float64Array;
  sizeMantissa: Float64Array;
  /** 1 = buy (taker bought), 2 = sell, 0 = unknown. */
  side: Uint8Array;
  tradeId: Float64Array;
}

export interface BookTable {
  count: number;
  symbol: Uint16Array;
  ts: BigInt64Array;
  recvTs: BigInt64Array | null;
  /** 0 = bid, 1 = ask. */
  side: Uint8Array;
  priceMantissa: Float64Array;
  /** 0 deletes the level. */
  sizeMantissa: Float64Array;
  /** 1 for rows of a snapshot. */
  snapshot: Uint8Array;
  /** Exchange sequence id of the update; -1 when the source has none. */
  seq: Float64Array;
}

export interface Workload {
  label: string;
  symbols: SymbolInfo[];
  trades: TradeTable;
  book: BookTable;
}

/** Renders a mantissa at a scale as the canonical decimal string (no trailing zeros). */
export function mantissaToString(mantissa: number, scale: number): string {
  if (scale === 0) return String(mantissa);
  const negative = mantissa < 0;
  const digits = String(Math.abs(mantissa)).padStart(scale + 1, "0");
  const intPart = digits.slice(0, digits.length - scale);
  const fracPart = digits.slice(digits.length - scale).replace(/0+$/, "");
  const text = fracPart.length > 0 ? `${intPart}.${fracPart}` : intPart;
  return negative ? `-${text}` : text;
}
