/**
 * What an earlier process of this capture left unsealed: `.tape.open` files and parts of hours (found in the day
 * folders of the last two days, without walking the dataset), and the temporary files of a seal that was cut off.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { DAY_NS, dayFolder, HOUR_NS, parseTapeName } from "../reader/layout.js";

export interface Leftover {
  hour: bigint;
  /** The final path of the hour's file. */
  path: string;
}

const PART = /^(.+)\.part\d+\.tape\.open$/;
const REBLOCK_TEMP = /^\..+\.reblock\.tape(\.open)?$/;

export async function findLeftovers(
  root: string,
  exchange: string,
  captureId: string,
  nowNs: bigint,
): Promise<Leftover[]> {
  const found = new Map<bigint, string>();
  for (const day of [dayFolder(nowNs - DAY_NS), dayFolder(nowNs)]) {
    const dir = join(root, day, exchange);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (REBLOCK_TEMP.test(name)) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      const part = PART.exec(name);
      const parsed = parseTapeName(part === null ? name : `${part[1]}.tape.open`);
      if (parsed === null || !parsed.open || parsed.exchange !== exchange || parsed.captureId !== captureId)
        continue;
      found.set(parsed.hour, join(dir, part === null ? name.slice(0, -".open".length) : `${part[1]}.tape`));
    }
  }
  return [...found.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([hour, path]) => ({ hour, path }));
}

export const isPast = (hour: bigint, nowNs: bigint) => nowNs >= hour + HOUR_NS;
