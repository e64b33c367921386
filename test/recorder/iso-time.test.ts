/** Kraken and Coinbase date their messages in RFC 3339: read fast against the second read last, and exactly. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTime } from "../../src/common/time.js";
import { isoTimeOf } from "../../src/recorder/frame-fields.js";

const second = fc
  .integer({ min: 1_500_000_000, max: 1_900_000_000 })
  .map((s) => new Date(s * 1000).toISOString().slice(0, 19));
const fraction = fc.oneof(
  fc.constant(""),
  fc.stringMatching(/^\.[0-9]{1,9}$/),
  // Endings that are not a UTC fraction: read (or refused) as parseTime reads them.
  fc.constantFrom(".", ".1234567890", "+01:00", ".5+02:00", "x", ".12a"),
);

describe("isoTimeOf", () => {
  it("reads each time of a feed as parseTime does, times of one second after another included", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(second, fraction, fc.boolean()), { minLength: 1, maxLength: 30 }),
        (times) => {
          let previous = "";
          for (const [s, f, again] of times) {
            // Half the times share the second of the one before, as a feed's do.
            const text = `${again && previous !== "" ? previous : s}${f.startsWith("+") ? f : `${f}Z`}`;
            previous = text.slice(0, 19);
            let want: bigint | null;
            try {
              want = parseTime(text);
            } catch {
              want = null;
            }
            if (want === null) expect(() => isoTimeOf(text, "timestamp"), text).toThrow(/timestamp/);
            else expect(isoTimeOf(text, "timestamp"), text).toBe(want);
          }
        },
      ),
    );
  });

  it("refuses what the command line reads as a time but RFC 3339 does not", () => {
    for (const text of [
      "1795825460",
      "2026-11-28",
      "2026-11-28T10:00:00",
      "2026-11-28 10:00:00Z",
      "2026-11-28T10:00Z",
    ])
      expect(() => isoTimeOf(text, "time"), text).toThrow(/field time: expected an RFC 3339 time/);
  });

  it("keeps every digit of the fraction", () => {
    expect(isoTimeOf("2024-11-25T14:37:05.123456789Z", "t")).toBe(1732545425123456789n);
    expect(isoTimeOf("2024-11-25T14:37:05.5Z", "t")).toBe(1732545425500000000n);
    expect(isoTimeOf("2024-11-25T14:37:05Z", "t")).toBe(1732545425000000000n);
    expect(isoTimeOf("2024-11-25T14:37:05.000000001Z", "t")).toBe(1732545425000000001n);
  });
});
