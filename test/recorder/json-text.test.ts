import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TapeError } from "../../src/format/errors.js";
import { decimalOf, integerOf, objectOf } from "../../src/recorder/frame-fields.js";
import { JsonNumber, type JsonValue, MAX_JSON_DEPTH, parseJsonText } from "../../src/recorder/json-text.js";

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
