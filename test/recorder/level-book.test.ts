/** The recorder's book orders levels by exact price, also where two prices share a double. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareDecimalText, LevelBook } from "../../src/recorder/level-book.js";

/** value · 10^20 as a bigint: exact for the texts below (at most 20 decimals). */
function scaled(text: string): bigint {
  const neg = text.startsWith("-");
  const [int, frac = ""] = (neg ? text.slice(1) : text).split(".");
  const v = BigInt(int || "0") * 10n ** 20n + BigInt((frac.padEnd(20, "0") || "0").slice(0, 20));
  return neg ? -v : v;
}

const decimalText = fc
  .tuple(
    fc.boolean(),
    fc.stringMatching(/^[0-9]{1,19}$/),
    fc.option(fc.stringMatching(/^[0-9]{1,20}$/), { nil: undefined }),
  )
  .map(([neg, int, frac]) => `${neg ? "-" : ""}${int}${frac === undefined ? "" : `.${frac}`}`);

describe("LevelBook", () => {
  it("compares decimal texts exactly, whatever their zeros", () => {
    fc.assert(
      fc.property(decimalText, decimalText, (a, b) => {
        const want = Math.sign(Number(scaled(a) - scaled(b)));
        expect(compareDecimalText(a, b), `${a} vs ${b}`).toBe(want);
      }),
    );
    expect(compareDecimalText("30316", "30316.0")).toBe(0);
    expect(compareDecimalText("-0", "0.00")).toBe(0);
  });

  it("keeps two prices that share a double apart, and is not crossed by them", () => {
    const book = new LevelBook();
    book.bids.set("1.00000000000000001", "1");
    book.asks.set("1.00000000000000002", "1");
    expect(book.crossed()).toBe(false);
    book.bids.set("1.00000000000000000", "2");
    book.bids.set("1.00000000000000001", "3");
    expect(book.bids.top(5)).toEqual([
      expect.objectContaining({ price: "1.00000000000000001", size: "3" }),
      expect.objectContaining({ price: "1.00000000000000000", size: "2" }),
    ]);
    book.bids.set("1.00000000000000002", "1");
    expect(book.crossed()).toBe(true);
    book.bids.set("1.000000000000000020", "0");
    expect(book.bids.length).toBe(2);
    expect(book.crossed()).toBe(false);
  });
});
