import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BytesSource,
  type Codec,
  encodeTape,
  type RecordInput,
  TapeEncoder,
  TapeError,
  TapeReader,
  type TapeRecord,
  TapeValueError,
} from "../../src/index.js";
import {
  assemble,
  BLOCK,
  copy,
  disassemble,
  drainRecords,
  expectTapeError,
  fixBlockCrc,
  fixHeaderCrc,
  footerRange,
  readAll,
  recordKey,
  sampleRecords,
  setU32,
  streams,
  T0,
  thrown,
  view,
} from "./helpers.js";

const CODECS = ["none", "lz4", "zstd"] as const;
const sealed = (codec: Codec = "zstd") =>
  copy(encodeTape(sampleRecords(), { exchange: "x", meta: { k: "v" } }, { codec, policy: { maxRows: 4 } }));
const open = (bytes: Uint8Array, name?: string) => TapeReader.open(new BytesSource(bytes, name));

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ticktape-errors-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("versions", () => {
  it("a newer major version is E_TAPE_VERSION, with or without a consistent header CRC", async () => {
    for (const fix of [false, true]) {
      for (const major of [2, 0, 0xffff]) {
        const bytes = sealed();
        view(bytes).setUint16(8, major, true);
        if (fix) fixHeaderCrc(bytes.subarray(0, view(bytes).getUint32(12, true)));
        const e = expectTapeError(await thrown(() => open(bytes, "new.tape")), ["E_TAPE_VERSION"]);
        expect(e).toMatchObject({ offset: 8, field: "version", file: "new.tape" });
        expect(e.message).toContain(`${major}.1`);
        // No recovery can read a file of another major version.
        await expect(TapeReader.open(new BytesSource(bytes), { recover: true })).rejects.toMatchObject({
          code: "E_TAPE_VERSION",
        });
      }
    }
  });

  it("the layout model rebuilds every sample byte for byte", () => {
    for (const codec of CODECS) {
      const bytes = sealed(codec);
      expect(Buffer.compare(assemble(disassemble(bytes)), bytes)).toBe(0);
    }
  });

  describe("a newer minor version stays readable", () => {
    /** minor 2, extra header fields, unknown footer sections, a block of unknown kind with its stats entry. */
    function newerMinor(codec: Codec): Uint8Array {
      const parts = disassemble(sealed(codec));
      const old = parts.header;
      const extra = new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
      const header = new Uint8Array(old.length + extra.length);
      header.set(old.subarray(0, old.length - 4));
      header.set(extra, old.length - 4);
      view(header).setUint16(10, 2, true);
      setU32(header, 12, header.length);
      fixHeaderCrc(header);
      parts.header = header;
      const unknown = copy(parts.blocks[1]!);
      unknown[BLOCK.kind] = 9;
      fixBlockCrc(unknown);
      parts.blocks.splice(3, 0, unknown);
      parts.leadingSections.push({ tag: 200, body: new Uint8Array([1, 2, 3]) });
      parts.extraSections.push(
        { tag: 9, body: new Uint8Array(0) },
        { tag: 77, body: new Uint8Array(40).fill(7) },
      );
      return assemble(parts);
    }

    it.each(CODECS)("%s: records, index and verify()", async (codec) => {
      const bytes = newerMinor(codec);
      const { reader, records } = await readAll(bytes);
      expect(reader.sealed).toBe(true);
      expect(reader.header).toMatchObject({ major: 1, minor: 2, exchange: "x", meta: { k: "v" } });
      expect(reader.blocks.filter((b) => b.kind === null).map((b) => b.kindId)).toEqual([9]);
      expect(reader.selectBlocks().every((b) => b.kind !== null)).toBe(true);
      expect(reader.footer?.stats.trade?.rows).toBe(8);
      const want = streams(sampleRecords());
      const got = streams(records);
      expect(got).toEqual(want);
      const report = await reader.verify();
      expect(report.issues).toEqual([]);
      expect(report).toMatchObject({ ok: true, digest: "ok", rows: 36 });
      // Reading the unknown block on purpose is a version error, not corruption.
      const unknown = reader.blocks.find((b) => b.kind === null)!;
      await expect(reader.readBlock(unknown)).rejects.toMatchObject({
        code: "E_TAPE_VERSION",
        offset: unknown.offset,
      });
    });

    it.each(CODECS)("%s: the forward scan (no trailer) skips the unknown block too", async (codec) => {
      const bytes = newerMinor(codec);
      const body = bytes.subarray(0, footerRange(bytes).offset);
      const { reader, records } = await readAll(body);
      expect(reader.sealed).toBe(false);
      expect(reader.recovery?.stop).toBeNull();
      expect(reader.blocks.some((b) => b.kind === null)).toBe(true);
      expect(streams(records)).toEqual(streams(sampleRecords()));
    });
  });
});

describe("not a tape", () => {
  it.each([
    ["an empty file", new Uint8Array(0)],
    ["a JSON file", new TextEncoder().encode(JSON.stringify({ kind: "trade", price: "1" }))],
    ["a long JSON file", new TextEncoder().encode(JSON.stringify({ data: "x".repeat(5000) }))],
    ["the magic alone", new TextEncoder().encode("TICKTAPE")],
    ["a lowercase magic", new TextEncoder().encode("ticktape".padEnd(100, "\0"))],
    ["a gzip header", new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...new Uint8Array(40)])],
  ])("%s is E_TAPE_NOT_A_TAPE", async (_name, bytes) => {
    const e = expectTapeError(await thrown(() => open(bytes, "x.tape")), ["E_TAPE_NOT_A_TAPE"]);
    expect(e.offset).toBe(0);
    expect(e.file).toBe("x.tape");
  });

  it("random bytes are E_TAPE_NOT_A_TAPE", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        fc.pre(Buffer.from(bytes.subarray(0, 8)).toString("latin1") !== "TICKTAPE");
        const e = expectTapeError(await thrown(() => open(bytes)));
        expect(e.code).toBe("E_TAPE_NOT_A_TAPE");
      }),
      { numRuns: 300 },
    );
  });

  it("random bytes after a valid magic never escape as untyped errors", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (rest) => {
        const bytes = new Uint8Array(8 + rest.length);
        bytes.set(new TextEncoder().encode("TICKTAPE"));
        bytes.set(rest, 8);
        let reader: TapeReader;
        try {
          reader = await open(bytes);
        } catch (err) {
          expectTapeError(err);
          return;
        }
        const { error } = await drainRecords(reader);
        if (error !== null) expectTapeError(error);
      }),
      { numRuns: 300 },
    );
  });

  it("files on disk: a JSON file is E_TAPE_NOT_A_TAPE naming the path, a missing file E_TAPE_IO", async () => {
    const json = join(dir, "records.json");
    await writeFile(json, JSON.stringify([{ kind: "trade" }]));
    const e = expectTapeError(await thrown(() => TapeReader.open(json)), ["E_TAPE_NOT_A_TAPE"]);
    expect(e.file).toBe(json);
    const missing = expectTapeError(await thrown(() => TapeReader.open(join(dir, "nope.tape"))), [
      "E_TAPE_IO",
    ]);
    expect(missing.file).toBe(join(dir, "nope.tape"));
  });
});

describe("append rejects values it cannot store exactly", () => {
  const good = (i: number): TapeRecord => ({
    kind: "trade",
    symbol: "A",
    ts: T0 + BigInt(i),
    price: `100.${i}1`,
    size: "1",
    side: "buy",
    tradeId: String(i),
  });
  const trade = (over: Record<string, unknown>): RecordInput => ({ ...good(0), ...over }) as RecordInput;
  const book = (over: Record<string, unknown>): RecordInput =>
    ({
      kind: "book",
      symbol: "A",
      ts: T0,
      side: "bid",
      price: "1",
      size: "1",
      snapshot: false,
      ...over,
    }) as RecordInput;
  const event = (over: Record<string, unknown>): RecordInput =>
    ({ kind: "event", symbol: "A", ts: T0, type: "info", message: "m", ...over }) as RecordInput;

  const BAD: [string, RecordInput, string][] = [
    ["19 significant digits", trade({ price: "1234567890123456789" }), "price"],
    ["19 significant digits after the point", trade({ size: "0.1234567890123456789" }), "size"],
    ["a NaN price", trade({ price: Number.NaN }), "price"],
    ["an Infinity size", trade({ size: Number.POSITIVE_INFINITY }), "size"],
    ['the price "NaN"', trade({ price: "NaN" }), "price"],
    ['the price "1,5"', trade({ price: "1,5" }), "price"],
    ["a missing size", trade({ size: undefined }), "size"],
    ["a bigint price", trade({ price: 5n }), "price"],
    ["a negative timestamp", trade({ ts: -1n }), "ts"],
    ["a negative number timestamp", trade({ ts: -1 }), "ts"],
    ["the timestamp 2^63", trade({ ts: 2n ** 63n }), "ts"],
    ["a timestamp beyond 2^63", trade({ ts: 2n ** 64n + 5n }), "ts"],
    ["the timestamp string 2^63", trade({ ts: "9223372036854775808" }), "ts"],
    ["an unsafe number timestamp 1.7e18", trade({ ts: 1.7e18 }), "ts"],
    ["a fractional timestamp", trade({ ts: 1.5 }), "ts"],
    ['the timestamp "1e18"', trade({ ts: "1e18" }), "ts"],
    ["a date timestamp", trade({ ts: new Date() }), "ts"],
    ["a negative recvTs", trade({ recvTs: -5n }), "recvTs"],
    ["an unknown kind", trade({ kind: "quote" }), "kind"],
    ["an unknown trade side", trade({ side: "long" }), "side"],
    ["a book side on a trade", trade({ side: "bid" }), "side"],
    ["a trade side on a book row", book({ side: "buy" }), "side"],
    ["an unknown event type", event({ type: "panic" }), "type"],
    ["a non-boolean snapshot", book({ snapshot: "yes" }), "snapshot"],
    ["a seq beyond int64", book({ seq: 2n ** 63n }), "seq"],
    ["a fractional seq", book({ seq: 1.5 }), "seq"],
    ['a seq "1e3"', book({ seq: "1e3" }), "seq"],
    ["a non-string message", event({ message: 42 }), "message"],
    ["a non-string trade id", trade({ tradeId: 5 }), "tradeId"],
    ["a trade id of 257 characters", trade({ tradeId: "x".repeat(257) }), "tradeId"],
    [
      "raw data as a string",
      { kind: "raw", symbol: "A", ts: T0, data: "abc" } as unknown as RecordInput,
      "data",
    ],
    ['a bid price "x"', { kind: "bbo", symbol: "A", ts: T0, bidPrice: "x" } as RecordInput, "bidPrice"],
  ];

  it.each(BAD)(
    "%s: TapeValueError, and everything appended before is still written",
    async (_name, bad, field) => {
      for (const codec of CODECS) {
        const chunks: Uint8Array[] = [];
        const enc = new TapeEncoder(
          { exchange: "", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} },
          (b) => chunks.push(copy(b)),
          { codec, policy: { maxRows: 3 } },
        );
        const appended: TapeRecord[] = [];
        for (let i = 0; i < 5; i++) {
          enc.append(good(i));
          appended.push(good(i));
        }
        let caught: unknown = null;
        try {
          enc.append(bad);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(TapeValueError);
        expect(caught).toMatchObject({ code: "E_TAPE_VALUE", field });
        expect(enc.rows).toBe(5);
        enc.append(good(5));
        appended.push(good(5));
        enc.seal();
        const { reader, records } = await readAll(Buffer.concat(chunks));
        expect(records.map(recordKey)).toEqual(appended.map(recordKey));
        expect((await reader.verify()).ok).toBe(true);
      }
    },
  );

  it.each([
    ["a null record", null, "record"],
    [
      "a non-string symbol",
      { ...{ kind: "trade", ts: 1n, price: "1", size: "1", side: "buy" }, symbol: 42 },
      "symbol",
    ],
    [
      "a symbol of 257 bytes",
      { kind: "trade", symbol: "é".repeat(129), ts: 1n, price: "1", size: "1", side: "buy" },
      "symbol",
    ],
  ])("%s: E_TAPE_VALUE", (_name, bad, field) => {
    const enc = new TapeEncoder(
      { exchange: "", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} },
      () => {},
    );
    const e = expectTapeError(
      (() => {
        try {
          enc.append(bad as unknown as RecordInput);
        } catch (err) {
          return err;
        }
        return null;
      })(),
      ["E_TAPE_VALUE"],
    );
    expect(e.field).toBe(field);
  });

  it("a rejected record of a new symbol leaves no trace in the symbol dictionary", async () => {
    const chunks: Uint8Array[] = [];
    const enc = new TapeEncoder(
      { exchange: "", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} },
      (b) => chunks.push(copy(b)),
    );
    enc.append(good(0));
    expect(() => enc.append({ ...good(1), symbol: "GHOST", price: "NaN" } as RecordInput)).toThrow(
      TapeValueError,
    );
    expect(() =>
      enc.append({ ...good(1), symbol: "GHOST2", kind: "quote" } as unknown as RecordInput),
    ).toThrow(TapeValueError);
    enc.seal();
    const { reader, records } = await readAll(Buffer.concat(chunks));
    expect(records.length).toBe(1);
    expect(reader.symbols).toEqual(["A"]);
  });

  it.each([
    [
      "an event message",
      { kind: "event", symbol: "A", ts: T0, type: "info", message: "half \uD83D of an emoji" },
    ],
    ["a trade id", { ...good(1), tradeId: "id-\uDC00" }],
    ["a symbol", { ...good(2), symbol: "sym\uD800" }],
  ] as [string, RecordInput][])(
    "%s with a lone surrogate is rejected or stored exactly",
    async (_name, rec) => {
      let bytes: Uint8Array;
      try {
        bytes = encodeTape([rec]);
      } catch (err) {
        expect(err).toMatchObject({ code: "E_TAPE_VALUE" });
        return;
      }
      const { records } = await readAll(bytes);
      expect(records.map(recordKey)).toEqual([recordKey(rec)]);
    },
  );

  it("appending to a sealed encoder is E_TAPE_STATE", () => {
    const enc = new TapeEncoder(
      { exchange: "", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} },
      () => {},
    );
    enc.append(good(0));
    enc.seal();
    expect(() => enc.append(good(1))).toThrow(expect.objectContaining({ code: "E_TAPE_STATE" }));
    expect(() => enc.seal()).toThrow(expect.objectContaining({ code: "E_TAPE_STATE" }));
  });
});

describe("block policy and codec options", () => {
  const header = { exchange: "", captureId: "", periodStart: 0n, periodEnd: 0n, meta: {} };

  it.each([0, -1, 2 ** 20 + 1, Number.NaN])("maxRows %s is E_TAPE_VALUE", (maxRows) => {
    expect(() => new TapeEncoder(header, () => {}, { policy: { maxRows } })).toThrow(
      expect.objectContaining({ code: "E_TAPE_VALUE", field: "policy.maxRows" }),
    );
  });

  it("an unknown codec is E_TAPE_VALUE", () => {
    expect(() => new TapeEncoder(header, () => {}, { codec: "gzip" as Codec })).toThrow(
      expect.objectContaining({ code: "E_TAPE_VALUE", field: "codec" }),
    );
  });

  it.each([Number.POSITIVE_INFINITY, 1.5, Number.NaN, -1])(
    "flushIntervalNs %s is either rejected up front or works",
    async (flushIntervalNs) => {
      const chunks: Uint8Array[] = [];
      let enc: TapeEncoder;
      try {
        enc = new TapeEncoder(header, (b) => chunks.push(copy(b)), { policy: { flushIntervalNs } });
      } catch (err) {
        expect(err).toBeInstanceOf(TapeError);
        expect(err).toMatchObject({ code: "E_TAPE_VALUE", field: "policy.flushIntervalNs" });
        return;
      }
      const recs = [0, 1, 2].map(
        (i) => ({ kind: "trade", symbol: "A", ts: BigInt(i), price: "1", size: "1", side: "buy" }) as const,
      );
      for (const r of recs) enc.append(r);
      enc.seal();
      const { records } = await readAll(Buffer.concat(chunks));
      expect(records.length).toBe(3);
    },
  );
});
