/** A day's manifest read back: anything that is not a whole manifest is `E_TAPE_MANIFEST`, never a crash. */
import { describe, expect, it } from "vitest";
import { buildManifest, type ManifestFile, parseManifest } from "../../src/sync/index.js";

const FILE: ManifestFile = {
  path: "2024-08-08/okx/okx-2024-08-08T00.pod-a.tape",
  size: 1234,
  checksums: { CRC64NVME: "AAAAAAAAAAA=", CRC32: "AAAAAA==" },
  digest: "ab".repeat(32),
  format: { major: 1, minor: 0 },
  exchange: "okx",
  captureId: "pod-a",
  symbols: ["BTC-USDT"],
  records: { trade: 10 },
  minTs: "1",
  maxTs: "2",
  events: [],
  eventCount: 0,
};

const good = () =>
  JSON.parse(
    JSON.stringify(
      buildManifest(
        {
          date: "2024-08-08",
          source: "/efs/ticks",
          destination: "s3://b/v1",
          createdBy: "test",
          verification: { deep: false, methods: { checksum: 1 } },
        },
        [FILE],
      ),
    ),
  );

describe("parseManifest", () => {
  it("reads a manifest as written", () => {
    const m = parseManifest(JSON.stringify(good()), "s3://b/v1/2024-08-08/_MANIFEST.json", "2024-08-08");
    expect(m.files[0]).toEqual(FILE);
    expect(m.totals).toEqual({ files: 1, bytes: 1234, records: { trade: 10 }, events: 0 });
  });

  // biome-ignore lint/suspicious/noExplicitAny: the parsed JSON, damaged field by field
  const damaged: [string, (m: Record<string, any>) => void][] = [
    ["checksums null", (m) => (m.files[0].checksums = null)],
    ["a checksum not text", (m) => (m.files[0].checksums.CRC32 = 5)],
    ["no totals", (m) => delete m.totals],
    ["totals null", (m) => (m.totals = null)],
    ["totals.bytes not a number", (m) => (m.totals.bytes = "1234")],
    ["totals.records absent", (m) => delete m.totals.records],
    ["files not a list", (m) => (m.files = {})],
    ["a digest too short", (m) => (m.files[0].digest = "ab")],
    // A file would be compared with its size alone, or with nothing.
    ["no CRC64NVME", (m) => (m.files[0].checksums = { MD5: "x" })],
    ["empty checksums", (m) => (m.files[0].checksums = {})],
    ["a CRC32 of the wrong length", (m) => (m.files[0].checksums.CRC32 = "AAAA")],
    ["a path outside the day", (m) => (m.files[0].path = "../../etc/passwd")],
    ["a path of another day", (m) => (m.files[0].path = "2024-08-09/okx/x.tape")],
    ["a path listed twice", (m) => m.files.push({ ...m.files[0] })],
    ["a negative size", (m) => (m.files[0].size = -1)],
  ];
  for (const [what, damage] of damaged) {
    it(`refuses a manifest with ${what}`, () => {
      const m = good();
      damage(m);
      const where = "s3://b/v1/2024-08-08/_MANIFEST.json";
      expect(() => parseManifest(JSON.stringify(m), where, "2024-08-08")).toThrow(
        expect.objectContaining({ code: "E_TAPE_MANIFEST", file: where }),
      );
    });
  }
});
