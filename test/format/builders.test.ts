import { describe, expect, it } from "vitest";
import { DecimalBuilder, IntBuilder } from "../../src/format/builders.js";

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
