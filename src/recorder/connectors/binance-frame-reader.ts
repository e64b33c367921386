/**
 * Reads the three messages Binance sends most (depth update, trade, book ticker) straight from the frame's text
 * into the values the connector uses, without building the JSON value first: at 100k messages a second the general
 * parser's objects, number wrappers and field checks were the largest share of the recorder's work.
 *
 * It takes only frames it checks completely, in the form Binance sends: compact JSON, an optional
 * `{"stream":…,"data":{…}}` envelope, strings without escapes, integers where Binance sends integers, decimal strings
 * where it sends strings, `[price, size]` string pairs. For anything else it returns null, and the connector reads
 * that frame with the general parser, which also names what is wrong with a bad one. Whichever path reads a frame,
 * the records are the same (a test compares the two on every frame of the recorded sessions and on altered ones).
 */
import type { LevelChange } from "../book-feed.js";
import { frameError, integerOf } from "../frame-fields.js";
import { Ch, type JsonValue } from "../json-text.js";

/** A depth update: `U`, `u`, `pu` (USD-M), `b`, `a`, `E` (as ns). */
export interface ReadDepth {
  type: "depth";
  symbol: string;
  first: bigint;
  last: bigint;
  prev: bigint | null;
  bids: LevelChange[];
  asks: LevelChange[];
  exchangeNs: bigint;
}

/** A trade or an aggregate trade: `T` (as ns), the id (`t` or `a`) as its digits, `p`, `q`, `m`. */
export interface ReadTrade {
  type: "trade";
  event: "trade" | "aggTrade";
  symbol: string;
  exchangeNs: bigint;
  id: string;
  price: string;
  size: string;
  buyerMaker: boolean;
}

/** A book ticker: `u` as its digits, `T` or else `E` (as ns; null without either), `b`, `B`, `a`, `A`. */
export interface ReadBookTicker {
  type: "bookTicker";
  symbol: string;
  updateId: string;
  exchangeNs: bigint | null;
  bidPrice: string;
  bidSize: string;
  askPrice: string;
  askSize: string;
}

export type ReadMessage = ReadDepth | ReadTrade | ReadBookTicker;

enum Value {
  String = 1,
  Integer = 2,
  True = 3,
  False = 4,
  Pairs = 5,
}

/** The one-letter keys read: each has the slot of its character code. */
const KEY = {
  e: 101,
  E: 69,
  s: 115,
  U: 85,
  u: 117,
  b: 98,
  a: 97,
  B: 66,
  A: 65,
  t: 116,
  T: 84,
  p: 112,
  q: 113,
  m: 109,
};
/** Slot of the one two-letter key read (`pu`), after those of one-letter keys. */
const PU = 128;
const SLOTS = 129;
/**
 * Binance sends times in milliseconds, or in microseconds when the streams were asked for them
 * (`timeUnit=MICROSECOND`): the value tells which, since milliseconds reach 10^14 only in the year 5138 and
 * microseconds passed it in 1973. Microseconds are taken up to 2^53 (the year 2255).
 */
export const BINANCE_MICROS_FROM = 1e14;

/** A Binance time (ms or µs, see `BINANCE_MICROS_FROM`) as ns. */
export function binanceTimeOf(v: JsonValue | undefined, field: string): bigint {
  const t = integerOf(v, field);
  if (t >= 0n && t <= MAX_SAFE_BIG) return t < MICROS_FROM_BIG ? t * 1_000_000n : t * 1000n;
  throw frameError(field, `a time out of range (ms, or µs with timeUnit=MICROSECOND): ${t}`);
}
const MICROS_FROM_BIG = BigInt(BINANCE_MICROS_FROM);
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** The general path refuses ids of more digits (`integerTextOf`). */
const MAX_ID_DIGITS = 40;
const ENVELOPE = '{"stream":"';
const DATA = ',"data":';

export class BinanceFrameReader {
  private text = "";
  private pos = 0;
  /** Per key: the read it was last set in, what its value is, and where its text is. */
  private readonly setIn = new Uint32Array(SLOTS);
  private readonly kind = new Uint8Array(SLOTS);
  private readonly start = new Int32Array(SLOTS);
  private readonly end = new Int32Array(SLOTS);
  /** An integer's value, when a double holds it exactly (up to 2^53); -1 beyond. */
  private readonly number = new Float64Array(SLOTS);
  private bids: LevelChange[] = [];
  private asks: LevelChange[] = [];
  private reads = 0;

  /** The message in `text`, or null when it is not one of the three or not in a form this reader takes. */
  read(text: string): ReadMessage | null {
    this.text = text;
    this.pos = 0;
    // 0 never marks a slot as set: a slot set in read n holds n (wrapping past 2^32 skips 0).
    this.reads = this.reads === 0xffffffff ? 1 : this.reads + 1;
    if (text.startsWith(ENVELOPE)) {
      this.pos = ENVELOPE.length - 1;
      if (this.string() < 0 || !text.startsWith(DATA, this.pos)) return null;
      this.pos += DATA.length;
      if (!this.object() || text.charCodeAt(this.pos) !== Ch.CloseBrace) return null;
      this.pos++;
    } else if (!this.object()) return null;
    if (this.pos !== text.length) return null;
    return this.message();
  }

  private message(): ReadMessage | null {
    const e = KEY.e;
    if (this.has(e)) {
      if (this.kind[e] !== Value.String) return null;
      if (this.is(e, "depthUpdate")) return this.depth();
      if (this.is(e, "trade")) return this.trade("trade", KEY.t);
      if (this.is(e, "aggTrade")) return this.trade("aggTrade", KEY.a);
      if (this.is(e, "bookTicker")) return this.bookTicker();
      return null;
    }
    // Spot's book ticker has no event type (the general path's test: `u`, `b` and `A` present).
    if (this.has(KEY.u) && this.has(KEY.b) && this.has(KEY.A)) return this.bookTicker();
    return null;
  }

  private depth(): ReadDepth | null {
    const symbol = this.stringAt(KEY.s);
    const first = this.integerAt(KEY.U);
    const last = this.integerAt(KEY.u);
    const prev = this.has(PU) ? this.integerAt(PU) : null;
    const exchangeNs = this.timeAt(KEY.E);
    if (symbol === null || first === null || last === null || exchangeNs === null) return null;
    if (this.has(PU) && prev === null) return null;
    if (
      !this.has(KEY.b) ||
      !this.has(KEY.a) ||
      this.kind[KEY.b] !== Value.Pairs ||
      this.kind[KEY.a] !== Value.Pairs
    )
      return null;
    return { type: "depth", symbol, first, last, prev, bids: this.bids, asks: this.asks, exchangeNs };
  }

  private trade(event: "trade" | "aggTrade", idKey: number): ReadTrade | null {
    const symbol = this.stringAt(KEY.s);
    const exchangeNs = this.timeAt(KEY.T);
    const id = this.digitsAt(idKey);
    const price = this.decimalAt(KEY.p);
    const size = this.decimalAt(KEY.q);
    const m = this.has(KEY.m) ? this.kind[KEY.m] : 0;
    if (symbol === null || exchangeNs === null || id === null || price === null || size === null) return null;
    if (m !== Value.True && m !== Value.False) return null;
    return { type: "trade", event, symbol, exchangeNs, id, price, size, buyerMaker: m === Value.True };
  }

  private bookTicker(): ReadBookTicker | null {
    const symbol = this.stringAt(KEY.s);
    const updateId = this.digitsAt(KEY.u);
    const timeKey = this.has(KEY.T) ? KEY.T : this.has(KEY.E) ? KEY.E : -1;
    const exchangeNs = timeKey < 0 ? null : this.timeAt(timeKey);
    const bidPrice = this.decimalAt(KEY.b);
    const bidSize = this.decimalAt(KEY.B);
    const askPrice = this.decimalAt(KEY.a);
    const askSize = this.decimalAt(KEY.A);
    if (symbol === null || updateId === null || (timeKey >= 0 && exchangeNs === null)) return null;
    if (bidPrice === null || bidSize === null || askPrice === null || askSize === null) return null;
    return { type: "bookTicker", symbol, updateId, exchangeNs, bidPrice, bidSize, askPrice, askSize };
  }

  private has(slot: number): boolean {
    return this.setIn[slot] === this.reads;
  }

  private is(slot: number, value: string): boolean {
    const start = this.start[slot]!;
    return this.end[slot]! - start === value.length && this.text.startsWith(value, start);
  }

  private stringAt(slot: number): string | null {
    if (!this.has(slot) || this.kind[slot] !== Value.String) return null;
    return this.text.slice(this.start[slot], this.end[slot]);
  }

  /** A decimal string (the general path's `decimalOf` grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`). */
  private decimalAt(slot: number): string | null {
    if (!this.has(slot) || this.kind[slot] !== Value.String) return null;
    const start = this.start[slot]!;
    const end = this.end[slot]!;
    return decimalEnd(this.text, start) === end ? this.text.slice(start, end) : null;
  }

  /** A non-negative JSON integer, as its digits. */
  private digitsAt(slot: number): string | null {
    if (!this.has(slot) || this.kind[slot] !== Value.Integer) return null;
    const start = this.start[slot]!;
    const end = this.end[slot]!;
    if (end - start > MAX_ID_DIGITS) return null;
    return this.text.slice(start, end);
  }

  /** A non-negative JSON integer, exactly. */
  private integerAt(slot: number): bigint | null {
    if (!this.has(slot) || this.kind[slot] !== Value.Integer) return null;
    const start = this.start[slot]!;
    const end = this.end[slot]!;
    // Up to 2^53 a double holds it exactly: no string to make.
    const v = this.number[slot]!;
    return v >= 0 ? BigInt(v) : BigInt(this.text.slice(start, end));
  }

  /** A time (ms or µs) in the range the general path takes (`binanceTimeOf`), as ns. */
  private timeAt(slot: number): bigint | null {
    if (!this.has(slot) || this.kind[slot] !== Value.Integer) return null;
    const t = this.number[slot]!;
    if (t < 0) return null;
    return t < BINANCE_MICROS_FROM ? BigInt(t) * 1_000_000n : BigInt(t) * 1000n;
  }

  /** An object of keys of one letter (or `pu`) with plain values; false for anything else. */
  private object(): boolean {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== Ch.OpenBrace) return false;
    this.pos++;
    if (t.charCodeAt(this.pos) === Ch.CloseBrace) {
      this.pos++;
      return true;
    }
    for (;;) {
      let slot: number;
      const first = t.charCodeAt(this.pos + 1);
      if (t.charCodeAt(this.pos + 2) === Ch.Quote && first >= 32 && first < PU && first !== Ch.Quote) {
        // `"k"` (the opening quote is checked below): the keys of these messages are mostly one letter.
        if (t.charCodeAt(this.pos) !== Ch.Quote || first === Ch.Backslash) return false;
        slot = first;
        this.pos += 3;
      } else {
        const keyStart = this.pos + 1;
        const keyEnd = this.string();
        if (keyEnd < 0) return false;
        // Other keys are read and left out, as the general path leaves them; only their value's form is checked.
        slot = keyEnd - keyStart === 2 && t.startsWith("pu", keyStart) ? PU : -1;
      }
      if (t.charCodeAt(this.pos) !== Ch.Colon) return false;
      this.pos++;
      if (slot >= 0) {
        // A key given twice: the general path takes the last, this reader takes neither.
        if (this.setIn[slot] === this.reads) return false;
        this.setIn[slot] = this.reads;
        if (!this.value(slot)) return false;
      } else if (!this.value(-1)) return false;
      const c = t.charCodeAt(this.pos++);
      if (c === Ch.CloseBrace) return true;
      if (c !== Ch.Comma) return false;
    }
  }

  /** A value: a string, an integer, true, false, or (for `b` and `a`) an array of price–size pairs. */
  private value(slot: number): boolean {
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    let kind: Value;
    const start = c === Ch.Quote ? this.pos + 1 : this.pos;
    if (c === Ch.Quote) {
      if (this.string() < 0) return false;
      kind = Value.String;
    } else if (c >= Ch.Zero && c <= Ch.Nine) {
      // Negative numbers and numbers with a fraction or an exponent are not in these messages' values.
      let i = this.pos;
      let v = 0;
      let d = c;
      do {
        v = v * 10 + (d - Ch.Zero);
        d = t.charCodeAt(++i);
      } while (d >= Ch.Zero && d <= Ch.Nine);
      if ((c === Ch.Zero && i - this.pos > 1) || d === Ch.Dot || d === Ch.LowerE || d === Ch.UpperE)
        return false;
      // Digit by digit, `v` is exact while the value is at most 2^53, and past it once the value is.
      if (slot >= 0) this.number[slot] = v <= Number.MAX_SAFE_INTEGER ? v : -1;
      this.pos = i;
      kind = Value.Integer;
    } else if (t.startsWith("true", this.pos)) {
      this.pos += 4;
      kind = Value.True;
    } else if (t.startsWith("false", this.pos)) {
      this.pos += 5;
      kind = Value.False;
    } else if (c === Ch.OpenBracket && (slot === KEY.b || slot === KEY.a)) {
      const pairs = this.pairs();
      if (pairs === null) return false;
      if (slot === KEY.b) this.bids = pairs;
      else this.asks = pairs;
      kind = Value.Pairs;
    } else return false;
    if (slot >= 0) {
      this.kind[slot] = kind;
      this.start[slot] = start;
      this.end[slot] = kind === Value.String ? this.pos - 1 : this.pos;
    }
    return true;
  }

  /** `[["price","size"],…]` of decimal strings; null for anything else. */
  private pairs(): LevelChange[] | null {
    const t = this.text;
    const out: LevelChange[] = [];
    this.pos++;
    if (t.charCodeAt(this.pos) === Ch.CloseBracket) {
      this.pos++;
      return out;
    }
    for (;;) {
      if (t.charCodeAt(this.pos) !== Ch.OpenBracket) return null;
      this.pos++;
      const price = this.decimalString();
      if (price === null || t.charCodeAt(this.pos) !== Ch.Comma) return null;
      this.pos++;
      const size = this.decimalString();
      if (size === null || t.charCodeAt(this.pos) !== Ch.CloseBracket) return null;
      out.push([price, size]);
      const c = t.charCodeAt(++this.pos);
      this.pos++;
      if (c === Ch.CloseBracket) return out;
      if (c !== Ch.Comma) return null;
    }
  }

  /** A quoted decimal (`-?(0|[1-9][0-9]*)(\.[0-9]+)?`), checked as it is read. */
  private decimalString(): string | null {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== Ch.Quote) return null;
    const start = this.pos + 1;
    const end = decimalEnd(t, start);
    if (end < 0 || t.charCodeAt(end) !== Ch.Quote) return null;
    this.pos = end + 1;
    return t.slice(start, end);
  }

  /**
   * A string from the quote at `pos` on, without escapes or control characters: moves past its closing quote and
   * returns that quote's offset; -1 for anything else.
   */
  private string(): number {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== Ch.Quote) return -1;
    let i = this.pos + 1;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === Ch.Quote) break;
      // NaN (past the end) fails both tests below as well as this one: checked first.
      if (!(c >= 32) || c === Ch.Backslash) return -1;
      i++;
    }
    this.pos = i + 1;
    return i;
  }
}

/** The end of the digits from `at` on. */
function digitsEnd(t: string, at: number): number {
  let i = at;
  let c = t.charCodeAt(i);
  while (c >= Ch.Zero && c <= Ch.Nine) c = t.charCodeAt(++i);
  return i;
}

/** The end of a decimal (`-?(0|[1-9][0-9]*)(\.[0-9]+)?`) that starts at `start`; -1 when none does. */
function decimalEnd(t: string, start: number): number {
  let i = start;
  if (t.charCodeAt(i) === Ch.Minus) i++;
  const intEnd = digitsEnd(t, i);
  if (intEnd === i || (t.charCodeAt(i) === Ch.Zero && intEnd - i > 1)) return -1;
  if (t.charCodeAt(intEnd) !== Ch.Dot) return intEnd;
  const fracEnd = digitsEnd(t, intEnd + 1);
  return fracEnd > intEnd + 1 ? fracEnd : -1;
}
