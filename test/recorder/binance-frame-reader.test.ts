/**
 * The Binance connector reads most frames straight from their text (BinanceFrameReader) and the others with the
 * general JSON parser. Both must make the same records of a frame: a frame with a space in front is valid JSON
 * that only the general parser reads, so each capture is run through the connector as it is and with that space,
 * and the two runs compared — the genuine sessions, then the same sessions with frames altered at random.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordToJson } from "../../src/format/json.js";
import type { RecordInput, TapeRecord } from "../../src/format/records.js";
import { type CapturedMessage, readCapture } from "../../src/recorder/capture.js";
import { BinanceFrameReader } from "../../src/recorder/connectors/binance-frame-reader.js";
import { createConnector, type VenueId } from "../../src/recorder/connectors/index.js";
import { Feed } from "../../src/recorder/feed.js";
import { SeededRandom } from "../../src/recorder/simulators/random.js";

const fixtures = join(import.meta.dirname, "../../fixtures");
const CAPTURES: [VenueId, string][] = [
  ["binance", "real/binance-spot-20211012.jsonl"],
  ["binance", "real/binance-spot-btcusdt-20240808.jsonl"],
  ["binance", "sessions/binance.jsonl"],
  ["binance-usdm", "real/binance-usdm-20210722.jsonl"],
  ["binance-usdm", "real/binance-usdm-btcusdt-20240808.jsonl"],
  ["binance-usdm", "sessions/binance-usdm.jsonl"],
];

async function messagesOf(file: string): Promise<CapturedMessage[]> {
  const out: CapturedMessage[] = [];
  for await (const m of readCapture(join(fixtures, file))) out.push(m);
  return out;
}

/**
 * Everything the connector makes of the messages: records, counters, and what each bad frame was told. `shift`:
 * characters put in front of each frame, taken off the offsets that errors name.
 */
function run(venue: VenueId, messages: CapturedMessage[], shift = 0): string[] {
  const out: string[] = [];
  const feed = new Feed(createConnector(venue, { symbols: [], trades: true, book: true, bbo: true }), {
    raw: false,
    sink: (r: RecordInput) => out.push(JSON.stringify(recordToJson(r as TapeRecord))),
    onBadFrame: (err) => out.push(`bad frame: ${err.message}`),
  });
  for (const m of messages) feed.receive(m);
  out.push(JSON.stringify(feed.stats));
  return out.map((line) => line.replace(/offset (\d+)/g, (_, n: string) => `offset ${Number(n) - shift}`));
}

/** The same messages, each frame given to the general parser only. */
const generalOnly = (messages: CapturedMessage[]): CapturedMessage[] =>
  messages.map((m) => (m.kind === "frame" ? { ...m, text: ` ${m.text}` } : m));

const frames = (messages: CapturedMessage[]) => messages.flatMap((m) => (m.kind === "frame" ? [m.text] : []));

describe("Binance frames read straight from their text", () => {
  it.each(CAPTURES)("make the same records as the general parser (%s, %s)", async (venue, file) => {
    const messages = await messagesOf(file);
    const reader = new BinanceFrameReader();
    const texts = frames(messages);
    const read = texts.filter((t) => reader.read(t) !== null).length;
    // The comparison means something only if the fast path took the frames: all but subscription answers.
    expect(read / texts.length).toBeGreaterThan(0.9);
    expect(texts.every((t) => reader.read(` ${t}`) === null)).toBe(true);
    const fast = run(venue, messages);
    expect(fast.length).toBeGreaterThan(texts.length / 2);
    expect(fast).toEqual(run(venue, generalOnly(messages), 1));
  });

  it.each(CAPTURES)(
    "make the same records as the general parser with times in microseconds (%s, %s)",
    async (venue, file) => {
      // As the streams send them when asked with `timeUnit=MICROSECOND`: each time of 13 digits given 3 more.
      let n = 0;
      const micros = (await messagesOf(file)).map((m) =>
        m.kind === "frame"
          ? {
              ...m,
              text: m.text.replace(
                /"([ET])":(\d{13})\b/g,
                (_, k, ms) => `"${k}":${ms}${String(n++ % 1000).padStart(3, "0")}`,
              ),
            }
          : m,
      );
      const fast = run(venue, micros);
      expect(fast).toEqual(run(venue, generalOnly(micros), 1));
      const times = fast.flatMap((line) => {
        const ts = (JSON.parse(line) as { ts?: string }).ts;
        return ts === undefined ? [] : [BigInt(ts)];
      });
      // Trades and book rows carry the microseconds (REST snapshots, and quotes stamped on receipt, are among them).
      expect(times.filter((t) => t % 1_000_000n !== 0n).length).toBeGreaterThan(times.length / 4);
    },
  );

  it("make the same records, counters and errors as the general parser of frames altered at random", async () => {
    const alphabet = [
      '"',
      "\\",
      "0",
      "1",
      "9",
      "-",
      ".",
      "e",
      "E",
      ",",
      ":",
      "[",
      "]",
      "{",
      "}",
      " ",
      "a",
      "é",
      "\u0001",
    ];
    let altered = 0;
    let readAltered = 0;
    for (const [i, [venue, file]] of CAPTURES.entries()) {
      const rng = new SeededRandom(1000 + i);
      const reader = new BinanceFrameReader();
      const messages = (await messagesOf(file)).map((m) => {
        if (m.kind !== "frame" || rng.uint32() % 4 !== 0) return m;
        const t = m.text;
        const at = rng.uint32() % t.length;
        const c = alphabet[rng.uint32() % alphabet.length]!;
        const op = rng.uint32() % 3;
        const text =
          op === 0
            ? t.slice(0, at) + t.slice(at + 1)
            : op === 1
              ? t.slice(0, at) + c + t.slice(at)
              : t.slice(0, at) + c + t.slice(at + 1);
        altered++;
        if (reader.read(text) !== null) readAltered++;
        return { ...m, text };
      });
      expect(run(venue, messages)).toEqual(run(venue, generalOnly(messages), 1));
    }
    // Both kinds of altered frame were met: ones the reader takes (a digit changed) and ones it leaves.
    expect(readAltered).toBeGreaterThan(100);
    expect(altered - readAltered).toBeGreaterThan(100);
  });

  it("leaves to the general parser what it does not check completely", () => {
    const reader = new BinanceFrameReader();
    const depth = (b: string) =>
      `{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":5,"u":7,"b":${b},"a":[]}`;
    expect(reader.read(depth('[["1.5","2"]]'))).toMatchObject({
      type: "depth",
      symbol: "BTCUSDT",
      first: 5n,
      last: 7n,
      prev: null,
      bids: [["1.5", "2"]],
      asks: [],
      exchangeNs: 1723161255208000000n,
    });
    for (const frame of [
      depth('[["1.5","2","x"]]'), // a third element
      depth('[[1.5,"2"]]'), // a number for a price
      depth('[["01.5","2"]]'), // a leading zero
      depth('[["1.","2"]]'), // no digit after the point
      depth('[["1e5","2"]]'), // an exponent
      '{"e":"depthUpdate","E":1723161255208,"s":"BTC\\u0055SDT","U":5,"u":7,"b":[],"a":[]}', // an escape
      '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":5,"U":6,"u":7,"b":[],"a":[]}', // a key twice
      '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":-5,"u":7,"b":[],"a":[]}', // a negative id
      '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":5.0,"u":7,"b":[],"a":[]}', // a fraction
      '{"e":"depthUpdate","E":"1723161255208","s":"BTCUSDT","U":5,"u":7,"b":[],"a":[]}', // a time as a string
      '{"e":"depthUpdate","E":9007199254740993,"s":"BTCUSDT","U":5,"u":7,"b":[],"a":[]}', // a time beyond 2^53 µs
      '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":5,"u":7,"b":[]}', // no asks
      '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":5,"u":7,"b":[],"a":[],"x":{}}', // an object
      '{"e":"depthUpdate", "E":1723161255208,"s":"BTCUSDT","U":5,"u":7,"b":[],"a":[]}', // a space
      '{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":5,"u":7,"b":[],"a":[]} ', // after the value
      '{"e":"24hrTicker","E":1723161255208,"s":"BTCUSDT"}', // another message
      '{"stream":"btcusdt@depth","data":{"e":"depthUpdate"},"x":1}', // more than the envelope
    ])
      expect(reader.read(frame), frame).toBeNull();
    // Times in microseconds (streams asked with `timeUnit=MICROSECOND`): the value tells the unit.
    const at = (e: string) => `{"e":"depthUpdate","E":${e},"s":"BTCUSDT","U":5,"u":7,"b":[],"a":[]}`;
    expect(reader.read(at("1723161255208123"))).toMatchObject({ exchangeNs: 1723161255208123000n });
    expect(reader.read(at("99999999999999"))).toMatchObject({ exchangeNs: 99999999999999000000n });
    expect(reader.read(at("100000000000000"))).toMatchObject({ exchangeNs: 100000000000000000n });
    expect(reader.read(at("9007199254740991"))).toMatchObject({ exchangeNs: 9007199254740991000n });
    const trade =
      '{"e":"trade","E":1723161255208124,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","T":1723161255208123,"m":true,"M":true}';
    expect(reader.read(trade)).toMatchObject({ exchangeNs: 1723161255208123000n });
    // An id of more than 15 digits stays exact.
    expect(
      reader.read(
        '{"e":"depthUpdate","E":0,"s":"X","U":123456789012345678901,"u":123456789012345678902,"b":[],"a":[]}',
      ),
    ).toMatchObject({ first: 123456789012345678901n, last: 123456789012345678902n });
  });
});
