/**
 * A day's files on the source file system (EFS): `<root>/<date>/<exchange>/*.tape` (sealed), `*.open` (still
 * written, or left by a crash), as BRIEF §4 lays them out, and anything else the day's folder holds.
 */
import type { Dirent } from "node:fs";
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
  /** Change time and inode: a file rewritten with its size and modification time restored still shows. */
  ctimeMs: number;
  ino: number;
}

export interface DayListing {
  date: string;
  sealed: SourceFile[];
  /** Files still being written, or left by a crash (any name ending in `.open`): a finished day must have none. */
  open: SourceFile[];
  /**
   * Other files of the day (a recorder's `NAME.tape.unreadable-K` kept for inspection, anything else): DataSync
   * copies them with the day, so their copies are checked too, but they are not tape files of the dataset.
   */
  other: SourceFile[];
  /** The day folder and its exchange folders, relative (`<date>/`, `<date>/<exchange>/`). */
  folders: string[];
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

/**
 * The day's files, in path order; an absent day folder is an empty listing, but a root that is not a folder (a
 * file system not mounted, a mistyped root) is `E_TAPE_IO`: it must not look like an empty day.
 */
export async function listDay(root: string, date: string): Promise<DayListing> {
  checkDate(date);
  const s = await stat(root).catch((err: unknown) => {
    throw new TapeError("E_TAPE_IO", `the root cannot be read: ${(err as Error).message}`, {
      file: root,
      cause: err,
    });
  });
  if (!s.isDirectory()) throw new TapeError("E_TAPE_IO", "the root is not a folder", { file: root });
  const listing: DayListing = { date, sealed: [], open: [], other: [], folders: [] };
  const dayDir = join(root, date);
  const add = async (relative: string, path: string, kind: "sealed" | "open" | "other") => {
    const s = await stat(path).catch((err: unknown) => {
      throw new TapeError("E_TAPE_IO", `cannot stat: ${(err as Error).message}`, { file: path, cause: err });
    });
    listing[kind].push({ relative, path, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino });
  };
  // Tape files are `<date>/<exchange>/<name>`; anything else, at any depth, is other (or open).
  const walk = async (dir: string, relative: string, exchange: string | null): Promise<void> => {
    listing.folders.push(`${relative}/`);
    for (const entry of (await entries(dir)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const name = entry.name;
      const path = join(dir, name);
      const rel = `${relative}/${name}`;
      if (entry.isDirectory()) {
        await walk(path, rel, exchange === null && relative === date ? name : null);
        continue;
      }
      const parsed = parseTapeName(name);
      const kind = name.endsWith(".open")
        ? "open"
        : exchange !== null && parsed !== null && parsed.exchange === exchange
          ? "sealed"
          : "other";
      await add(rel, path, kind);
    }
  };
  if ((await entries(dayDir)).length > 0) await walk(dayDir, date, null);
  return listing;
}

/** The entries of a folder with their types (no stat per entry: on EFS each costs a round trip). */
async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new TapeError("E_TAPE_IO", `cannot list: ${(err as Error).message}`, { file: dir, cause: err });
  }
}
