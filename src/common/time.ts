/** Nanosecond timestamps: parsing command-line times and printing them as ISO 8601 with nanoseconds. */

const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

export class TimeParseError extends Error {
  readonly code = "E_TIME_PARSE";
  constructor(text: string, why?: string) {
    super(
      why === undefined
        ? `cannot read ${JSON.stringify(text)} as a time: use ISO 8601 (2024-11-25T14:37:05.123Z, a date, or no zone = UTC) or integer ns since the epoch`
        : `${JSON.stringify(text)} is ${why}`,
    );
  }
}

/** The times a `.tape` file holds: ns since the epoch in [0, 2^63 − 1] (docs/FORMAT.md §7.1). */
const LATEST_NS = 2n ** 63n - 1n;

function inRange(ns: bigint, text: string): bigint {
  if (ns < 0n || ns > LATEST_NS)
    throw new TimeParseError(
      text,
      "outside the times a tape holds (1970-01-01 to 2262-04-11T23:47:16.854775807Z)",
    );
  return ns;
}

/** ISO 8601 (UTC unless a zone is given, up to 9 fractional digits) or an integer of ns since the epoch. */
export function parseTime(text: string): bigint {
  const t = text.trim();
  if (/^\d{1,19}$/.test(t)) return inRange(BigInt(t), text);
  const m = ISO.exec(t);
  if (m === null) throw new TimeParseError(text);
  const [, date, hh = "00", mm = "00", ss = "00", frac = "", zone = "Z"] = m;
  // Date.parse rolls a day that does not exist (2025-02-30) into the next month, and 24:00 into the next day.
  if (new Date(Date.parse(`${date}T00:00:00Z`) || 0).toISOString().slice(0, 10) !== date || Number(hh) > 23)
    throw new TimeParseError(text);
  const ms = Date.parse(
    `${date}T${hh}:${mm}:${ss}${zone === "Z" ? "Z" : zone.replace(/^([+-]\d{2}):?(\d{2})$/, "$1:$2")}`,
  );
  if (Number.isNaN(ms)) throw new TimeParseError(text);
  return inRange(BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, "0")), text);
}

/** ISO 8601 UTC with all nine fractional digits. */
export function formatTime(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const sub = ns % 1_000_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // 2024-11-25T14:37:05.123Z
  return `${iso.slice(0, 19)}.${sub.toString().padStart(9, "0")}Z`;
}
