/** The recorder's receive clock: ns resolution, never behind the wall clock's millisecond, never stepping back. */
import { describe, expect, it } from "vitest";
import { systemClock, systemClockOffset } from "../../src/recorder/clock.js";

describe("systemClock", () => {
  it("reads within the millisecond Date.now() reads (give or take 200 µs), and never steps back", async () => {
    const clock = systemClock();
    let last = 0n;
    for (let i = 0; i < 300; i++) {
      const before = BigInt(Date.now()) * 1_000_000n - 200_000n;
      const ns = clock.nowNs();
      const after = BigInt(Date.now() + 1) * 1_000_000n;
      // A clock started from Date.now() alone lags it by the dropped fraction of a millisecond: most of the time
      // more than 200 µs, and then readings fall before `before`.
      expect(ns >= before && ns < after, `${ns} outside [${before}, ${after})`).toBe(true);
      expect(ns > last).toBe(true);
      last = ns;
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1 + (i % 3)));
    }
  });

  it("is one clock for every thread given the same offset (feed threads stamp with the main thread's)", () => {
    const offset = systemClockOffset();
    const [a, b] = [systemClock(offset), systemClock(offset)];
    for (let i = 0; i < 1000; i++) {
      const first = a.nowNs();
      const second = b.nowNs();
      const third = a.nowNs();
      expect(first <= second && second <= third, `${first} ${second} ${third}`).toBe(true);
    }
  });
});
