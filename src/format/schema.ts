/**
 * The columns of each record kind. A column id is stored with every column, so readers find columns by id,
 * skip ids they do not know (added by a later minor version) and reject blocks that lack a required one.
 */
import type { Kind } from "./records.js";

/** How a column's values are typed. `id` columns are integers or strings, chosen per block from the values. */
export type ColumnType = "int" | "decimal" | "u8" | "string" | "bytes" | "id";

export interface ColumnSpec {
  id: number;
  name: string;
  type: ColumnType;
  /** Absent values allowed (stored with a presence bitmap). */
  nullable: boolean;
  /**
   * Integer layout: deltas between neighbours (ordered values), the same with runs of repeated values (ordered
   * values shared by the rows of one message), or frame of reference (unordered values).
   */
  layout: "delta" | "runs" | "for";
}

const ts: ColumnSpec = { id: 1, name: "ts", type: "int", nullable: false, layout: "delta" };
const recvTs: ColumnSpec = { id: 2, name: "recvTs", type: "int", nullable: true, layout: "runs" };

export const SCHEMAS: Record<Kind, readonly ColumnSpec[]> = {
  trade: [
    ts,
    recvTs,
    { id: 10, name: "price", type: "decimal", nullable: false, layout: "delta" },
    { id: 11, name: "size", type: "decimal", nullable: false, layout: "for" },
    { id: 12, name: "side", type: "u8", nullable: false, layout: "for" },
    { id: 13, name: "tradeId", type: "id", nullable: true, layout: "delta" },
  ],
  book: [
    ts,
    recvTs,
    { id: 20, name: "side", type: "u8", nullable: false, layout: "for" },
    { id: 21, name: "price", type: "decimal", nullable: false, layout: "delta" },
    { id: 22, name: "size", type: "decimal", nullable: false, layout: "for" },
    { id: 23, name: "flags", type: "u8", nullable: false, layout: "for" },
    { id: 24, name: "seq", type: "int", nullable: true, layout: "runs" },
  ],
  bbo: [
    ts,
    recvTs,
    { id: 30, name: "bidPrice", type: "decimal", nullable: true, layout: "delta" },
    { id: 31, name: "bidSize", type: "decimal", nullable: true, layout: "for" },
    { id: 32, name: "askPrice", type: "decimal", nullable: true, layout: "delta" },
    { id: 33, name: "askSize", type: "decimal", nullable: true, layout: "for" },
  ],
  event: [
    ts,
    recvTs,
    { id: 40, name: "type", type: "u8", nullable: false, layout: "for" },
    { id: 41, name: "seqBefore", type: "int", nullable: true, layout: "delta" },
    { id: 42, name: "seqAfter", type: "int", nullable: true, layout: "delta" },
    { id: 43, name: "message", type: "string", nullable: false, layout: "for" },
  ],
  raw: [ts, recvTs, { id: 50, name: "data", type: "bytes", nullable: false, layout: "for" }],
};

/** Book row flag bits. */
export const BOOK_FLAG_SNAPSHOT = 1;

/**
 * Block kind id of order-book checkpoints (format 1.1). Not a record kind: record readers skip these blocks
 * (as v1.0 readers do); `readCheckpoint` decodes them. One block holds one symbol's book at one moment of the
 * file's book stream: its levels (one row each, bids then asks, best first) and, repeated on every row, where in
 * the stream it was taken (docs/FORMAT.md §6.5).
 */
export const CHECKPOINT_KIND_ID = 6;
export const CHECKPOINT_SCHEMA: readonly ColumnSpec[] = [
  ts,
  { id: 60, name: "side", type: "u8", nullable: false, layout: "for" },
  { id: 61, name: "price", type: "decimal", nullable: false, layout: "delta" },
  { id: 62, name: "size", type: "decimal", nullable: false, layout: "for" },
  { id: 63, name: "bookRows", type: "int", nullable: false, layout: "for" },
  { id: 64, name: "eventRows", type: "int", nullable: false, layout: "for" },
  { id: 65, name: "since", type: "int", nullable: false, layout: "for" },
  { id: 66, name: "lastChange", type: "int", nullable: false, layout: "for" },
];
