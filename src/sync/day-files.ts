/**
 * A day's files on the source file system (EFS): `<root>/<date>/<exchange>/*.tape` (sealed) and `*.tape.open`
 * (still written, or left by a crash), as BRIEF §4 lays them out.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { TapeError } from "../format/errors.js";
import { dateToNs, parseTapeName } from "../reader/layout.js";

export interface SourceFile {
  /** `<date>/<exchange>/<name>`: the object key below the destination prefix. */
  relative: string;
  path: string;
  size: number;
  mtimeMs: number;
}

export interface DayListing {
  date: string;
  sealed: SourceFile[];
  /** `.tape.open` files: a finished day must have none. */
  open: SourceFile[];
  /** Other entries of the day's exchange folders (not copied as data, reported). */
  other: string[];
}

/** Throws unless `date` is a real `YYYY-MM-DD` day. */
export function checkDate(date: string): string {
  if (dateToNs(date) === null) {
    throw new TapeError("E_TAPE_VALUE", `not a date (YYYY-MM-DD): ${JSON.stringify(date)}`, {
      field: "date",
    });
  }
  return date;
}

/** The day's files, in path order; an absent day folder is an empty listing. */
export async function listDay(root: string, date: string): Promise<DayListing> {
  checkDate(date);
  const listing: DayListing = { date, sealed: [], open: [], other: [] };
  const dayDir = join(root, date);
  for (const exchange of (await entries(dayDir)).sort()) {
    const dir = join(dayDir, exchange);
    for (const name of (await entries(dir)).sort()) {
      const relative = `${date}/${exchange}/${name}`;
      const parsed = parseTapeName(name);
      if (parsed === null || parsed.exchange !== exchange) {
        listing.other.push(relative);
        continue;
      }
      const path = join(dir, name);
      const s = await stat(path).catch((err: unknown) => {
        throw new TapeError("E_TAPE_IO", `cannot stat: ${(err as Error).message}`, {
          file: path,
          cause: err,
        });
      });
      (parsed.open ? listing.open : listing.sealed).push({
        relative,
        path,
        size: s.size,
        mtimeMs: s.mtimeMs,
      });
    }
  }
  return listing;
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new TapeError("E_TAPE_IO", `cannot list: ${(err as Error).message}`, { file: dir, cause: err });
  }
}
