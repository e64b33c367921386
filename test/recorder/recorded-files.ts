/** What tests of the live recorder read back from its files: the files, their records, the books they hold. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { datasetOfFiles, OrderBook, type TapeRecord } from "../../src/index.js";
import type { SimBook } from "../../src/recorder/simulators/index.js";

export async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && /\.tape(\.open)?$/.test(e.name)) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

export async function records(paths: string[]): Promise<TapeRecord[]> {
  const out: TapeRecord[] = [];
  for await (const r of datasetOfFiles(paths).replay({ exact: true })) out.push(r as TapeRecord);
  return out;
}

/**
 * The book of `symbol` rebuilt from the files by the reader's `OrderBook` (what a user would do), as it stood when
 * the recorder stopped: up to the loss the stop itself states.
 */
export async function rebuild(
  paths: string[],
  symbol: string,
): Promise<{ bids: number[][]; asks: number[][]; valid: boolean }> {
  const book = new OrderBook(symbol);
  for await (const row of datasetOfFiles(paths).replay({ symbols: [symbol, ""], kinds: ["book", "event"] })) {
    const stop = row.kind === "event" && row.symbol === symbol && row.message.endsWith("recorder stopping");
    if (stop) break;
    book.apply(row);
  }
  const { bids, asks } = book.top(1e9);
  return {
    bids: bids.map((l) => [l.price, l.size]),
    asks: asks.map((l) => [l.price, l.size]),
    valid: book.valid,
  };
}

export const numeric = (b: SimBook) => ({
  bids: b.bids.map((l) => [Number(l.price), Number(l.size)]),
  asks: b.asks.map((l) => [Number(l.price), Number(l.size)]),
  valid: true,
});
