/**
 * Kraken v2's book checksum: the documentation's worked example through the connector, and a property test against
 * an independent implementation (its own CRC-32 table, digits taken character by character) over random books
 * with the numbers that trip implementations: 0.00001, 0.00000001, trailing zeros, integers.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RecordInput } from "../../src/format/records.js";
import { readCapture } from "../../src/recorder/capture.js";
import { createConnector } from "../../src/recorder/connectors/index.js";
import { krakenChecksum } from "../../src/recorder/connectors/kraken.js";
import { Feed } from "../../src/recorder/feed.js";

const DOC = "fixtures/real/kraken-v2-doc-book-snapshot.jsonl";

const TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function plainCrc32(text: string): number {
  let c = 0xffffffff;
  for (const b of Buffer.from(text, "latin1")) c = TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function plainDigits(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ch === ".") continue;
    if (out === "" && ch === "0") continue;
    out += ch;
  }
  return out;
}
function plainChecksum(
  bids: { price: string; size: string }[],
  asks: { price: string; size: string }[],
): number {
  const parts: string[] = [];
  for (const l of asks.slice(0, 10)) parts.push(plainDigits(l.price), plainDigits(l.size));
  for (const l of bids.slice(0, 10)) parts.push(plainDigits(l.price), plainDigits(l.size));
  return plainCrc32(parts.join(""));
}

function session(frames: string[]) {
  const records: RecordInput[] = [];
  const connector = createConnector("kraken", { symbols: [], trades: true, book: true, bbo: true });
  const sent: string[] = [];
  const feed = new Feed(connector, { raw: false, sink: (r) => records.push(r), send: (t) => sent.push(t) });
  for (const text of frames) feed.receive({ kind: "frame", recvNs: null, text });
  return { stats: feed.stats, records, connector, sent };
}

describe("kraken v2 book checksum", () => {
  it("matches the documentation's worked example (3310070434), digits kept as sent", async () => {
    const frames: string[] = [];
    for await (const m of readCapture(DOC)) if (m.kind === "frame") frames.push(m.text);
    const s = session(frames);
    expect(s.stats.checksumsChecked).toBe(1);
    expect(s.stats.checksumFailures).toBe(0);
    expect(s.records.find((r) => r.kind === "book")).toMatchObject({ price: "45283.5", size: "0.10000000" });
    const book = s.connector.bookOf("BTC/USD")!.book;
    expect(krakenChecksum(book.bids.top(10), book.asks.top(10))).toBe(3310070434);
    // Re-printing the numbers (0.1 for 0.10000000) gives another checksum: the received digits matter.
    const reprinted = readFileSync(DOC, "utf8").replace(
      /"qty":([0-9.]+)/g,
      (_, q: string) => `"qty":${Number(q)}`,
    );
    expect(session([reprinted.trim()]).stats.checksumFailures).toBe(1);
  });

  it("equals an independent implementation over random books", () => {
    const decimal = fc.oneof(
      fc.constantFrom("0.00001", "0.00000001", "1", "100", "45281.0", "0.10000000", "2500.50"),
      fc
        .tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 8 }))
        .map(([n, d]) => (d === 0 ? String(n + 1) : (n / 10 ** d + 10 ** -d).toFixed(d))),
    );
    const side = fc.array(fc.record({ price: decimal, size: decimal }), { maxLength: 14 });
    fc.assert(
      fc.property(side, side, (bids, asks) => {
        expect(krakenChecksum(bids, asks)).toBe(plainChecksum(bids, asks));
      }),
      { numRuns: 500 },
    );
  });

  it("an update that breaks the checksum loses sync and resubscribes the book", () => {
    const frames: string[] = [];
    const doc = readFileSync(DOC, "utf8").trim();
    frames.push(doc);
    frames.push(
      JSON.stringify({
        channel: "book",
        type: "update",
        data: [
          { symbol: "BTC/USD", bids: [], asks: [], checksum: 1, timestamp: "2023-10-06T17:35:56.000000Z" },
        ],
      }),
    );
    const s = session(frames);
    expect(s.stats.checksumFailures).toBe(1);
    expect(s.sent.map((t) => JSON.parse(t).method)).toEqual(["unsubscribe", "subscribe"]);
    expect(s.connector.bookOf("BTC/USD")!.synced).toBe(false);
  });
});
