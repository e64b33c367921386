/**
 * Book checkpoints (format 1.1, docs/FORMAT.md §6.5): one symbol's order book at one moment of the file's book
 * stream, as the writer kept it. `decodeCheckpoint` turns a decoded checkpoint block into exact levels and the
 * position in the streams that it stands for.
 */
import type { DecodedBlock } from "./block.js";
import type { IntColumn, U8Column } from "./columns.js";
import { formatDecimal, toMantissa } from "./decimal.js";
import { TapeError } from "./errors.js";
import { BOOK_SIDES, type BookSide } from "./records.js";

export interface CheckpointLevel {
  side: BookSide;
  /** Canonical decimal text. */
  price: string;
  size: string;
}

export interface Checkpoint {
  symbol: string;
  /** Exchange time of the latest book or event row of the symbol before the checkpoint. */
  ts: bigint;
  /** Rows of the symbol's `book` stream in this file before the checkpoint. */
  bookRows: number;
  /** Rows of the symbol's `event` stream in this file before the checkpoint. */
  eventRows: number;
  /** Exchange time of the snapshot the book descends from. */
  since: bigint;
  /** Exchange time of the last row that changed the book. */
  lastChange: bigint;
  /** Bids then asks, best first. */
  levels: CheckpointLevel[];
  /** Where the block is in the file. */
  offset: number;
}

export function decodeCheckpoint(block: DecodedBlock): Checkpoint {
  const h = block.header;
  const fail = (message: string, field: string): never => {
    throw new TapeError("E_TAPE_CORRUPT", message, { offset: h.offset, field: `checkpoint.${field}` });
  };
  const int = (name: string) => block.columns[name] as IntColumn;
  /** A column that holds one value on every row. */
  const constant = (name: string): bigint => {
    const c = int(name);
    const first = c.offsets[0]!;
    for (let i = 1; i < h.rowCount; i++) if (c.offsets[i] !== first) fail("differs between rows", name);
    return c.base + BigInt(first);
  };
  const count = (name: string): number => {
    const v = constant(name);
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${v} is not a row count`, name);
    return Number(v);
  };
  // One time on every row; decodeBlock checked that the rows' time range is the header's minTs..maxTs.
  const ts = constant("ts");
  const sides = (block.columns["side"] as U8Column).values;
  const price = int("price");
  const size = int("size");
  const levels: CheckpointLevel[] = [];
  for (let i = 0; i < h.rowCount; i++) {
    const side = BOOK_SIDES[sides[i]!];
    if (side === undefined) fail(`side ${sides[i]} out of range in row ${i}`, "side");
    levels.push({
      side: side!,
      price: formatDecimal(toMantissa(price.base + BigInt(price.offsets[i]!)), price.scale),
      size: formatDecimal(toMantissa(size.base + BigInt(size.offsets[i]!)), size.scale),
    });
  }
  const since = constant("since");
  const lastChange = constant("lastChange");
  // A book said to descend from a later snapshot would pass every test of whether other files contradict it.
  if (since > ts) fail(`since ${since} is after the checkpoint's time ${ts}`, "since");
  if (lastChange > ts) fail(`lastChange ${lastChange} is after the checkpoint's time ${ts}`, "lastChange");
  // Times, as every timestamp of the format (§7.1): not before the epoch.
  if (since < 0n) fail(`since ${since} is before 1970`, "since");
  if (lastChange < 0n) fail(`lastChange ${lastChange} is before 1970`, "lastChange");
  return {
    symbol: h.symbol,
    ts,
    bookRows: count("bookRows"),
    eventRows: count("eventRows"),
    since,
    lastChange,
    levels,
    offset: h.offset,
  };
}
