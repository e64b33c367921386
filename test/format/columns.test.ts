import { describe, expect, it } from "vitest";
import { ByteReader, ByteWriter } from "../../src/format/bytes.js";
import {
  COLUMN_FLAG_PRESENCE,
  ColumnArena,
  decodeColumn,
  encodeIntColumn,
  encodeU8Column,
  type IntColumn,
} from "../../src/format/columns.js";

/** An arena over memory full of 0xff bytes (each Float64 a NaN), as recycled memory may be. */
function dirtyArena(floats: number, bytes: number): ColumnArena {
  return new ColumnArena(Buffer.alloc(floats * 8 + bytes, 0xff), floats);
}

function roundTrip(col: IntColumn, rows: number, layout: "delta" | "for", arena: ColumnArena): IntColumn {
  const out = new ByteWriter(256);
  const encoding = encodeIntColumn(out, col, rows, layout);
  const bytes = out.finish();
  const flags = col.valid === null ? 0 : COLUMN_FLAG_PRESENCE;
  const decoded = decodeColumn(
    new ByteReader(bytes, 0, bytes.length, 0),
    encoding,
    flags,
    0,
    rows,
    "t",
    arena,
  );
  if (decoded.type !== "int") throw new Error(`decoded a ${decoded.type} column`);
  return decoded;
}

describe("columns decoded into an arena", () => {
  const offsets = Float64Array.from([5, 0, 7, 12, 0, 3]);
  const valid = Uint8Array.from([1, 0, 1, 1, 0, 1]);

  for (const layout of ["delta", "for"] as const) {
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
    const col = decodeColumn(new ByteReader(body, 0, body.length, 0), 3, 0, 0, 3, "t", dirtyArena(0, 3));
    body.fill(9);
    expect(col.type === "u8" && [...col.values]).toEqual([1, 2, 3]);
  });
});
