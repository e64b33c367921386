/**
 * Wall-clock time in nanoseconds for receive timestamps: the epoch time read once, advanced by the monotonic
 * high-resolution timer, so stamps have ns resolution and never step back within a process. Tests inject a clock.
 */
export interface Clock {
  /** ns since the Unix epoch. */
  nowNs(): bigint;
}

/**
 * The wall clock in ns, as the monotonic clock plus `epochMinusHr` (by default measured now: `systemClockOffset`).
 * Every thread of a process reads the same monotonic clock: threads given one offset share one clock.
 */
export function systemClock(epochMinusHr = systemClockOffset()): Clock {
  return { nowNs: () => epochMinusHr + process.hrtime.bigint() };
}

/** The wall-clock time (ns since the epoch) at the monotonic clock's zero. */
export function systemClockOffset(): bigint {
  // Measured at the turn of a millisecond of Date.now(), which drops the fraction of a millisecond: an offset taken
  // anywhere else would lag the wall clock by up to 1 ms. A turn seen late (the thread was descheduled) makes it lag
  // by as much, so the best of three turns is taken.
  let offset: bigint | null = null;
  for (let i = 0; i < 3; i++) {
    const before = Date.now();
    let ms = Date.now();
    while (ms === before) ms = Date.now();
    const o = BigInt(ms) * 1_000_000n - process.hrtime.bigint();
    if (offset === null || o > offset) offset = o;
  }
  return offset!;
}

/** A clock that starts at `startNs` and runs at the real pace, or at `speed` times it. */
export function offsetClock(startNs: bigint, speed = 1): Clock {
  const hrAtStart = process.hrtime.bigint();
  return {
    nowNs: () => startNs + BigInt(Math.round(Number(process.hrtime.bigint() - hrAtStart) * speed)),
  };
}
