/**
 * Typed access to the fields of a parsed exchange message. A missing field or a value of the wrong type throws
 * TapeError `E_TAPE_FRAME` naming the field, so a connector states what it expects in one line per field and a
 * venue sending garbage gets a clear error instead of `undefined` flowing into the book.
 */
import { parseTime } from "../common/time.js";
import { TapeError } from "../format/errors.js";
import type { LevelChange } from "./book-feed.js";
import { isObject, JsonNumber, type JsonObject, type JsonValue } from "./json-text.js";

const DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

export function frameError(field: string, message: string): TapeError {
  return new TapeError("E_TAPE_FRAME", message, { field });
}

function describe(v: JsonValue | undefined): string {
  if (v === undefined) return "missing";
  if (v instanceof JsonNumber) return `the number ${v.text}`;
  if (typeof v === "number") return `the number ${v}`;
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}

/** The text of a value that may be a number: a string as it is, a number as its digits; null for anything else. */
function numberText(v: JsonValue | undefined): string | null {
  if (typeof v === "string") return v;
  if (v instanceof JsonNumber) return v.text;
  return typeof v === "number" ? String(v) : null;
}

export function objectOf(v: JsonValue | undefined, field: string): JsonObject {
  if (!isObject(v)) throw frameError(field, `expected an object, got ${describe(v)}`);
  return v;
}

export function arrayOf(v: JsonValue | undefined, field: string): JsonValue[] {
  if (!Array.isArray(v)) throw frameError(field, `expected an array, got ${describe(v)}`);
  return v;
}

export function stringOf(v: JsonValue | undefined, field: string): string {
  if (typeof v !== "string") throw frameError(field, `expected a string, got ${describe(v)}`);
  return v;
}

export function booleanOf(v: JsonValue | undefined, field: string): boolean {
  if (typeof v !== "boolean") throw frameError(field, `expected true or false, got ${describe(v)}`);
  return v;
}

/**
 * A decimal sent as a string or as a JSON number, as its exact text (exponents are refused, never rounded).
 * `part` names a member of the field in the error (`b.price`), without building that name for every value.
 */
export function decimalOf(v: JsonValue | undefined, field: string, part?: string): string {
  const text = numberText(v);
  if (text === null || !DECIMAL.test(text)) {
    throw frameError(
      part === undefined ? field : `${field}.${part}`,
      `expected a decimal, got ${describe(v)}`,
    );
  }
  return text;
}

/** An integer sent as a string or a JSON number, as its digits (an id kept as text needs no BigInt). */
export function integerTextOf(v: JsonValue | undefined, field: string): string {
  const text = numberText(v);
  if (text === null || !INTEGER.test(text) || text.length > 40) {
    throw frameError(field, `expected an integer, got ${describe(v)}`);
  }
  return text;
}

/** An integer sent as a string or a JSON number, exactly (ids beyond 2^53 stay exact). */
export function integerOf(v: JsonValue | undefined, field: string): bigint {
  return BigInt(integerTextOf(v, field));
}

/** A millisecond timestamp as ns since the epoch. */
export function millisOf(v: JsonValue | undefined, field: string): bigint {
  const ms = integerOf(v, field);
  if (ms < 0n || ms > 1n << 50n) throw frameError(field, `a millisecond time out of range: ${ms}`);
  return ms * 1_000_000n;
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * A JSON number (or numeric string) as plain decimal text with exactly the digits sent: `5e-05` is `0.00005`;
 * for venues that send prices and sizes as JSON numbers (Deribit, Kraken v2).
 */
export function plainDecimalOf(v: JsonValue | undefined, field: string): string {
  // A JSON number without an exponent is plain decimal text already (the parser checked its syntax).
  if (v instanceof JsonNumber && v.text.indexOf("e") < 0 && v.text.indexOf("E") < 0) return v.text;
  const text = numberText(v);
  const m = text === null ? null : NUMBER.exec(text);
  if (m === null)
    throw frameError(field, `expected a number, got ${text === null ? typeof v : JSON.stringify(text)}`);
  const [, sign = "", int = "", frac = "", exp] = m;
  if (exp === undefined) return text!;
  const shift = Number(exp);
  if (!Number.isSafeInteger(shift) || Math.abs(shift) > 40)
    throw frameError(field, `exponent out of range: ${text}`);
  // Move the point: digits = int + frac, point after int.length + shift digits.
  const digits = int + frac;
  let point = int.length + shift;
  let all = digits;
  if (point <= 0) {
    all = "0".repeat(1 - point) + all;
    point = 1;
  } else if (point > all.length) all += "0".repeat(point - all.length);
  const whole = all.slice(0, point).replace(/^0+(?=\d)/, "");
  const rest = all.slice(point);
  return `${sign}${whole}${rest === "" ? "" : `.${rest}`}`;
}

/**
 * The whole second (`2024-11-25T14:37:05`) of the last RFC 3339 time read, and its ns since the epoch: a feed's
 * times share their second with the one before, so most are read as that second plus the digits after its point.
 */
let lastSecondText = "";
let lastSecondNs = 0n;

/** The ns of `.fffffffff` then `Z` from `at` on (1 to 9 digits, or only `Z`); -1 when the text has another end. */
function fractionNs(text: string, at: number): number {
  const end = text.length - 1;
  if (text.charCodeAt(end) !== 90 /* Z */) return -1;
  if (at === end) return 0;
  const digits = end - at - 1;
  if (text.charCodeAt(at) !== 46 /* . */ || digits < 1 || digits > 9) return -1;
  let ns = 0;
  for (let i = at + 1; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    ns = ns * 10 + d;
  }
  return ns * 10 ** (9 - digits);
}

const RFC_3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 time (Kraken, Coinbase), as ns since the epoch. */
export function isoTimeOf(v: JsonValue | undefined, field: string): bigint {
  const text = stringOf(v, field);
  if (text.length >= 20 && lastSecondText.length === 19 && text.startsWith(lastSecondText)) {
    const ns = fractionNs(text, 19);
    if (ns >= 0) return lastSecondNs + BigInt(ns);
  }
  let time: bigint;
  try {
    // Date, time and zone all given: parseTime alone would also take integer ns, a bare date or no zone.
    if (!RFC_3339.test(text)) throw new Error("not RFC 3339");
    time = parseTime(text);
  } catch {
    throw frameError(field, `expected an RFC 3339 time, got ${JSON.stringify(text).slice(0, 60)}`);
  }
  // A UTC time of this shape: its second is the one the next times are read against.
  const ns = text.length >= 20 && text.charCodeAt(10) === 84 /* T */ ? fractionNs(text, 19) : -1;
  if (ns >= 0) {
    lastSecondText = text.slice(0, 19);
    lastSecondNs = time - BigInt(ns);
  }
  return time;
}

/**
 * Book levels sent as `[price, size, …]` arrays of decimal text (Binance, OKX, Bybit): each as the pair it is, the
 * received strings kept. Extra elements (OKX's order counts) are left out.
 */
export function levelPairsOf(v: JsonValue | undefined, field: string): LevelChange[] {
  const out: LevelChange[] = [];
  for (const level of arrayOf(v, field)) {
    const pair = arrayOf(level, field);
    const price = decimalOf(pair[0], field, "price");
    const size = decimalOf(pair[1], field, "size");
    // The parsed pair of strings is the level as it stands (no copy); numbers become their text.
    out.push(
      pair.length === 2 && pair[0] === price && pair[1] === size ? (pair as [string, string]) : [price, size],
    );
  }
  return out;
}
