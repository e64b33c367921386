import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeFixture, type FixtureSpec } from "../fixtures/fixture-spec.js";
import { BytesSource, type JsonRecord, recordToJson, TapeReader } from "../src/index.js";

const dir = join(import.meta.dirname, "..", "fixtures");
const names = (await readdir(dir)).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));

/** Records grouped by (kind, symbol), each group in order: the reader returns blocks, not the append order. */
function streams(records: JsonRecord[]): Map<string, JsonRecord[]> {
  const m = new Map<string, JsonRecord[]>();
  for (const r of records) {
    const key = `${r["kind"]}/${r["symbol"]}`;
    m.set(key, [...(m.get(key) ?? []), r]);
  }
  return m;
}

describe("golden fixtures", () => {
  it("has the fixtures the spec promises", () => {
    expect(names.sort()).toEqual([
      "all-kinds-none",
      "all-kinds-zstd",
      "book-checkpoints-zstd",
      "book-lz4",
      "trades-zstd",
      "truncated",
    ]);
  });

  for (const name of names) {
    describe(name, async () => {
      const spec = JSON.parse(await readFile(join(dir, `${name}.json`), "utf8")) as FixtureSpec;
      const file = spec.truncateAt === undefined ? `${name}.tape` : `${name}.tape.open`;
      const bytes = new Uint8Array(await readFile(join(dir, file)));

      it("encoding the JSON reproduces the file byte for byte", () => {
        expect(Buffer.compare(encodeFixture(spec), bytes)).toBe(0);
      });

      it("decodes to exactly the JSON's records", async () => {
        const reader = await TapeReader.open(new BytesSource(bytes, file));
        const got: JsonRecord[] = [];
        for await (const r of reader.records()) got.push(recordToJson(r));
        if (spec.truncateAt === undefined) {
          expect(reader.sealed).toBe(true);
          expect(streams(got)).toEqual(streams(spec.records));
          expect((await reader.verify()).ok).toBe(true);
        } else {
          expect(reader.sealed).toBe(false);
          expect(reader.recovery?.reason.code).toBe("E_TAPE_NO_TRAILER");
          expect(got).toEqual(spec.expectedRecords);
          expect(got.length).toBeLessThan(spec.records.length);
          const report = await reader.verify();
          expect(report.ok).toBe(false);
          expect(report.firstBadOffset).toBe(reader.recovery?.validEnd);
        }
        expect(reader.header.exchange).toBe(spec.header.exchange);
        expect(reader.header.periodStart).toBe(BigInt(spec.header.periodStart));
      });
    });
  }
});
