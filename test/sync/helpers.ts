/** A day of small tape files on a local "EFS" root, for the sync tests. */
import { readFile, writeFile } from "node:fs/promises";
import type { TapeRecord } from "../../src/index.js";
import { DAY0, type FileSpec, HOUR, writeDataset } from "../reader/helpers.js";

/** 2024-08-08 */
export const DATE = "2024-08-08";

/** `hours` hourly files for each exchange, with trades, book updates and a gap event, a few KB each. */
export function daySpecs(exchanges: readonly string[], hours: number, seed = 1): FileSpec[] {
  const specs: FileSpec[] = [];
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  for (const exchange of exchanges) {
    for (let h = 0; h < hours; h++) {
      const hour = DAY0 + BigInt(h) * HOUR;
      const records: TapeRecord[] = [];
      for (let i = 0; i < 2000; i++) {
        const ts = hour + BigInt(i) * 1_000_000_000n + BigInt(Math.floor(random() * 1e6));
        const price = `${60000 + Math.floor(random() * 100)}.${Math.floor(random() * 100)}`;
        records.push(
          i % 2 === 0
            ? {
                kind: "trade",
                symbol: "BTC-USDT",
                ts,
                price,
                size: `0.${Math.floor(random() * 1e6)}`,
                side: "buy",
              }
            : {
                kind: "book",
                symbol: "BTC-USDT",
                ts,
                side: "bid",
                price,
                size: "1.5",
                snapshot: false,
                seq: BigInt(i),
              },
        );
      }
      records.push({
        kind: "event",
        symbol: "BTC-USDT",
        ts: hour + 1_500_000_000_000n,
        type: "gap",
        seqBefore: 10n,
        seqAfter: 20n,
        message: "sequence gap",
      });
      records.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
      specs.push({ exchange, hour, captureId: "pod-a", records, policy: { maxRows: 500 } });
    }
  }
  return specs;
}

export async function writeDay(root: string, exchanges: readonly string[], hours: number): Promise<string[]> {
  return writeDataset(root, daySpecs(exchanges, hours));
}

/** Flips one byte of a local file. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  await writeFile(path, bytes);
}
