/** Records for tests of the recorder's files: an hour (2026-11-27T10 UTC) and trades received in it. */
import type { RecordInput } from "../../src/index.js";

export const HOUR = 3_600_000_000_000n;
/** 2026-11-27T10:00:00Z, ns. */
export const H10 = 1_795_773_600_000_000_000n;

/** Trade `i` (its id), received at `recv`, made 1 µs before. */
export function trade(i: number, recv: bigint, symbol = "BTCUSDT"): RecordInput {
  return {
    kind: "trade",
    symbol,
    ts: recv - 1000n,
    recvTs: recv,
    price: `${100 + (i % 7)}.5`,
    size: "1",
    side: "buy",
    tradeId: `${i}`,
  };
}
