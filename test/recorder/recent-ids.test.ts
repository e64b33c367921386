import { describe, expect, it } from "vitest";
import { RecentIds, RecentIdsByKey } from "../../src/recorder/recent-ids.js";

describe("RecentIds", () => {
  it("takes growing ids and catches each one received again", () => {
    const r = new RecentIds(8);
    for (let i = 1; i <= 100; i++) expect(r.repeated(String(i))).toBe(false);
    for (let i = 93; i <= 100; i++) expect(r.repeated(String(i))).toBe(true);
  });

  it("takes a new id that arrives late, and catches it the second time", () => {
    const r = new RecentIds(8);
    for (const id of ["10", "12", "14"]) r.repeated(id);
    expect(r.repeated("11")).toBe(false);
    expect(r.repeated("13")).toBe(false);
    for (const id of ["10", "11", "12", "13", "14"]) expect(r.repeated(id)).toBe(true);
  });

  it("remembers the largest ids, sliding through its array many times", () => {
    const r = new RecentIds(16);
    // Pairs swapped (2, 1, 4, 3, …): each insertion lands one place before the end.
    for (let i = 1; i < 10_000; i += 2) {
      expect(r.repeated(String(i + 1))).toBe(false);
      expect(r.repeated(String(i))).toBe(false);
    }
    for (let i = 9985; i <= 10_000; i++) expect(r.repeated(String(i))).toBe(true);
    expect(r.repeated("9984")).toBe(false);
  });

  it("starts again when the ids restart below everything it remembers", () => {
    const r = new RecentIds(4);
    for (const id of ["100", "101", "102", "103"]) r.repeated(id);
    expect(r.repeated("1")).toBe(false);
    expect(r.repeated("2")).toBe(false);
    expect(r.repeated("1")).toBe(true);
    expect(r.repeated("103")).toBe(false);
  });

  it("matches a plain set on random streams of nearby ids with repeats", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const r = new RecentIds(64);
    const seen = new Set<number>();
    let top = 1_000_000_000_000;
    for (let i = 0; i < 20_000; i++) {
      // Mostly a next id (skipping some, which may come late), sometimes one a little behind (new or seen),
      // never below the largest 64.
      let id: number;
      if (random() < 0.7) {
        top += random() < 0.3 ? 2 : 1;
        id = top;
      } else id = top - Math.floor(random() * 30);
      expect(r.repeated(String(id))).toBe(seen.has(id));
      seen.add(id);
    }
  });

  it("keeps text ids (and digit strings it cannot hold as numbers) as text", () => {
    const r = new RecentIds(2);
    for (const id of ["a1", "0123", "1234567890123456789"]) expect(r.repeated(id)).toBe(false);
    expect(r.repeated("1234567890123456789")).toBe(true);
    expect(r.repeated("0123")).toBe(true);
    expect(r.repeated("123")).toBe(false);
    expect(r.repeated("a1")).toBe(false);
  });

  it("counts repeats per stream and symbol", () => {
    const r = new RecentIdsByKey();
    const counters = { duplicates: 0 };
    expect(r.repeated("trade", "BTCUSDT", "5", counters)).toBe(false);
    expect(r.repeated("trade", "ETHUSDT", "5", counters)).toBe(false);
    expect(r.repeated("bbo", "BTCUSDT", "5", counters)).toBe(false);
    expect(r.repeated("trade", "BTCUSDT", "5", counters)).toBe(true);
    expect(counters.duplicates).toBe(1);
  });
});
