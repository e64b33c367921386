/**
 * The watch of a book taken over by a new connection's snapshot (Coinbase): which of the old connection's changes
 * stamped after the snapshot leave readers with a level the venue's book does not have.
 */
import { describe, expect, it } from "vitest";
import { LevelBook } from "../../src/recorder/level-book.js";
import { RecentLevels, TakeoverWatch } from "../../src/recorder/takeover-watch.js";

const S = 1_000_000_000n; // the snapshot's time
const ms = (n: number) => S + BigInt(n) * 1_000_000n;

function bookOf(bids: [string, string][]): LevelBook {
  const book = new LevelBook();
  for (const [price, size] of bids) book.bids.set(price, size);
  return book;
}

describe("takeover watch", () => {
  it("is not needed when the old connection wrote nothing after the snapshot's time", () => {
    const recent = new RecentLevels();
    recent.add(ms(-5), [["99", "1"]], []);
    expect(TakeoverWatch.start(recent, S)).toBeNull();
  });

  it("cannot tell when more changes came than are kept", () => {
    const recent = new RecentLevels();
    for (let i = 1; i <= 300; i++) recent.add(ms(i), [[String(i), "1"]], []);
    expect(TakeoverWatch.start(recent, S)).toBe("unknown");
    // All of them before the snapshot: nothing to watch, however many.
    expect(TakeoverWatch.start(recent, ms(1000))).toBeNull();
  });

  it("a later change of the level settles an old change; an unsettled one that the book has is right", () => {
    const recent = new RecentLevels();
    recent.add(ms(3), [["99", "5"]], []);
    recent.add(ms(4), [["98", "2"]], []);
    const watch = TakeoverWatch.start(recent, S);
    if (watch === null || watch === "unknown") throw new Error("expected a watch");
    const book = bookOf([
      ["99", "7"],
      ["98", "2"],
    ]);
    // 99 changed again after the old change: readers apply that one last.
    expect(watch.update(ms(6), [["99", "7"]], [], book)).toBeNull();
    expect(watch.done).toBe(false);
    // A second past the old changes: 98 is as the book has it.
    expect(watch.update(ms(1100), [["97", "1"]], [], book)).toBeNull();
    expect(watch.done).toBe(true);
  });

  it("an unsettled change the book does not have dates the loss", () => {
    const recent = new RecentLevels();
    recent.add(ms(3), [["99", "5"]], []);
    recent.add(ms(8), [["98", "0"]], []);
    const watch = TakeoverWatch.start(recent, S);
    if (watch === null || watch === "unknown") throw new Error("expected a watch");
    const book = bookOf([
      ["99", "7"],
      ["98", "2"],
    ]);
    expect(watch.update(ms(500), [["96", "1"]], [], book)).toBeNull();
    expect(watch.update(ms(1100), [["97", "1"]], [], book)).toBe(ms(3));
    expect(watch.done).toBe(true);
  });
});
