/**
 * The instruments a simulator trades: start price, tick size, lot size and the decimals the venue prints, close to
 * the real ones so that connectors meet the strings they meet in production. Each simulator holds its venue's table.
 */

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

/** One instrument of a venue's table. */
export type InstrumentRow = [
  symbol: string,
  price: string,
  tick: string,
  lot: string,
  size: string,
  priceDecimals: number,
  sizeDecimals: number,
];

/**
 * The spec of `symbol` from a venue's table; a symbol not in it gets a plain 100 instrument with the venue's
 * `fallback` decimals. `zero` is how the venue prints a deleted level's size, given the size decimals.
 */
export function instrumentFrom(
  rows: readonly InstrumentRow[],
  symbol: string,
  zero: (sizeDecimals: number) => string,
  fallback: { priceDecimals: number; sizeDecimals: number } = { priceDecimals: 2, sizeDecimals: 3 },
): InstrumentSpec {
  const [, price, tick, lot, size, priceDecimals, sizeDecimals] = rows.find((r) => r[0] === symbol) ?? [
    symbol,
    "100",
    "0.01",
    "0.001",
    "10",
    fallback.priceDecimals,
    fallback.sizeDecimals,
  ];
  return { symbol, price, tick, lot, size, priceDecimals, sizeDecimals, zero: zero(sizeDecimals) };
}
