import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal, TapeError, TapeValueError } from "../../src/index.js";
import { canonicalDecimal } from "./helpers.js";

const canon = (input: string | number): string => {
  const d = parseDecimal(input, "price");
  return formatDecimal(d.mantissa, d.scale);
};

function rejects(input: string | number): TapeValueError {
  let caught: unknown = null;
  try {
    parseDecimal(input, "price");
  } catch (err) {
    caught = err;
  }
  expect(caught, `parseDecimal(${JSON.stringify(String(input))}) should throw`).toBeInstanceOf(
    TapeValueError,
  );
  const e = caught as TapeValueError;
  expect(e).toBeInstanceOf(TapeError);
  expect(e.code).toBe("E_TAPE_VALUE");
  expect(e.field).toBe("price");
  return e;
}

describe("parseDecimal / formatDecimal: canonical forms", () => {
  it.each([
    ["65000.10", "65000.1"],
    ["0.000", "0"],
    ["-0", "0"],
    ["-0.000", "0"],
    ["0", "0"],
    ["1e-8", "0.00000001"],
    ["1.5E3", "1500"],
    ["1E+2", "100"],
    ["0e5", "0"],
    ["0e-30", "0"],
    ["10e-19", "0.000000000000000001"],
    ["007", "7"],
    ["00.10", "0.1"],
    ["-1.50", "-1.5"],
    ["-0.00100", "-0.001"],
    ["1.0000000000000000000000", "1"],
    ["123.456e1", "1234.56"],
    ["12e-1", "1.2"],
    ["1000", "1000"],
    ["100.00", "100"],
  ])("%s -> %s", (input, expected) => {
    expect(canon(input)).toBe(expected);
  });

  it("canonical text is a fixed point", () => {
    for (const t of ["65000.1", "0", "0.00000001", "1500", "-1.5", "999999999999999999"])
      expect(canon(t)).toBe(t);
  });

  it("-0 has mantissa 0 and scale 0", () => {
    const d = parseDecimal("-0.000", "x");
    expect(Object.is(d.mantissa, -0)).toBe(false);
    expect(d).toEqual({ mantissa: 0, scale: 0 });
  });

  it("numbers parse through their shortest round-trip text", () => {
    expect(canon(0.1)).toBe("0.1");
    expect(canon(65000.1)).toBe("65000.1");
    expect(canon(1e-7)).toBe("0.0000001");
    expect(canon(-0)).toBe("0");
    expect(canon(1500)).toBe("1500");
    expect(canon(-2.5)).toBe("-2.5");
  });
});

describe("parseDecimal: 18 significant digits", () => {
  it.each([
    "123456789.012345678",
    "999999999999999999",
    "-999999999999999999",
    "0.123456789012345678",
    "0.000000000000000001",
    "-0.999999999999999999",
    "100000000000000000",
  ])("accepts %s exactly", (text) => {
    expect(canon(text)).toBe(text);
  });

  it("mantissas beyond 2^53 are bigints, safe ones numbers", () => {
    expect(parseDecimal("9007199254740993", "x")).toEqual({ mantissa: 9007199254740993n, scale: 0 });
    expect(parseDecimal("-900719925474099.3", "x")).toEqual({ mantissa: -9007199254740993n, scale: 1 });
    expect(parseDecimal("9007199254740991", "x")).toEqual({ mantissa: 9007199254740991, scale: 0 });
    expect(parseDecimal("123456789.012345678", "x")).toEqual({ mantissa: 123456789012345678n, scale: 9 });
  });

  it.each([
    "1234567890123456789",
    "1.234567890123456789",
    "-1234567890.123456789",
    "1000000000000000000",
    "1e18",
    "0.0000000000000000001",
    "1e-19",
    "1e9999",
    "12345678901234567890e-2",
  ])("rejects %s with E_TAPE_VALUE", (text) => {
    rejects(text);
  });
});

describe("parseDecimal: malformed input", () => {
  it.each([
    "NaN",
    "Infinity",
    "-Infinity",
    "abc",
    "1.2.3",
    "",
    " 1",
    "1 ",
    "+1",
    ".5",
    "5.",
    "1,5",
    "0x10",
    "1e",
    "1e+",
    "--1",
    "1_000",
    "١٢",
    "1e12345",
  ])("rejects %j", (text) => {
    rejects(text);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e21, 1e-19])(
    "rejects the number %s",
    (n) => {
      rejects(n);
    },
  );

  it("rejects values of other types", () => {
    rejects(null as unknown as string);
    rejects(12n as unknown as string);
    rejects({} as unknown as string);
  });

  it("names the field and keeps long input out of the message", () => {
    const e = rejects("9".repeat(5000));
    expect(e.message.length).toBeLessThan(200);
  });
});

describe("parseDecimal / formatDecimal: properties", () => {
  const mantissa = fc.oneof(
    fc.bigInt(-(10n ** 18n - 1n), 10n ** 18n - 1n),
    fc.bigInt(-1000n, 1000n),
    fc.bigInt(2n ** 53n - 5n, 2n ** 53n + 5n),
  );
  const scale = fc.integer({ min: 0, max: 18 });

  it("formatDecimal(parse(format(m, s))) === format(m, s)", () => {
    fc.assert(
      fc.property(mantissa, scale, (m, s) => {
        const text = formatDecimal(m, s);
        const d = parseDecimal(text, "x");
        expect(formatDecimal(d.mantissa, d.scale)).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it("formatDecimal agrees with an independent formatter, for bigint and number mantissas", () => {
    fc.assert(
      fc.property(mantissa, scale, (m, s) => {
        const expected = canonicalDecimal(m, s);
        expect(formatDecimal(m, s)).toBe(expected);
        if (m >= -9007199254740991n && m <= 9007199254740991n)
          expect(formatDecimal(Number(m), s)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("parse keeps the exact value, with the smallest scale and a number mantissa exactly when safe", () => {
    fc.assert(
      fc.property(mantissa, scale, (m, s) => {
        const d = parseDecimal(canonicalDecimal(m, s), "x");
        const mant = BigInt(d.mantissa);
        expect(d.scale).toBeLessThanOrEqual(s);
        expect(mant * 10n ** BigInt(s - d.scale)).toBe(m);
        if (d.scale > 0) expect(mant % 10n).not.toBe(0n);
        const safe = mant >= -9007199254740991n && mant <= 9007199254740991n;
        expect(typeof d.mantissa).toBe(safe ? "number" : "bigint");
      }),
      { numRuns: 2000 },
    );
  });

  it("non-canonical spellings (leading zeros, trailing zeros, exponents) parse to the canonical text", () => {
    fc.assert(
      fc.property(
        fc.bigInt(-(10n ** 15n - 1n), 10n ** 15n - 1n),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 3 }),
        // Venues pad to a fixed number of decimals (Binance: 8), past 15 significant digits too.
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: -3, max: 3 }),
        fc.boolean(),
        (m, s, leading, trailing, exp, upper) => {
          const neg = m < 0n;
          const digits = (neg ? -m : m).toString().padStart(s + 1, "0");
          const intPart = "0".repeat(leading) + digits.slice(0, digits.length - s);
          const frac = digits.slice(digits.length - s) + "0".repeat(trailing);
          const text = `${neg ? "-" : ""}${intPart}${frac.length > 0 ? `.${frac}` : ""}${exp === 0 ? "" : `${upper ? "E" : "e"}${exp}`}`;
          // text = m / 10^s * 10^exp
          const expected = canonicalDecimal(m * 10n ** BigInt(Math.max(0, exp)), s + Math.max(0, -exp));
          const d = parseDecimal(text, "x");
          expect(formatDecimal(d.mantissa, d.scale)).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("a fraction padded with zeros parses to its value, however many zeros", () => {
    const cases: [string, number | bigint, number][] = [
      ["65000.12000000", 6500012, 2],
      ["0.00000000", 0, 0],
      ["-0.10000000", -1, 1],
      ["100.000", 100, 0],
      ["123456789012345.000000000000000000", 123456789012345, 0],
      ["0.000000000000000001000", 1, 18],
    ];
    for (const [text, mantissa, scale] of cases)
      expect(parseDecimal(text, "x"), text).toEqual({ mantissa, scale });
  });
});
