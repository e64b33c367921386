import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeBlock, decodeBlockHeader, encodeBlock } from "../../src/format/block.js";
import type { IntColumn } from "../../src/format/columns.js";
import {
  type BlockHeader,
  BytesSource,
  blockRecords,
  type Codec,
  encodeTape,
  type TapeError,
  TapeReader,
} from "../../src/index.js";
import {
  assemble,
  BLOCK,
  bodyOf,
  copy,
  disassemble,
  drainRecords,
  expectTapeError,
  fixBlockCrc,
  fixFooterCrc,
  fixHeaderCrc,
  footerRange,
  recordKey,
  sampleRecords,
  sectionBody,
  setU32,
  thrown,
  view,
  withBody,
} from "./helpers.js";

interface Sample {
  codec: Codec;
  bytes: Uint8Array;
  headerLength: number;
  blocks: readonly BlockHeader[];
  /** Record keys of each original block, by block offset. */
  byOffset: Map<number, string[]>;
}

async function sample(codec: Codec): Promise<Sample> {
  const bytes = copy(
    encodeTape(sampleRecords(), { exchange: "x", meta: { k: "v" } }, { codec, policy: { maxRows: 3 } }),
  );
  const reader = await TapeReader.open(new BytesSource(bytes));
  const byOffset = new Map<number, string[]>();
  for (const b of reader.blocks)
    byOffset.set(b.offset, blockRecords(await reader.readBlock(b)).map(recordKey));
  return { codec, bytes, headerLength: reader.header.length, blocks: reader.blocks, byOffset };
}

const samples: Sample[] = [];
beforeAll(async () => {
  for (const codec of ["none", "lz4", "zstd"] as const) samples.push(await sample(codec));
});

/** The record keys a reader should yield for its block list: the original blocks' records, in file order. */
function expectedFor(s: Sample, blocks: readonly BlockHeader[]): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.kind === null) continue;
    const recs = s.byOffset.get(b.offset);
    // A block the original file does not have: reading it must fail before anything of it is returned.
    out.push(...(recs ?? [`<no original block at ${b.offset}>`]));
  }
  return out;
}

type Outcome = "open failed" | "read failed" | "recovered" | "read all";

/** Opens and reads a damaged copy; checks that nothing wrong is returned; reports what happened. */
async function readDamaged(
  s: Sample,
  bad: Uint8Array,
  damagedAt: number,
): Promise<{ outcome: Outcome; ok: boolean }> {
  let reader: TapeReader;
  try {
    reader = await TapeReader.open(new BytesSource(bad));
  } catch (err) {
    const e = expectTapeError(err);
    expect(typeof e.offset).toBe("number");
    return { outcome: "open failed", ok: false };
  }
  const { records, error } = await drainRecords(reader);
  if (error !== null) expect(typeof expectTapeError(error).offset).toBe("number");
  const got = records.map(recordKey);
  const expected = expectedFor(s, reader.blocks);
  expect(got).toEqual(expected.slice(0, got.length));
  if (error === null) expect(got.length).toBe(expected.length);
  for (const b of reader.blocks) {
    const original = s.blocks.find((o) => o.offset === b.offset);
    if (original !== undefined && error === null) expect(b.rowCount).toBe(original.rowCount);
  }
  const report = await reader.verify();
  if (!report.ok) {
    expect(report.issues.length).toBeGreaterThan(0);
    for (const i of report.issues) expect(i.code).toMatch(/^E_TAPE_/);
    expect(report.firstBadOffset).not.toBeNull();
    expect(report.firstBadOffset!).toBeLessThanOrEqual(damagedAt);
  }
  await reader.close();
  const outcome = error !== null ? "read failed" : reader.sealed ? "read all" : "recovered";
  return { outcome, ok: report.ok };
}

describe("single-byte corruption", () => {
  it("the samples are valid, have several blocks, and verify", async () => {
    for (const s of samples) {
      expect(s.blocks.length).toBeGreaterThanOrEqual(10);
      const reader = await TapeReader.open(new BytesSource(s.bytes));
      expect((await reader.verify()).ok).toBe(true);
      expect((await drainRecords(reader)).records.length).toBe(36);
    }
  });

  it("flipping any byte never yields a wrong record, and verify() reports every flip", {
    timeout: 60_000,
  }, async () => {
    const missed: string[] = [];
    const outcomes = new Map<Outcome, number>();
    for (const s of samples) {
      for (let offset = 0; offset < s.bytes.length; offset++) {
        const bad = s.bytes.slice();
        bad[offset]! ^= ((offset * 37) % 255) + 1;
        const { outcome, ok } = await readDamaged(s, bad, offset);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (ok) missed.push(`${s.codec}@${offset}`);
      }
    }
    expect(missed).toEqual([]);
    // Header flips fail at open, block flips while reading, footer and trailer flips fall back to the scan:
    // no flip goes unnoticed by a plain read.
    for (const o of ["open failed", "read failed", "recovered"] as const)
      expect(outcomes.get(o), o).toBeGreaterThan(0);
    expect(outcomes.get("read all")).toBeUndefined();
  });

  it("any offset, any xor mask (property)", { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1, 2),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (which, at, mask) => {
          const s = samples[which]!;
          const offset = at % s.bytes.length;
          const bad = s.bytes.slice();
          bad[offset]! ^= mask;
          const { ok } = await readDamaged(s, bad, offset);
          expect(ok).toBe(false);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("a flipped block byte makes reading throw E_TAPE_CRC at that block", async () => {
    for (const s of samples) {
      const b = s.blocks[4]!;
      const bad = s.bytes.slice();
      bad[b.offset + b.headerLength + 1]! ^= 0x10;
      const reader = await TapeReader.open(new BytesSource(bad));
      expect(reader.sealed).toBe(true);
      const { records, error } = await drainRecords(reader);
      const e = expectTapeError(error, ["E_TAPE_CRC"]);
      expect(e.offset).toBe(b.offset);
      expect(records.map(recordKey)).toEqual(expectedFor(s, s.blocks.slice(0, 4)));
      const report = await reader.verify();
      expect(report.ok).toBe(false);
      expect(report.issues.map((i) => i.code).sort()).toEqual(["E_TAPE_CRC", "E_TAPE_DIGEST"]);
    }
  });

  it("a flipped footer byte falls back to the scan, which returns every block", async () => {
    for (const s of samples) {
      const bad = s.bytes.slice();
      const { offset } = footerRange(bad);
      bad[offset + 20]! ^= 1;
      const reader = await TapeReader.open(new BytesSource(bad));
      expect(reader.sealed).toBe(false);
      expect(reader.recovery?.reason.code).toBe("E_TAPE_CRC");
      expect(reader.recovery?.stop?.code).toBe("E_TAPE_NO_TRAILER");
      expect(reader.blocks.length).toBe(s.blocks.length);
      expect((await drainRecords(reader)).records.map(recordKey)).toEqual(expectedFor(s, s.blocks));
      await expect(TapeReader.open(new BytesSource(bad), { recover: false })).rejects.toMatchObject({
        code: "E_TAPE_CRC",
      });
    }
  });
});

describe("truncation", () => {
  it("cutting at any offset either fails with a typed error or recovers exactly the whole blocks before the cut", {
    timeout: 60_000,
  }, async () => {
    for (const s of samples) {
      for (let cut = 0; cut < s.bytes.length; cut++) {
        const bytes = s.bytes.slice(0, cut);
        let reader: TapeReader;
        try {
          reader = await TapeReader.open(new BytesSource(bytes));
        } catch (err) {
          expectTapeError(err, ["E_TAPE_NOT_A_TAPE", "E_TAPE_TRUNCATED"]);
          expect(cut, `cut at ${cut} (${s.codec})`).toBeLessThan(s.headerLength);
          continue;
        }
        expect(cut).toBeGreaterThanOrEqual(s.headerLength);
        const whole = s.blocks.filter((b) => b.offset + b.length <= cut);
        const validEnd = whole.length === 0 ? s.headerLength : whole.at(-1)!.offset + whole.at(-1)!.length;
        expect(reader.sealed).toBe(false);
        expect(reader.blocks.map((b) => b.offset)).toEqual(whole.map((b) => b.offset));
        expect(reader.recovery).toMatchObject({ validEnd, droppedBytes: cut - validEnd });
        const { records, error } = await drainRecords(reader);
        expect(error).toBeNull();
        expect(records.map(recordKey)).toEqual(expectedFor(s, whole));
        expect((await reader.verify()).ok).toBe(false);
      }
    }
  });
});

describe("hostile lengths and counts", () => {
  const none = () => samples[0]!;
  /** Reads everything; returns the error (typed) or null. */
  async function readError(bytes: Uint8Array, recover = true): Promise<TapeError | null> {
    let reader: TapeReader;
    try {
      reader = await TapeReader.open(new BytesSource(bytes), { recover });
    } catch (err) {
      return expectTapeError(err);
    }
    const { error } = await drainRecords(reader);
    return error === null ? null : expectTapeError(error);
  }
  const BAD = ["E_TAPE_LIMIT", "E_TAPE_CORRUPT", "E_TAPE_TRUNCATED"];

  /** A sealed file whose block `i` is changed by `patch` and whose CRCs, index, digest and trailer all agree. */
  function withBlock(
    i: number,
    patch: (block: Uint8Array) => Uint8Array | undefined,
    s = none(),
  ): Uint8Array {
    const parts = disassemble(s.bytes);
    const b = parts.blocks[i]!;
    parts.blocks[i] = patch(b) ?? b;
    fixBlockCrc(parts.blocks[i]!);
    return assemble(parts);
  }

  it.each([
    ["rowCount 2^21", BLOCK.rowCount, 2 ** 21, "E_TAPE_LIMIT"],
    ["rowCount 2^32-1", BLOCK.rowCount, 2 ** 32 - 1, "E_TAPE_LIMIT"],
    ["rowCount 0", BLOCK.rowCount, 0, "E_TAPE_LIMIT"],
    ["rawLength 2^32-1", BLOCK.rawLength, 2 ** 32 - 1, "E_TAPE_LIMIT"],
    ["rawLength 64 MiB + 1", BLOCK.rawLength, 64 * 1024 * 1024 + 1, "E_TAPE_LIMIT"],
    ["length 2^32-1", BLOCK.length, 2 ** 32 - 1, "E_TAPE_CORRUPT"],
    ["length 65 MiB", BLOCK.length, 65 * 1024 * 1024, "E_TAPE_TRUNCATED"],
    ["length 10", BLOCK.length, 10, "E_TAPE_CORRUPT"],
  ] as const)(
    "a block header claiming %s (CRC, index and digest consistent) is rejected",
    async (_n, at, value, code) => {
      const bytes = withBlock(3, (b) => {
        setU32(b, at, value);
        return undefined;
      });
      const e = await readError(bytes);
      expect(e?.code).toBe(code);
      // The same block met by the forward scan (trailer removed): the scan stops before it.
      const open = bytes.slice(0, footerRange(bytes).offset);
      const reader = await TapeReader.open(new BytesSource(open));
      expect(reader.blocks.length).toBe(3);
      expect(reader.recovery?.stop?.code).toBe(code);
    },
  );

  it("a block claiming 2^20 rows with a few bytes of data fails quickly as corrupt", async () => {
    for (const s of samples) {
      const started = performance.now();
      const e = await readError(withBlock(3, (b) => void setU32(b, BLOCK.rowCount, 2 ** 20), s));
      expect(e?.code).toMatch(/^E_TAPE_(CORRUPT|LIMIT)$/);
      expect(performance.now() - started).toBeLessThan(2000);
    }
  });

  it("a compressed payload claiming more than the header's raw length is rejected before decompressing", async () => {
    const lz4 = samples[1]!;
    // lz4 bodies start with the u32 uncompressed length.
    const e = await readError(withBlock(2, (b) => void setU32(bodyOf(b), 0, 2 ** 31), lz4));
    expect(e?.code).toBe("E_TAPE_CORRUPT");
    expect(e?.field).toBe("body");
    const zstd = samples[2]!;
    // zstd frame header byte: Frame_Content_Size_flag 3 (8-byte size) claiming 2^40 bytes.
    const z = withBlock(
      2,
      (b) => {
        const body = bodyOf(b);
        const frame = new Uint8Array(body.length + 16);
        frame.set([0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0, 0, 0, 0, 0, 1, 0, 0]);
        return withBody(b, frame);
      },
      zstd,
    );
    const ez = await readError(z);
    expect(ez?.code).toBe("E_TAPE_CORRUPT");
  });

  it("a column directory claiming 127 columns, or a column longer than the body, is rejected", async () => {
    // Codec none: the stored body is the raw body, which starts with the varint column count.
    const many = withBlock(0, (b) => {
      bodyOf(b)[0] = 0x7f;
      return undefined;
    });
    expect((await readError(many))?.code).toBe("E_TAPE_LIMIT");
    const long = withBlock(0, (b) => {
      // count, then id, encoding, flags, scale, varint length of the first column
      bodyOf(b)[5] = 0x7f;
      return undefined;
    });
    expect(BAD).toContain((await readError(long))?.code);
  });

  it("a string length running past its column is rejected", async () => {
    const s = none();
    const parts = disassemble(s.bytes);
    const i = parts.blocks.findIndex((b) => b[BLOCK.kind] === 4);
    const block = parts.blocks[i]!;
    const body = bodyOf(block);
    // Find the message column (id 43) in the directory and make its first string claim 127 bytes.
    let at = 1;
    let dataAt = 0;
    const dir: { id: number; length: number }[] = [];
    for (let c = 0; c < body[0]!; c++) {
      dir.push({ id: body[at]!, length: body[at + 4]! });
      at += 5;
    }
    dataAt = at;
    for (const d of dir) {
      if (d.id === 43) break;
      dataAt += d.length;
    }
    expect(body[dataAt]).toBe("gap 3".length);
    body[dataAt] = 0x7f;
    fixBlockCrc(block);
    const e = await readError(assemble(parts));
    expect(e?.code).toBe("E_TAPE_CORRUPT");
    expect(e?.field).toBe("event.message");
  });

  it("footer counts beyond the footer's size are limits, and the scan still recovers every block", async () => {
    for (const [tag, name] of [
      [1, "symbols"],
      [2, "blocks"],
      [3, "stats"],
    ] as const) {
      const bytes = none().bytes.slice();
      bytes[sectionBody(bytes, tag)] = 0x7f;
      fixFooterCrc(bytes);
      const strict = await thrown(() => TapeReader.open(new BytesSource(bytes), { recover: false }));
      const e = expectTapeError(strict, ["E_TAPE_LIMIT", "E_TAPE_CORRUPT"]);
      expect(e.field?.startsWith(`${name}.`)).toBe(true);
      const reader = await TapeReader.open(new BytesSource(bytes));
      expect(reader.recovery?.reason.code).toBe(e.code);
      expect(reader.blocks.length).toBe(none().blocks.length);
    }
  });

  it("a footer entry pointing outside the body, or longer than a block can be, is rejected", async () => {
    // First entry: u64 offset, then u32 length. 68157440 is the largest block length (docs/FORMAT.md §10.1).
    for (const [length, field] of [
      [68157440, "footer.blocks"],
      [2 ** 31, "block.length"],
    ] as const) {
      const bytes = none().bytes.slice();
      const entries = sectionBody(bytes, 2) + 1;
      setU32(bytes, entries + 8, length);
      fixFooterCrc(bytes);
      const e = expectTapeError(
        await thrown(() => TapeReader.open(new BytesSource(bytes), { recover: false })),
      );
      expect(e.code).toBe("E_TAPE_CORRUPT");
      expect(e.field).toBe(field);
    }
  });

  it("metadata: a key `__proto__` is an entry like any other; a key given twice is rejected", async () => {
    const bytes = encodeTape(sampleRecords(), {
      exchange: "x",
      meta: JSON.parse('{"__proto__":"p","k":"v"}'),
    });
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(Object.entries(reader.header.meta)).toEqual([
      ["__proto__", "p"],
      ["k", "v"],
    ]);
    // Both keys are 1-byte strings after a u16 length: the second key, `b`, becomes `a`.
    const twice = encodeTape(sampleRecords(), { exchange: "x", meta: { a: "1", b: "2" } });
    const parts = disassemble(twice);
    const h = parts.header;
    const second = Buffer.from(h).indexOf(Buffer.from([1, 0, 0x62, 1, 0, 0x32]));
    expect(second).toBeGreaterThan(0);
    h[second + 2] = 0x61;
    fixHeaderCrc(h);
    const e = await readError(assemble(parts));
    expect(e?.code).toBe("E_TAPE_CORRUPT");
    expect(e?.field).toBe("meta.key");
  });

  it("metadata is written in the order of its keys' UTF-8 bytes, not of JavaScript's UTF-16 units", async () => {
    // U+FFFD is EF BF BD, U+1F600 is F0 9F 98 80 in UTF-8; in UTF-16 the emoji (D83D DE00) sorts first.
    const bytes = encodeTape([], { exchange: "x", meta: { "\u{1F600}": "b", "\uFFFD": "a", z: "c" } });
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(Object.keys(reader.header.meta)).toEqual(["z", "\uFFFD", "\u{1F600}"]);
  });

  it("a known column given twice in a block is E_TAPE_CORRUPT: neither copy is taken", async () => {
    // Codec none: the stored body is the raw body. This sample's blocks are small: every varint is one byte.
    const bytes = withBlock(0, (b) => {
      const body = bodyOf(b);
      const count = body[0]!;
      const dirEnd = 1 + 5 * count;
      const first = body.subarray(1, 6);
      expect(first[4]).toBeLessThan(0x80);
      const out = Buffer.concat([
        Uint8Array.of(count + 1),
        body.subarray(1, dirEnd),
        first,
        body.subarray(dirEnd),
        body.subarray(dirEnd, dirEnd + first[4]!),
      ]);
      return withBody(b, out);
    });
    const e = await readError(bytes);
    expect(e?.code).toBe("E_TAPE_CORRUPT");
    expect(e?.field).toMatch(/\.ts$/);
    expect(e?.message).toContain("given twice");
  });

  it("a known footer section given twice is E_TAPE_CORRUPT, and the scan still recovers every block", async () => {
    const parts = disassemble(none().bytes);
    // A second stats section (no kinds) before the one the footer always has; unknown tags may repeat.
    parts.leadingSections = [{ tag: 3, body: Uint8Array.of(0) }];
    parts.extraSections = [
      { tag: 9, body: Uint8Array.of(1) },
      { tag: 9, body: Uint8Array.of(2) },
    ];
    const bytes = assemble(parts);
    const e = expectTapeError(
      await thrown(() => TapeReader.open(new BytesSource(bytes), { recover: false })),
    );
    expect(e.code).toBe("E_TAPE_CORRUPT");
    expect(e.field).toBe("footer.section");
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(reader.recovery?.reason.code).toBe("E_TAPE_CORRUPT");
    expect(reader.blocks.length).toBe(none().blocks.length);
    parts.leadingSections = [];
    expect((await TapeReader.open(new BytesSource(assemble(parts)), { recover: false })).sealed).toBe(true);
  });

  it("a trailer whose u64 field is 2^53 or more is no trailer: the file is scanned", async () => {
    // footerOffset at trailer offset 0, fileLength at 16: their high words at +4.
    for (const at of [4, 20]) {
      const bytes = none().bytes.slice();
      setU32(bytes, bytes.length - 32 + at, 0x200000);
      const e = expectTapeError(
        await thrown(() => TapeReader.open(new BytesSource(bytes), { recover: false })),
      );
      expect(e.code).toBe("E_TAPE_NO_TRAILER");
      const reader = await TapeReader.open(new BytesSource(bytes));
      expect(reader.recovery?.reason.code).toBe("E_TAPE_NO_TRAILER");
      expect(reader.blocks.length).toBe(none().blocks.length);
    }
  });

  it("the forward scan reports a damaged symbol as a CRC failure, and a second symbol for an id as corrupt", async () => {
    const s = none();
    const unsealed = s.bytes.slice(0, footerRange(s.bytes).offset);
    // The second block of the first block's symbol: its id was seen, with the first block's symbol.
    const second = s.blocks.findIndex((b, i) => i > 0 && b.symbolId === s.blocks[0]!.symbolId);
    expect(second).toBeGreaterThan(0);
    expect(s.blocks[second]!.symbol.length).toBeGreaterThan(0);
    const at = s.blocks[second]!.offset + BLOCK.fixed;
    const scan = async (bytes: Uint8Array) => {
      const reader = await TapeReader.open(new BytesSource(bytes));
      return { stop: reader.recovery?.stop ?? null, blocks: reader.blocks.length };
    };
    const damaged = unsealed.slice();
    damaged[at]! ^= 0x01;
    const d = await scan(damaged);
    expect(d.stop?.code).toBe("E_TAPE_CRC");
    expect(d.blocks).toBe(second);
    // The same change with the block's CRC made to match: a file that names two symbols with one id.
    const clash = unsealed.slice();
    clash[at]! ^= 0x01;
    fixBlockCrc(
      clash.subarray(s.blocks[second]!.offset, s.blocks[second]!.offset + s.blocks[second]!.length),
    );
    const c = await scan(clash);
    expect(c.stop?.code).toBe("E_TAPE_CORRUPT");
    expect(c.stop?.field).toBe("block.symbolId");
    expect(c.blocks).toBe(second);
  });

  it("header length and string claims are bounded", async () => {
    const s = none();
    const huge = s.bytes.slice();
    setU32(huge, 12, 2 ** 32 - 1);
    expect((await readError(huge))?.code).toBe("E_TAPE_CORRUPT");
    const max = s.bytes.slice();
    setU32(max, 12, 64 * 1024);
    expect((await readError(max))?.code).toMatch(/^E_TAPE_(TRUNCATED|CRC)$/);
    // exchange: u16 length at 36; claim 65535 bytes with a valid header CRC
    const parts = disassemble(s.bytes);
    view(parts.header).setUint16(36, 0xffff, true);
    fixHeaderCrc(parts.header);
    expect((await readError(assemble(parts)))?.code).toBe("E_TAPE_LIMIT");
    // meta count beyond 256 (after "x" exchange and an empty capture id: 36 + 2 + 1 + 2)
    const meta = disassemble(s.bytes);
    expect(view(meta.header).getUint16(41, true)).toBe(1);
    view(meta.header).setUint16(41, 0xffff, true);
    fixHeaderCrc(meta.header);
    expect((await readError(assemble(meta)))?.code).toBe("E_TAPE_LIMIT");
  });
});

describe("a block header's time range", () => {
  it("that is not its rows' is E_TAPE_CORRUPT, never rows outside the range asked for", async () => {
    const trade = (ts: bigint) =>
      ({ kind: "trade", symbol: "S", ts, price: "1", size: "1", side: "buy" }) as const;
    const bytes = copy(encodeTape([trade(1000n), trade(5000n)], { exchange: "x" }, { codec: "none" }));
    const reader = await TapeReader.open(new BytesSource(bytes));
    expect(reader.blocks).toHaveLength(1);
    const block = reader.blocks[0]!;
    // The header and its footer entry both say 1000..1000: consistent with each other, not with the rows.
    view(bytes).setBigInt64(block.offset + 32, 1000n, true);
    fixBlockCrc(bytes.subarray(block.offset, block.offset + block.length));
    view(bytes).setBigInt64(sectionBody(bytes, 2) + 1 + 34, 1000n, true);
    fixFooterCrc(bytes);
    const lying = await TapeReader.open(new BytesSource(bytes), { recover: false });
    expect(lying.blocks[0]!.maxTs).toBe(1000n);
    const { error } = await drainRecords(lying);
    const e = expectTapeError(error, ["E_TAPE_CORRUPT"]);
    expect(e.field).toBe("trade.ts");
    expect(e.offset).toBe(block.offset);
  });
});

describe("timestamps outside [0, 2^63 − 1]", () => {
  /** A raw block of `rows` rows with these ts and recvTs columns, decoded. */
  const decodeRaw = (ts: IntColumn, recvTs: IntColumn) => {
    const rows = ts.offsets.length;
    const data = {
      type: "bytes" as const,
      values: Array.from({ length: rows }, () => new Uint8Array(1)),
      valid: null,
    };
    const lo = ts.base + BigInt(Math.min(...ts.offsets));
    const hi = ts.base + BigInt(Math.max(...ts.offsets));
    const input = { kind: "raw", symbolId: 0, symbol: "S", rowCount: rows, minTs: lo, maxTs: hi } as const;
    const bytes = encodeBlock({ ...input, columns: { ts, recvTs, data } }, "none");
    return decodeBlock(bytes, decodeBlockHeader(bytes, 0, 0, bytes.length));
  };
  const int = (base: bigint, offsets: number[], valid: number[] | null = null): IntColumn => ({
    type: "int",
    base,
    offsets: Float64Array.from(offsets),
    scale: 0,
    valid: valid === null ? null : Uint8Array.from(valid),
  });
  const top = 2n ** 63n - 1n;
  const ok = int(1000n, [0, 0, 10]);

  it("are E_TAPE_CORRUPT naming the column, in ts and in recvTs, whatever the column's encoding", async () => {
    const cases: [IntColumn, IntColumn, string][] = [
      [int(-5n, [0, 10, 10]), ok, "raw.ts"],
      [int(top - 5n, [0, 10, 10]), ok, "raw.ts"],
      // Distinct values (INT_DELTA), repeated ones (INT_RUNS), absent rows.
      [ok, int(top - 5n, [0, 4, 10]), "raw.recvTs"],
      [ok, int(top - 5n, [0, 0, 10]), "raw.recvTs"],
      [ok, int(3n, [0, -7, -7]), "raw.recvTs"],
      [ok, int(top - 5n, [0, 0, 10], [1, 0, 1]), "raw.recvTs"],
      [ok, int(2n, [0, 0, -3], [0, 1, 1]), "raw.recvTs"],
    ];
    for (const [ts, recvTs, field] of cases) {
      const e = expectTapeError(await thrown(() => decodeRaw(ts, recvTs)), ["E_TAPE_CORRUPT"]);
      expect(e.field, `${ts.base} ${recvTs.base} ${recvTs.offsets}`).toBe(field);
      expect(e.offset).toBe(0);
    }
  });

  it("are read at both ends of the range", () => {
    const block = decodeRaw(int(0n, [0, 3, 3]), int(top - 10n, [0, 10, 10]));
    expect(block.header.minTs).toBe(0n);
    expect((block.columns["recvTs"] as IntColumn).base + 10n).toBe(top);
  });
});
