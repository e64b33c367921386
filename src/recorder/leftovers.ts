/**
 * What an earlier process of this capture left unsealed: `.tape.open` files and parts of hours, in every day
 * folder of the venue (one listing of the root, then one of each day's venue folder: no walk of the dataset), and
 * the temporary files of a seal of this capture that was cut off.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { HOUR_NS, parseTapeName } from "../reader/layout.js";

export interface Leftover {
  hour: bigint;
  /** The final path of the hour's file. */
  path: string;
}

const PART = /^(.+)\.part\d+\.tape\.open$/;
const REBLOCK_TEMP = /^\.(.+\.tape)\.reblock\.tape(\.open)?$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A folder that is not there holds nothing; any other failure to list one (EIO, EMFILE, EACCES) must not read as
 * "nothing left": the root's throws, a day's is told to `onUnlisted` (its unsealed hours stay for a later start),
 * and the other days are looked at.
 */
export async function findLeftovers(
  root: string,
  exchange: string,
  captureId: string,
  onUnlisted: (dir: string, error: unknown) => void = (_dir, error) => {
    throw error;
  },
): Promise<Leftover[]> {
  const found = new Map<bigint, string>();
  const absent = (err: unknown) => ["ENOENT", "ENOTDIR"].includes((err as NodeJS.ErrnoException).code ?? "");
  let days: string[];
  try {
    days = (await readdir(root)).filter((d) => DAY.test(d));
  } catch (err) {
    if (absent(err)) return [];
    throw err;
  }
  for (const day of days) {
    const dir = join(root, day, exchange);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (!absent(err)) onUnlisted(dir, err);
      continue;
    }
    for (const name of names) {
      const temp = REBLOCK_TEMP.exec(name);
      if (temp !== null) {
        // Only this capture's: another recorder of the same feeds may be sealing its own hour right now.
        const of = parseTapeName(temp[1]!);
        if (of !== null && of.exchange === exchange && of.captureId === captureId)
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
