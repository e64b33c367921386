/**
 * The watch of a book taken over by a new connection's snapshot (Coinbase): readers hold a level at the old
 * connection's change stamped after the snapshot until a change stamped after it; wrong where the venue's size
 * (the new connection's) is another meanwhile.
 */
import { describe, expect, it } from "vitest";
import { LevelBook } from "../../src/recorder/level-book.js";
import { RecentLevels, TakeoverWatch } from "../../src/recorder/takeover-watch.js";

const S = 1_000_000_000n; // the snapshot's time
const ms = (n: number) => S + BigInt(n) * 1_000_000n;

/** The snapshot's book: bids 99 at 7, 98 at 2. */
function snapshot(): LevelBook {
  const book = new LevelBook();
  book.bids.set("99", "7");
  book.bids.set("98", "2");
  return book;
}

function watchOf(recent: RecentLevels): TakeoverWatch {
  const watch = TakeoverWatch.start(recent, S, snapshot());
  if (watch === null || watch === "unknown") throw new Error("expected a watch");
  return watch;
}

describe("takeover watch", () => {
  it("is not needed when the old connection wrote nothing after the snapshot's time", () => {
    const recent = new RecentLevels();
    recent.add(ms(-5), [["99", "1"]], []);
    expect(TakeoverWatch.start(recent, S, snapshot())).toBeNull();
  });

  it("cannot tell when more changes came than are kept", () => {
    const recent = new RecentLevels();
    for (let i = 1; i <= 300; i++) recent.add(ms(i), [[String(i), "1"]], []);
    expect(TakeoverWatch.start(recent, S, snapshot())).toBe("unknown");
    // All of them before the snapshot: nothing to watch, however many.
    expect(TakeoverWatch.start(recent, ms(1000), snapshot())).toBeNull();
  });

  it("old changes the venue has meanwhile are right: copies, or sizes the snapshot holds", () => {
    const recent = new RecentLevels();
    recent.add(ms(3), [["99", "5"]], []);
    recent.add(ms(4), [["98", "2"]], []); // the snapshot's size already
    const watch = watchOf(recent);
    // The new connection's copy of the change to 99, stamped later on its own clock: settles it.
    expect(watch.update(ms(6), [["99", "5"]], [])).toBeNull();
    expect(watch.done).toBe(false);
    // A second past the old changes: 98 is as the venue has it.
    expect(watch.update(ms(1100), [["97", "1"]], [])).toBeNull();
    expect(watch.done).toBe(true);
  });

  it("an old change held at another size than the venue's until a later change is wrong from its time", () => {
    const recent = new RecentLevels();
    recent.add(ms(8), [["99", "5"]], []);
    const watch = watchOf(recent);
    // Readers: 99 at 5 from 8 ms until the change at 9 ms; the venue had 7 (the snapshot's) meanwhile.
    expect(watch.update(ms(9), [["99", "6"]], [])).toBe(ms(8));
    expect(watch.done).toBe(true);
  });

  it("a change stamped before the old one moves the venue's size; a second later the sizes are compared", () => {
    const recent = new RecentLevels();
    recent.add(ms(3), [["99", "5"]], []);
    recent.add(ms(8), [["98", "0"]], []);
    const watch = watchOf(recent);
    expect(watch.update(ms(2), [["98", "0"]], [])).toBeNull(); // the venue deleted 98 too, stamped earlier
    expect(watch.update(ms(500), [["96", "1"]], [])).toBeNull();
    // 99: readers end with 5, the venue has 7; 98: both deleted.
    expect(watch.update(ms(1100), [["97", "1"]], [])).toBe(ms(3));
    expect(watch.done).toBe(true);
  });
});
