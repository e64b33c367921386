/**
 * Exact decimals: a value is an integer mantissa and a decimal scale, `value = mantissa / 10^scale`.
 * The canonical text of a value has no exponent, no leading zeros, no trailing fractional zeros and no
 * "-0": parsing then formatting gives back the canonical text of what was parsed, digit for digit.
 */
import { TapeValueError } from "./errors.js";

/** Most significant digits a mantissa may have (so it always fits in a signed 64-bit integer). */
export const MAX_DECIMAL_DIGITS = 18;
/** Largest decimal scale (10^18 is still exactly representable as a double). */
export const MAX_DECIMAL_SCALE = 18;

/** A mantissa is a number when it is a safe integer, else a bigint. */
export type Mantissa = number | bigint;

export interface Decimal {
  mantissa: Mantissa;
  scale: number;
}

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d{1,4}))?$/;

/**
 * The common case in one pass: digits with at most one point, an optional minus, at most 15 significant digits
 * (exact in a double). Anything else (exponents, long mantissas, malformed text) returns null and takes the
 * general path, which also names what is wrong.
 */
function plainDecimal(text: string): Decimal | null {
  const n = text.length;
  let i = 0;
  let negative = false;
  if (text.charCodeAt(0) === 45) {
    negative = true;
    i = 1;
  }
  let mantissa = 0;
  let significant = 0;
  let scale = 0;
  let point = -1;
  let intDigits = 0;
  // The mantissa and scale through the last digit that is not a trailing zero of the fraction (canonical form).
  let kept = 0;
  let keptScale = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c >= 0 && c <= 9) {
      if (point >= 0) scale++;
      else intDigits++;
      if (mantissa !== 0 || c !== 0) {
        significant++;
        mantissa = mantissa * 10 + c;
      }
      if (point < 0 || c !== 0) {
        if (significant > 15) return null;
        kept = mantissa;
        keptScale = scale;
      }
    } else if (c === -2 && point < 0) point = i;
    else return null;
  }
  if (intDigits === 0 || (point >= 0 && scale === 0)) return null;
  if (kept === 0) return { mantissa: 0, scale: 0 };
  if (keptScale > MAX_DECIMAL_SCALE) return null;
  return { mantissa: negative ? -kept : kept, scale: keptScale };
}

/** Parses a decimal string (or a finite number, through its shortest round-trip text) exactly. */
export function parseDecimal(input: string | number, field: string): Decimal {
  if (typeof input === "string") {
    const plain = plainDecimal(input);
    if (plain !== null) return plain;
  }
  let text: string;
  if (typeof input === "number") {
    if (!Number.isFinite(input)) throw new TapeValueError(`${input} is not a finite number`, field);
    text = String(input);
  } else if (typeof input === "string") {
    text = input;
  } else {
    throw new TapeValueError(`expected a decimal string or number, got ${typeof input}`, field);
  }
  const m = DECIMAL_TEXT.exec(text);
  if (m === null) throw new TapeValueError(`malformed decimal ${clip(text)}`, field);
  const negative = m[1] === "-";
  let digits = m[2]! + (m[3] ?? "");
  let scale = (m[3] ?? "").length - (m[4] === undefined ? 0 : Number(m[4]));
  // Canonical: drop trailing zeros of the fraction, then leading zeros.
  while (scale > 0 && digits.length > 1 && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    scale--;
  }
  if (scale > 0 && /^0+$/.test(digits)) scale = 0;
  digits = digits.replace(/^0+(?=\d)/, "");
  if (scale < 0) {
    if (digits !== "0") digits += "0".repeat(Math.min(-scale, 64));
    scale = 0;
  }
  if (scale > MAX_DECIMAL_SCALE) {
    throw new TapeValueError(`${clip(text)} has ${scale} decimals, more than ${MAX_DECIMAL_SCALE}`, field);
  }
  if (digits.length > MAX_DECIMAL_DIGITS) {
    throw new TapeValueError(`${clip(text)} has more than ${MAX_DECIMAL_DIGITS} significant digits`, field);
  }
  if (digits === "0") return { mantissa: 0, scale: 0 };
  if (digits.length <= 15) {
    const n = Number(digits);
    return { mantissa: negative ? -n : n, scale };
  }
  const big = BigInt(digits);
  const signed = negative ? -big : big;
  return { mantissa: toMantissa(signed), scale };
}

/** Quoted input for an error message, cut to 40 characters. */
function clip(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** A bigint as a number when that is exact. */
export function toMantissa(v: bigint): Mantissa {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** Canonical text of mantissa / 10^scale. */
export function formatDecimal(mantissa: Mantissa, scale: number): string {
  if (mantissa === 0 || mantissa === 0n) return "0";
  const negative = mantissa < 0;
  let digits = (negative ? -mantissa : mantissa).toString();
  if (scale === 0) return negative ? `-${digits}` : digits;
  let s = scale;
  while (s > 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    s--;
  }
  let text: string;
  if (s === 0) text = digits;
  else {
    const padded = digits.padStart(s + 1, "0");
    text = `${padded.slice(0, padded.length - s)}.${padded.slice(padded.length - s)}`;
  }
  return negative ? `-${text}` : text;
}

const POW10: number[] = Array.from({ length: MAX_DECIMAL_SCALE + 1 }, (_, i) => 10 ** i);
const POW10_BIG: bigint[] = Array.from({ length: MAX_DECIMAL_SCALE + 1 }, (_, i) => 10n ** BigInt(i));

/** 10^n as a double (exact for n <= 22). */
export function pow10(n: number): number {
  return POW10[n] ?? 10 ** n;
}
export function pow10Big(n: number): bigint {
  return POW10_BIG[n] ?? 10n ** BigInt(n);
}
