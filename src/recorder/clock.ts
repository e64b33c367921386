/**
 * Wall-clock time in nanoseconds for receive timestamps: the epoch time read once, advanced by the monotonic
 * high-resolution timer, so stamps have ns resolution and never step back within a process. Tests inject a clock.
 */
export interface Clock {
  /** ns since the Unix epoch. */
  nowNs(): bigint;
}

export function systemClock(): Clock {
  const epochAtStart = BigInt(Date.now()) * 1_000_000n;
  const hrAtStart = process.hrtime.bigint();
  return { nowNs: () => epochAtStart + (process.hrtime.bigint() - hrAtStart) };
}

/** A clock that starts at `startNs` and runs at the real pace, or at `speed` times it. */
export function offsetClock(startNs: bigint, speed = 1): Clock {
  const hrAtStart = process.hrtime.bigint();
  return {
    nowNs: () => startNs + BigInt(Math.round(Number(process.hrtime.bigint() - hrAtStart) * speed)),
  };
}
