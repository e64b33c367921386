/**
 * Each venue's recorded session (fixtures/sessions, made by make-sessions.ts from its simulator) through the
 * connector code of ingest gives exactly the golden records: a change in parsing or sequencing shows up as a diff.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goldenRecords } from "../../fixtures/sessions/golden.js";
import { VENUE_IDS } from "../../src/recorder/connectors/index.js";

const dir = join(import.meta.dirname, "..", "..", "fixtures", "sessions");

describe.each(VENUE_IDS)("the recorded %s session", (venue) => {
  it("ingests to the golden records, with no loss and no bad frame", async () => {
    const capture = join(dir, `${venue}.jsonl`);
    const want = await readFile(join(dir, `${venue}.expected.ndjson`), "utf8");
    const got = await goldenRecords(venue, capture);
    expect(got).toBe(want);
    const { counters, records } = JSON.parse(got.trim().split("\n").at(-1)!) as {
      counters: Record<string, number>;
      records: Record<string, number>;
    };
    expect([
      counters["gaps"],
      counters["badFrames"],
      counters["checksumFailures"],
      counters["duplicates"],
    ]).toEqual([0, 0, 0, 0]);
    expect(records["book"]).toBeGreaterThan(50);
    expect(records["trade"]).toBeGreaterThan(0);
    expect(records["bbo"]).toBeGreaterThan(0);
  });
});
