/**
 * The dataset layout (docs/REPLAY.md): `<root>/<YYYY-MM-DD>/<exchange>/<exchange>-<YYYY-MM-DD>T<HH>.<capture>.tape`,
 * UTC, one file per exchange, hour and capture; `.tape.open` while it is being written.
 */

export const HOUR_NS = 3_600_000_000_000n;
export const DAY_NS = 24n * HOUR_NS;

/** What a file name says about its contents. */
export interface TapeName {
  exchange: string;
  /** Start of the hour the file covers, ns since the epoch. */
  hour: bigint;
  captureId: string;
  /** True for a `.tape.open` file (being written, or left by a crash). */
  open: boolean;
}

// Exchange ids and capture ids: letters, digits, '-' and '_' (no '.', which separates the parts).
const NAME =
  /^([a-z0-9][a-z0-9_-]*)-(\d{4}-\d{2}-\d{2})T(\d{2})\.([A-Za-z0-9][A-Za-z0-9_-]*)\.tape(\.open)?$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** The longest capture id: file names stay well below the 255 bytes a file system allows (a host name has ≤ 63). */
export const MAX_CAPTURE_ID_LENGTH = 100;

/** What is wrong with a capture id, or null when it can be part of file names. */
export function captureIdProblem(captureId: string): string | null {
  if (!ID.test(captureId)) return "use letters, digits, - and _ (it is part of file names)";
  if (captureId.length > MAX_CAPTURE_ID_LENGTH)
    return `${captureId.length} characters: at most ${MAX_CAPTURE_ID_LENGTH} (it is part of file names)`;
  return null;
}

/** Parses a file name of the layout; null when the name does not follow it. */
export function parseTapeName(name: string): TapeName | null {
  const m = NAME.exec(name);
  if (m === null) return null;
  const [, exchange, date, hh, captureId, open] = m;
  const day = dateToNs(date!);
  const h = Number(hh);
  if (day === null || h > 23) return null;
  return {
    exchange: exchange!,
    hour: day + BigInt(h) * HOUR_NS,
    captureId: captureId!,
    open: open !== undefined,
  };
}

/** The file name of an exchange's hour (sealed form). */
export function tapeName(exchange: string, hour: bigint, captureId: string): string {
  if (!ID.test(exchange) || exchange !== exchange.toLowerCase())
    throw new RangeError(`exchange id ${JSON.stringify(exchange)}: use lower-case letters, digits, - and _`);
  const problem = captureIdProblem(captureId);
  if (problem !== null)
    throw new RangeError(`capture id ${JSON.stringify(captureId.slice(0, 120))}: ${problem}`);
  const iso = new Date(Number(floorTo(hour, HOUR_NS) / 1_000_000n)).toISOString();
  return `${exchange}-${iso.slice(0, 10)}T${iso.slice(11, 13)}.${captureId}.tape`;
}

/** The path of a file relative to the dataset root: `<date>/<exchange>/<name>`. */
export function tapeRelativePath(exchange: string, hour: bigint, captureId: string): string {
  return `${dayFolder(hour)}/${exchange}/${tapeName(exchange, hour, captureId)}`;
}

/** Start of the UTC hour holding `ns`. */
export function hourOf(ns: bigint): bigint {
  return floorTo(ns, HOUR_NS);
}

/** `YYYY-MM-DD` of the UTC day holding `ns`. */
export function dayFolder(ns: bigint): string {
  return new Date(Number(floorTo(ns, DAY_NS) / 1_000_000n)).toISOString().slice(0, 10);
}

/** The day folders from the day of `from` to the day of `to - 1` (inclusive), in order. */
export function dayFoldersBetween(from: bigint, to: bigint): string[] {
  const out: string[] = [];
  for (let d = floorTo(from, DAY_NS); d < to; d += DAY_NS) out.push(dayFolder(d));
  return out;
}

/** ns at the start of a `YYYY-MM-DD` day, or null when it is not a real date. */
export function dateToNs(date: string): bigint | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  const ms = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) return null;
  return BigInt(ms) * 1_000_000n;
}

function floorTo(ns: bigint, unit: bigint): bigint {
  const r = ns % unit;
  return r < 0n ? ns - r - unit : ns - r;
}
