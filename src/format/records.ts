/**
 * The record kinds of format v1, in three shapes:
 * - `TapeRecord`: exact values (bigint ns timestamps, canonical decimal strings); what `readRecords` returns and
 *   what a writer stores without loss;
 * - `RecordInput`: what `TapeWriter.append` accepts (the exact shape, plus decimals as numbers and timestamps as
 *   safe-integer numbers, for convenience);
 * - `Row`: fast row objects with plain `number` fields (timestamps as ns since the epoch, prices and sizes as the
 *   nearest double); `null` where a value is absent.
 */

export const KINDS = ["trade", "book", "bbo", "event", "raw"] as const;
export type Kind = (typeof KINDS)[number];
/** Kind ids as stored in block headers. */
export const KIND_ID: Record<Kind, number> = { trade: 1, book: 2, bbo: 3, event: 4, raw: 5 };
export const KIND_BY_ID: ReadonlyMap<number, Kind> = new Map(KINDS.map((k) => [KIND_ID[k], k]));

/** Aggressor (taker) side of a trade. Stored as 0 unknown, 1 buy, 2 sell. */
export const TRADE_SIDES = ["unknown", "buy", "sell"] as const;
export type TradeSide = (typeof TRADE_SIDES)[number];
/** Side of a book level. Stored as 0 bid, 1 ask. */
export const BOOK_SIDES = ["bid", "ask"] as const;
export type BookSide = (typeof BOOK_SIDES)[number];
/**
 * Event types, stored as their index; never renumbered. A reader rejects an index it does not know, so a new
 * type is a format change (docs/FORMAT.md, versioning).
 */
export const EVENT_TYPES = [
  "info",
  "connect",
  "disconnect",
  "gap",
  "resync",
  "checksum_failure",
  "stall",
  "crossed_book",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

interface ExactBase {
  symbol: string;
  /** Exchange timestamp, ns since the Unix epoch (UTC). */
  ts: bigint;
  /** Local receive timestamp, ns since the Unix epoch; absent when unknown. */
  recvTs?: bigint;
}
export interface TradeRecord extends ExactBase {
  kind: "trade";
  price: string;
  size: string;
  side: TradeSide;
  tradeId?: string;
}
export interface BookRecord extends ExactBase {
  kind: "book";
  side: BookSide;
  price: string;
  /** New total size at the price; "0" deletes the level. */
  size: string;
  /** True for rows of a snapshot (a snapshot replaces the book). */
  snapshot: boolean;
  /** The exchange's sequence id of the update this row belongs to. */
  seq?: bigint;
}
export interface BboRecord extends ExactBase {
  kind: "bbo";
  bidPrice?: string;
  bidSize?: string;
  askPrice?: string;
  askSize?: string;
}
export interface EventRecord extends ExactBase {
  kind: "event";
  type: EventType;
  /** Last good sequence id before the event (e.g. before a gap). */
  seqBefore?: bigint;
  /** First sequence id after the event. */
  seqAfter?: bigint;
  message: string;
}
export interface RawRecord extends ExactBase {
  kind: "raw";
  /** The message bytes exactly as received. */
  data: Uint8Array;
}
export type TapeRecord = TradeRecord | BookRecord | BboRecord | EventRecord | RawRecord;

export type TimestampInput = bigint | number | string;
export type DecimalInput = string | number;
type Loosen<T> = {
  [K in keyof T]: T[K] extends bigint | undefined
    ? TimestampInput | Exclude<T[K], bigint>
    : K extends "price" | "size" | "bidPrice" | "bidSize" | "askPrice" | "askSize"
      ? DecimalInput | Exclude<T[K], string>
      : T[K];
};
export type RecordInput =
  | Loosen<TradeRecord>
  | Loosen<BookRecord>
  | Loosen<BboRecord>
  | Loosen<EventRecord>
  | Loosen<RawRecord>;

interface RowBase {
  /** The exchange of the file the row comes from (its header's `exchange`). */
  exchange: string;
  symbol: string;
  /** Exchange timestamp, ns since the epoch, as the nearest double (exact values: `readRecords`). */
  ts: number;
  recvTs: number | null;
}
export interface TradeRow extends RowBase {
  kind: "trade";
  price: number;
  size: number;
  side: TradeSide;
  /** A number when the block stores integer ids, else the id string. */
  tradeId: number | string | null;
}
export interface BookRow extends RowBase {
  kind: "book";
  side: BookSide;
  price: number;
  size: number;
  snapshot: boolean;
  seq: number | null;
}
export interface BboRow extends RowBase {
  kind: "bbo";
  bidPrice: number | null;
  bidSize: number | null;
  askPrice: number | null;
  askSize: number | null;
}
export interface EventRow extends RowBase {
  kind: "event";
  type: EventType;
  seqBefore: number | null;
  seqAfter: number | null;
  message: string;
}
export interface RawRow extends RowBase {
  kind: "raw";
  data: Uint8Array;
}
export type Row = TradeRow | BookRow | BboRow | EventRow | RawRow;
