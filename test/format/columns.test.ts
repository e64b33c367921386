import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter } from "../../src/format/bytes.js";
import {
  COLUMN_FLAG_PRESENCE,
  type Column,
  ColumnArena,
  decodeColumn,
  ENCODING,
  encodeIntColumn,
  encodeU8Column,
  type IntColumn,
} from "../../src/format/columns.js";
import { TapeError } from "../../src/format/errors.js";
import { thrown } from "./helpers.js";

/** An arena over memory full of 0xff bytes (each Float64 a NaN), as recycled memory may be. */
function dirtyArena(floats: number, bytes: number): ColumnArena {
  return new ColumnArena(Buffer.alloc(floats * 8 + bytes, 0xff), floats);
}

/** Decodes `bytes` up to `end` as one column of `rows` rows (scale 0). */
function decodeBytes(
  bytes: Uint8Array,
  end: number,
  column: { encoding: number; flags: number; rows: number; field: string },
  arena: ColumnArena,
): Column {
  const { encoding, flags, rows, field } = column;
  return decodeColumn(new ByteReader(bytes, 0, end, 0), encoding, flags, 0, rows, field, arena);
}

type Layout = "delta" | "runs" | "for";
const LAYOUTS = ["delta", "runs", "for"] as const;

function roundTrip(col: IntColumn, rows: number, layout: Layout, arena: ColumnArena): IntColumn {
  const out = new ByteWriter(256);
  const encoding = encodeIntColumn(out, col, rows, layout);
  const bytes = out.finish();
  const flags = col.valid === null ? 0 : COLUMN_FLAG_PRESENCE;
  const decoded = decodeBytes(bytes, bytes.length, { encoding, flags, rows, field: "t" }, arena);
  if (decoded.type !== "int") throw new Error(`decoded a ${decoded.type} column`);
  return decoded;
}

describe("columns decoded into an arena", () => {
  const offsets = Float64Array.from([5, 0, 7, 12, 0, 3]);
  const valid = Uint8Array.from([1, 0, 1, 1, 0, 1]);

  for (const layout of LAYOUTS) {
    it(`${layout}: every row is written, absent rows are 0, whatever the memory held`, () => {
      const dense = roundTrip(
        { type: "int", base: 100n, offsets, scale: 0, valid: null },
        6,
        layout,
        dirtyArena(6, 6),
      );
      const denseValues = [...dense.offsets].map((o) => dense.base + BigInt(o));
      expect(denseValues).toEqual([...offsets].map((o) => 100n + BigInt(o)));

      const sparse = roundTrip(
        { type: "int", base: 100n, offsets, scale: 0, valid },
        6,
        layout,
        dirtyArena(6, 6),
      );
      expect([...sparse.valid!]).toEqual([...valid]);
      for (let i = 0; i < 6; i++) {
        if (valid[i] === 0) expect(sparse.offsets[i]).toBe(0);
        else expect(sparse.base + BigInt(sparse.offsets[i]!)).toBe(100n + BigInt(offsets[i]!));
      }

      const none = roundTrip(
        { type: "int", base: 0n, offsets: new Float64Array(6), scale: 0, valid: new Uint8Array(6) },
        6,
        layout,
        dirtyArena(6, 6),
      );
      expect([...none.offsets]).toEqual([0, 0, 0, 0, 0, 0]);
    });
  }

  it("an arena that runs out hands out fresh arrays instead of overlapping views", () => {
    const arena = dirtyArena(4, 2);
    const a = arena.float64(4);
    const b = arena.float64(1);
    b[0] = 1;
    expect(a[0]).toBeNaN();
    expect(b.buffer).not.toBe(a.buffer);
    const u = arena.u8(2);
    const v = arena.u8(1);
    expect(u.buffer).toBe(a.buffer);
    expect(v.buffer).not.toBe(a.buffer);
  });

  it("u8 columns are copies, not views of the decompressed body", () => {
    const out = new ByteWriter(16);
    encodeU8Column(out, { type: "u8", values: Uint8Array.from([1, 2, 3]), valid: null }, 3);
    const body = out.finish();
    const col = decodeBytes(
      body,
      body.length,
      { encoding: 3, flags: 0, rows: 3, field: "t" },
      dirtyArena(0, 3),
    );
    body.fill(9);
    expect(col.type === "u8" && [...col.values]).toEqual([1, 2, 3]);
  });
});

describe("integer columns, any values", () => {
  /**
   * Offsets as the writer keeps them: safe integers within ±2^50 of the base, some with trailing decimal zeros
   * (sizes) and some repeated over consecutive rows (a message's receive time), so that every encoding is used.
   */
  const offsetsArb = fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.integer({ min: -200, max: 200 }),
          fc.integer({ min: -(2 ** 20), max: 2 ** 20 }),
          fc.integer({ min: -(2 ** 50), max: 2 ** 50 }),
          fc
            .tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 12 }))
            .map(([s, e]) => s * 10 ** e),
        ),
        fc.integer({ min: 1, max: 4 }),
      ),
      { minLength: 1, maxLength: 40 },
    )
    .map((runs) => runs.flatMap(([v, n]) => Array<number>(n).fill(v)).slice(0, 80));

  it("round-trip, dense or with absent rows, in every layout", () => {
    fc.assert(
      fc.property(
        offsetsArb,
        fc.option(fc.array(fc.boolean(), { minLength: 80, maxLength: 80 })),
        fc.constantFrom(...LAYOUTS),
        fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }),
        (values, present, layout, base) => {
          const rows = values.length;
          const valid = present === null ? null : Uint8Array.from(present.slice(0, rows), Number);
          const offsets = Float64Array.from(values, (v, i) => (valid === null || valid[i] ? v : 0));
          const got = roundTrip(
            { type: "int", base, offsets, scale: 0, valid },
            rows,
            layout,
            dirtyArena(rows, rows),
          );
          for (let i = 0; i < rows; i++) {
            const want = valid === null || valid[i] ? base + BigInt(offsets[i]!) : null;
            const have = valid === null || valid[i] ? got.base + BigInt(got.offsets[i]!) : got.offsets[i];
            expect(have).toBe(want ?? 0);
          }
        },
      ),
    );
  });

  it("a column cut short is an error naming the column, never values read from the next one", async () => {
    await fc.assert(
      fc.asyncProperty(offsetsArb, fc.constantFrom(...LAYOUTS), fc.nat(), async (values, layout, cut) => {
        const rows = values.length;
        const out = new ByteWriter(256);
        const encoding = encodeIntColumn(
          out,
          { type: "int", base: 0n, offsets: Float64Array.from(values), scale: 0, valid: null },
          rows,
          layout,
        );
        const whole = out.finish();
        const end = cut % whole.length;
        // The bytes after `end` are still in the buffer, as the next column's would be.
        const error = await thrown(() =>
          decodeBytes(whole, end, { encoding, flags: 0, rows, field: "trade.size" }, dirtyArena(rows, 0)),
        );
        expect(error).toBeInstanceOf(TapeError);
        expect((error as TapeError).field).toBe("trade.size");
      }),
    );
  });

  it("a value − base beyond 2^53 − 1 is an error, not an inexact value", async () => {
    // unit 55·2^14 and the value 75·2^27 (zigzagged 75·2^28): their product is 9.07·10^15, above 2^53 (9.007·10^15).
    const forBytes = Uint8Array.from([0, 128, 128, 55, 128, 128, 128, 128, 75]);
    // The same as a delta after the first value, then its negative less one unit: the running sum leaves the range
    // and comes back into it.
    const deltaBytes = Uint8Array.from([0, 128, 128, 55, 128, 128, 128, 128, 75, 129, 128, 128, 128, 75]);
    for (const [bytes, encoding, rows] of [
      [forBytes, ENCODING.intFor, 1],
      [deltaBytes, ENCODING.intDelta, 3],
    ] as const) {
      const column = { encoding, flags: 0, rows, field: "book.size" };
      const error = await thrown(() => decodeBytes(bytes, bytes.length, column, dirtyArena(rows, 0)));
      expect(error).toBeInstanceOf(TapeError);
      expect(error).toMatchObject({ code: "E_TAPE_CORRUPT", field: "book.size" });
      expect((error as TapeError).message).toMatch(/2\^53/);
    }
  });

  it("a value varint of 2^53 or more is an error, not a rounded value", async () => {
    /** LEB128 of `v`. */
    const leb = (v: bigint): number[] => {
      const out = new ByteWriter(16);
      out.varintBig(v);
      return [...out.finish()];
    };
    // Base 0, unit 1, then the zigzag form of −(2^52 + 1): a double would round it to 2^53, that is +2^52.
    const forBytes = Uint8Array.from([0, 1, ...leb(2n ** 53n + 1n)]);
    // INT_SCI: w = 2^53 + 1 would round to s = 2^49, e = 0.
    const sciBytes = Uint8Array.from([0, ...leb(2n ** 53n + 1n)]);
    for (const [bytes, encoding] of [
      [forBytes, ENCODING.intFor],
      [sciBytes, ENCODING.intSci],
    ] as const) {
      const column = { encoding, flags: 0, rows: 1, field: "trade.size" };
      const error = await thrown(() => decodeBytes(bytes, bytes.length, column, dirtyArena(1, 0)));
      expect(error).toMatchObject({ code: "E_TAPE_CORRUPT", field: "trade.size" });
      expect((error as TapeError).message).toMatch(/2\^53/);
    }
    // 2^53 − 1 itself is a valid varint: zigzag for −2^52.
    const edge = Uint8Array.from([0, 1, ...leb(2n ** 53n - 1n)]);
    const col = decodeBytes(
      edge,
      edge.length,
      { encoding: ENCODING.intFor, flags: 0, rows: 1, field: "t" },
      dirtyArena(1, 0),
    );
    expect(col.type === "int" && col.offsets[0]).toBe(-(2 ** 52));
  });

  it("garbage decodes to integers or fails with a TapeError", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 120 }),
        fc.constantFrom(1, 2, 6, 7),
        fc.constantFrom(0, COLUMN_FLAG_PRESENCE),
        fc.integer({ min: 1, max: 60 }),
        (bytes, encoding, flags, rows) => {
          try {
            const col = decodeBytes(
              bytes,
              bytes.length,
              { encoding, flags, rows, field: "x" },
              dirtyArena(rows, rows),
            );
            if (col.type !== "int") throw new Error(col.type);
            for (const o of col.offsets) expect(Number.isSafeInteger(o)).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(TapeError);
          }
        },
      ),
    );
  });
});

describe("scientific form and runs", () => {
  const decodeInt = (bytes: number[], encoding: number, rows: number): IntColumn => {
    const b = Uint8Array.from(bytes);
    const col = decodeBytes(
      b,
      b.length,
      { encoding, flags: 0, rows, field: "book.size" },
      dirtyArena(rows, rows),
    );
    if (col.type !== "int") throw new Error(col.type);
    return col;
  };
  const values = (col: IntColumn) => [...col.offsets].map((o) => col.base + BigInt(o));

  it("decodes the examples of docs/FORMAT.md §5.9 and §5.10", () => {
    expect(values(decodeInt([0x00, 0x57, 0x10, 0x00, 0xd1, 0x0f], ENCODING.intSci, 4))).toEqual([
      50000000n,
      1n,
      0n,
      1250n,
    ]);
    expect(values(decodeInt([0x29, 0xc8, 0x01, 0x07, 0x02, 0x04], ENCODING.intRuns, 6))).toEqual([
      100n,
      100n,
      100n,
      107n,
      107n,
      121n,
    ]);
  });

  it("the writer picks them where they are smaller, and they read back into dirty memory", () => {
    /** Encodes `values` (0 where `valid` says absent), checks the encoding chosen and the values read back. */
    const check = (values: number[], valid: Uint8Array | null, layout: Layout, encoding: number) => {
      const col: IntColumn = { type: "int", base: 7n, offsets: Float64Array.from(values), scale: 0, valid };
      expect(encodeIntColumn(new ByteWriter(64), col, values.length, layout)).toBe(encoding);
      const got = roundTrip(col, values.length, layout, dirtyArena(values.length, values.length));
      // Present rows: base + offset as written; absent rows: offset 0.
      const absent = (i: number) => valid !== null && valid[i] === 0;
      expect([...got.offsets].map((o, i) => (absent(i) ? o : Number(got.base) + o))).toEqual(
        values.map((v, i) => (absent(i) ? 0 : 7 + v)),
      );
    };
    check([50000000, 1000, 0, 2500000, 30, 7000000], null, "for", ENCODING.intSci);
    check(
      [50000000, 1000, 0, 0, 2500000, 30, 7000000],
      Uint8Array.from([1, 1, 1, 0, 1, 1, 1]),
      "for",
      ENCODING.intSci,
    );
    check([5, 5, 5, 9, 9, 14, 14, 14], null, "runs", ENCODING.intRuns);
    check(
      [5, 5, 0, 5, 9, 9, 0, 14, 14, 14],
      Uint8Array.from([1, 1, 0, 1, 1, 1, 0, 1, 1, 1]),
      "runs",
      ENCODING.intRuns,
    );
    // Negative values have no scientific form; values that do not repeat are cheaper as plain deltas.
    check([-100, 2000], null, "for", ENCODING.intFor);
    check([1, 2, 3, 4, 5, 6, 7, 8], null, "runs", ENCODING.intDelta);
  });

  it("a long column is judged on its first values, and read back exactly whatever they said", () => {
    const encodeLong = (values: number[]) => {
      const col: IntColumn = {
        type: "int",
        base: 0n,
        offsets: Float64Array.from(values),
        scale: 0,
        valid: null,
      };
      const encoding = encodeIntColumn(new ByteWriter(64), col, values.length, "for");
      const got = roundTrip(col, values.length, "for", dirtyArena(values.length, values.length));
      expect([...got.offsets]).toEqual(values);
      return encoding;
    };
    const round = (i: number) => (1 + (i % 97)) * 10 ** (3 + (i % 4));
    // Sizes with trailing zeros: scientific form, as the whole column would choose.
    expect(encodeLong(Array.from({ length: 3000 }, (_, i) => round(i)))).toBe(ENCODING.intSci);
    // The first values prefer it, a later one has no scientific form (negative): frame of reference, exact.
    const negativeLater = Array.from({ length: 3000 }, (_, i) => (i === 2500 ? -5 : round(i)));
    expect(encodeLong(negativeLater)).toBe(ENCODING.intFor);
    // The first values are multiples of one unit with no trailing zeros: frame of reference for the whole column.
    expect(encodeLong(Array.from({ length: 3000 }, (_, i) => 7 * (1 + (i % 13))))).toBe(ENCODING.intFor);
  });

  it("a value in scientific form beyond 2^53 is an error, not an inexact number", () => {
    // s = 2^40 (varint of s·16 + 15), 10^15: far beyond 2^53.
    const w = 2 ** 44 + 15;
    const varint: number[] = [];
    for (let z = w; ; z = Math.floor(z / 128)) {
      if (z < 128) {
        varint.push(z);
        break;
      }
      varint.push((z % 128) | 128);
    }
    expect(() => decodeInt([0x00, ...varint], ENCODING.intSci, 1)).toThrow(TapeError);
  });

  it("runs whose first row is not marked as a change are corrupt", () => {
    expect(() => decodeInt([0x28, 0xc8, 0x01, 0x07, 0x02, 0x04], ENCODING.intRuns, 6)).toThrow(
      /first value not marked/,
    );
  });
});
