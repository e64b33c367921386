import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TapeError } from "../../src/format/errors.js";
import { decimalOf, integerOf, objectOf } from "../../src/recorder/frame-fields.js";
import {
  JsonNumber,
  type JsonValue,
  MAX_JSON_DEPTH,
  parseJsonStrings,
  parseJsonText,
} from "../../src/recorder/json-text.js";

/** The parsed value with numbers turned back into JS numbers, to compare with JSON.parse. */
function plain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return Number(v.text);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x!)]));
  return v;
}

function frameError(text: string): TapeError {
  try {
    parseJsonText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(TapeError);
    expect((err as TapeError).code).toBe("E_TAPE_FRAME");
    return err as TapeError;
  }
  throw new Error(`parsed: ${text}`);
}

describe("lossless JSON", () => {
  it("keeps the digits of numbers that a double would change", () => {
    const v = parseJsonText('{"id":18239578009413566319,"qty":0.10000000,"price":45281.0,"e":-1.5e-7}');
    const o = objectOf(v, "frame");
    expect((o.id as JsonNumber).text).toBe("18239578009413566319");
    expect(integerOf(o.id, "id")).toBe(18239578009413566319n);
    expect(decimalOf(o.qty, "qty")).toBe("0.10000000");
    expect(decimalOf(o.price, "price")).toBe("45281.0");
    expect((o.e as JsonNumber).text).toBe("-1.5e-7");
  });

  it("reads what JSON.parse reads, with the same values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(plain(parseJsonText(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it("treats __proto__ as a plain key", () => {
    const o = objectOf(parseJsonText('{"__proto__":{"polluted":true},"a":"b"}'), "frame");
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(["__proto__", "a"]);
    const protoKey = ["__", "proto", "__"].join("");
    expect(objectOf(o[protoKey], "p").polluted).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("names the offset of the first bad character", () => {
    expect(frameError('{"a":1,}').message).toContain("offset 7");
    expect(frameError("[1,2").message).toContain("unexpected end");
    expect(frameError('{"a":01}').message).toContain("leading zero");
    expect(frameError('"abc').message).toContain("unterminated");
    expect(frameError("pong").message).toContain("offset 0");
    expect(frameError('{"a":1} x').message).toContain("text after the value");
    expect(frameError('"\\q"').message).toContain("bad escape");
  });

  it("refuses nesting that would exhaust the stack", () => {
    const deep = `${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`;
    expect(frameError(deep).message).toContain(`deeper than ${MAX_JSON_DEPTH}`);
    const ok = `${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`;
    expect(() => parseJsonText(ok)).not.toThrow();
    expect(frameError("[".repeat(100_000)).code).toBe("E_TAPE_FRAME");
  });

  it("field readers name the field and refuse wrong types", () => {
    const o = objectOf(parseJsonText('{"p":"1e5","q":[1],"u":"12.5","s":true}'), "frame");
    expect(() => decimalOf(o.p, "p")).toThrow(/field p: expected a decimal, got string "1e5"/);
    expect(() => decimalOf(o.q, "q")).toThrow(/field q: expected a decimal, got an array/);
    expect(() => integerOf(o.u, "u")).toThrow(/field u: expected an integer/);
    expect(() => integerOf(o.missing, "missing")).toThrow(/got missing/);
    expect(() => decimalOf(o.s, "s")).toThrow(/got boolean true/);
  });
});

/** Every number as the digits it stands for: a JsonNumber's text, a JS number's shortest text. */
function digits(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return `#${v.text}`;
  if (typeof v === "number") return `#${v}`;
  if (Array.isArray(v)) return v.map(digits);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, digits(x!)]));
  return v;
}

describe("JSON of string decimals (parseJsonStrings)", () => {
  it("gives every number the digits the lossless parser keeps, whatever the spacing", () => {
    // Big integers and decimals written as JSON tokens; strings holding number-like text.
    const token = fc.oneof(
      fc.bigInt(-(10n ** 20n), 10n ** 20n).map(String),
      fc.stringMatching(/^-?(0|[1-9][0-9]{0,6})\.[0-9]{1,9}$/),
      fc.stringMatching(/^[1-9][0-9]{0,3}[eE][+-]?[0-9]{1,2}$/),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        token.map((t) => ({ token: t })),
        fc.string(),
        fc.constantFrom("a,1.5", '"x":2.5', "[1e5", "12345678901234567"),
        fc.array(tie("v"), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 4 }), tie("v"), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, fc.constantFrom(0, 1, 2), (v, indent) => {
        // Tokens are written unquoted: `{"token":"1.5"}` becomes `1.5`.
        const text = JSON.stringify(v, null, indent).replace(/\{\s*"token":\s*"([^"]*)"\s*\}/g, "$1");
        expect(digits(parseJsonStrings(text))).toEqual(digits(parseJsonText(text)));
      }),
      { numRuns: 1000 },
    );
  });

  it("hands back short integers as numbers and keeps the digits of the rest", () => {
    const fast = objectOf(parseJsonStrings('{"sequence_num":123456789012345,"price":"1.50"}'), "frame");
    expect(fast.sequence_num).toBe(123456789012345);
    expect(integerOf(fast.sequence_num, "sequence_num")).toBe(123456789012345n);
    expect(decimalOf(fast.price, "price")).toBe("1.50");
    const exact = objectOf(parseJsonStrings('{"sequence_num":18239578009413566319,"q":0.10}'), "frame");
    expect(integerOf(exact.sequence_num, "sequence_num")).toBe(18239578009413566319n);
    expect(decimalOf(exact.q, "q")).toBe("0.10");
  });

  it("names the offset of the first bad character, as the lossless parser does", () => {
    for (const text of ['{"a":1,}', "[1,2", '{"a":01}', "pong", `${"[".repeat(100_000)}`]) {
      expect(() => parseJsonStrings(text)).toThrow(TapeError);
      expect(() => parseJsonStrings(text)).toThrow(frameError(text).message);
    }
  });
});
