import { describe, expect, it } from "vitest";
import { BytesBuilder, DecimalBuilder, IntBuilder } from "../../src/format/builders.js";

function values(b: IntBuilder): bigint[] {
  const c = b.column();
  return [...c.offsets].map((o) => c.base + BigInt(o));
}

describe("IntBuilder", () => {
  it("repeated values (the rows of one message) keep their value", () => {
    const b = new IntBuilder();
    for (const v of [10n, 10n, 12n, 12n, 12n, 10n, 7n, 7n]) expect(b.add(v)).toBe(true);
    expect(values(b)).toEqual([10n, 10n, 12n, 12n, 12n, 10n, 7n, 7n]);
  });

  it("a value repeated after a multiply or a reset is taken at the new base", () => {
    const b = new IntBuilder();
    b.add(5n);
    b.multiply(10, 10n);
    b.add(5n);
    expect(values(b)).toEqual([50n, 5n]);
    b.reset();
    b.add(1000n);
    b.add(5n);
    expect(values(b)).toEqual([1000n, 5n]);
  });

  it("a value out of the block's range is refused, also when it follows an accepted one", () => {
    const b = new IntBuilder();
    b.add(0n);
    expect(b.add(2n ** 51n)).toBe(false);
    expect(b.add(2n ** 51n)).toBe(false);
    expect(b.add(3n)).toBe(true);
    expect(values(b)).toEqual([0n, 3n]);
  });
});

describe("DecimalBuilder", () => {
  it("values repeated across a change of scale stay exact", () => {
    const d = new DecimalBuilder();
    d.add({ mantissa: 12345n, scale: 2 });
    d.add({ mantissa: 12345n, scale: 2 });
    d.add({ mantissa: 7, scale: 4 });
    d.add({ mantissa: 12345n, scale: 2 });
    const c = d.column();
    expect(c.scale).toBe(4);
    expect([...c.offsets].map((o) => c.base + BigInt(o))).toEqual([1234500n, 1234500n, 7n, 1234500n]);
  });
});

describe("BytesBuilder", () => {
  const texts = (b: BytesBuilder) => b.column().values.map((v) => Buffer.from(v!).toString());
  it("keeps each value's bytes across growth, truncation and blocks", () => {
    const b = new BytesBuilder();
    const values = Array.from({ length: 3000 }, (_, i) => `frame ${i} ${"x".repeat(i % 50)}`);
    for (const v of values) b.add(Buffer.from(v));
    expect(texts(b)).toEqual(values);
    expect(b.bytes).toBe(values.reduce((n, v) => n + v.length + 1, 0));
    b.truncate(10);
    expect(texts(b)).toEqual(values.slice(0, 10));
    expect(b.bytes).toBe(values.slice(0, 10).reduce((n, v) => n + v.length + 1, 0));
    b.add(Buffer.from("after"));
    expect(texts(b)).toEqual([...values.slice(0, 10), "after"]);
    // The next block starts empty.
    b.reset();
    expect(texts(b)).toEqual([]);
    expect(b.bytes).toBe(0);
    b.add(Buffer.from("next"));
    b.add(new Uint8Array(0));
    expect(texts(b)).toEqual(["next", ""]);
  });
});
