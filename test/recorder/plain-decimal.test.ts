/** Deribit and Kraken send prices and amounts as JSON numbers: they are kept as the digits sent, exponents written out. */
import { describe, expect, it } from "vitest";
import { plainDecimalOf } from "../../src/recorder/frame-fields.js";
import { JsonNumber } from "../../src/recorder/json-text.js";

describe("plainDecimalOf", () => {
  it("keeps plain numbers as sent, trailing zeros included", () => {
    for (const t of ["4714.0", "0.0015", "61800.5", "0", "-12.50", "10"])
      expect(plainDecimalOf(new JsonNumber(t), "f")).toBe(t);
  });

  it("writes exponents out exactly", () => {
    const cases: [string, string][] = [
      ["5e-05", "0.00005"],
      ["1e-8", "0.00000001"],
      ["1.5E+3", "1500"],
      ["1.25e1", "12.5"],
      ["-2.5e-3", "-0.0025"],
      ["3e0", "3"],
      ["0.0001e2", "0.01"],
    ];
    for (const [text, want] of cases) expect(plainDecimalOf(new JsonNumber(text), "f"), text).toBe(want);
  });

  it("refuses what is not a number, naming the field", () => {
    expect(() => plainDecimalOf(new JsonNumber("1e999"), "price")).toThrow(/price/);
    expect(() => plainDecimalOf("abc", "amount")).toThrow(/amount/);
    expect(() => plainDecimalOf(null, "amount")).toThrow(/amount/);
  });
});
