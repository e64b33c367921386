/**
 * Exact decimal text for simulated prices and sizes. Values are kept as integers of 10^-decimals (safe integers:
 * a BTC price at 8 decimals is ~6e12), so every string the simulator sends is exact and has the fixed number of
 * decimals its instrument uses, as venues send them ("61837.63000000").
 */
import { TapeError } from "../../format/errors.js";

const DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** `text` as an integer count of 10^-decimals ("0.01" at 8 decimals is 1000000). */
export function toUnits(text: string, decimals: number): number {
  const m = DECIMAL.exec(text);
  const frac = m?.[2] ?? "";
  if (m === null || frac.length > decimals) {
    throw new TapeError(
      "E_TAPE_CONFIG",
      `${JSON.stringify(text)} is not a decimal with at most ${decimals} decimals`,
    );
  }
  const n = Number(`${m[1]}${frac.padEnd(decimals, "0")}`);
  if (!Number.isSafeInteger(n))
    throw new TapeError("E_TAPE_CONFIG", `${text} is too large at ${decimals} decimals`);
  return n;
}

/** An integer count of 10^-decimals as text with exactly `decimals` decimals. */
export function formatUnits(n: number, decimals: number): string {
  if (decimals === 0) return String(n);
  const s = String(n).padStart(decimals + 1, "0");
  return `${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
}
