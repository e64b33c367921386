/**
 * A JSON parser that keeps every number as the text the exchange sent. Exchanges send ids above 2^53 (Kraken's
 * connection id, Binance's update ids in time) and Kraken v2 sends prices as JSON numbers whose trailing zeros
 * matter for its checksum: `JSON.parse` would round the first and drop the second. A key `__proto__` in a frame
 * becomes an own property like any other (never the object's prototype).
 */
import { TapeError } from "../format/errors.js";

/** A JSON number, exactly as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** `number`: only from `parseJsonStrings`, an integer of at most 15 digits (exact). */
export type JsonValue = string | number | boolean | null | JsonNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue | undefined;
}

/** Nesting deeper than this is not market data: it is refused before it can exhaust the stack. */
export const MAX_JSON_DEPTH = 64;

/** Character codes of JSON's syntax (also read by the connectors' direct frame readers). */
export enum Ch {
  Tab = 9,
  Newline = 10,
  Return = 13,
  Space = 32,
  Quote = 34,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Nine = 57,
  Colon = 58,
  UpperE = 69,
  OpenBracket = 91,
  Backslash = 92,
  CloseBracket = 93,
  LowerE = 101,
  OpenBrace = 123,
  CloseBrace = 125,
}

/**
 * Object keys seen lately, by first character and length: a frame's keys are mostly the same few, and taking the
 * string already made (and already hashed as a property name) saves a copy and a hash per key.
 */
const KEY_CACHE: (string | undefined)[] = new Array(256);
const MAX_CACHED_KEY = 24;
const ELEMENTS: JsonValue[] = [];

class Parser {
  pos = 0;
  /**
   * Elements of the arrays being read, nested ones above their parents': each array is copied out at its exact
   * length (an array grown by `push` from empty reserves room for 17 elements, and frames hold many pairs).
   * One for every parse (parsing is synchronous); a parse that failed may have left some behind.
   */
  private readonly elements = ELEMENTS;
  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {
    ELEMENTS.length = 0;
  }

  fail(message: string): never {
    if (this.pos >= this.text.length && message.startsWith("expected")) message = "unexpected end";
    throw new TapeError("E_TAPE_FRAME", `not valid JSON: ${message}`, {
      file: this.source,
      offset: this.pos,
    });
  }

  skipSpace(): void {
    const t = this.text;
    let c = t.charCodeAt(this.pos);
    while (c === Ch.Space || c === Ch.Newline || c === Ch.Return || c === Ch.Tab)
      c = t.charCodeAt(++this.pos);
  }

  value(depth: number): JsonValue {
    this.skipSpace();
    const c = this.text.charCodeAt(this.pos);
    if (c === Ch.Quote) return this.string();
    if (c === Ch.OpenBrace) return this.object(depth + 1);
    if (c === Ch.OpenBracket) return this.array(depth + 1);
    if (c === Ch.Minus || (c >= Ch.Zero && c <= Ch.Nine)) return this.number();
    if (this.text.startsWith("true", this.pos)) {
      this.pos += 4;
      return true;
    }
    if (this.text.startsWith("false", this.pos)) {
      this.pos += 5;
      return false;
    }
    if (this.text.startsWith("null", this.pos)) {
      this.pos += 4;
      return null;
    }
    return this.fail(
      Number.isNaN(c) ? "unexpected end" : `unexpected character ${JSON.stringify(this.text[this.pos])}`,
    );
  }

  string(): string {
    const t = this.text;
    const start = ++this.pos;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      if (c === Ch.Quote) break;
      if (Number.isNaN(c)) this.fail("unterminated string");
      if (c < Ch.Space) this.fail("control character in a string");
      if (c === Ch.Backslash) {
        escaped = true;
        this.pos++;
      }
      this.pos++;
    }
    const end = this.pos++;
    if (!escaped) return t.slice(start, end);
    try {
      return JSON.parse(t.slice(start - 1, end + 1)) as string;
    } catch {
      this.pos = start;
      return this.fail("bad escape in a string");
    }
  }

  /** A key: a string, taken from the cache when the same key was read lately. */
  key(): string {
    const t = this.text;
    const start = this.pos + 1;
    let end = start;
    for (; end - start <= MAX_CACHED_KEY; end++) {
      const c = t.charCodeAt(end);
      if (c === Ch.Quote) break;
      if (c === Ch.Backslash || c < Ch.Space || Number.isNaN(c)) return this.string();
    }
    const length = end - start;
    if (length > MAX_CACHED_KEY) return this.string();
    const slot = (t.charCodeAt(start) * 31 + length) & 255;
    let key = KEY_CACHE[slot];
    if (key === undefined || key.length !== length || !t.startsWith(key, start)) {
      key = t.slice(start, end);
      KEY_CACHE[slot] = key;
    }
    this.pos = end + 1;
    return key;
  }

  number(): JsonNumber {
    const t = this.text;
    const start = this.pos;
    if (t.charCodeAt(this.pos) === Ch.Minus) this.pos++;
    const intStart = this.pos;
    this.digits();
    if (this.pos === intStart) this.fail("a number needs digits");
    if (t.charCodeAt(intStart) === Ch.Zero && this.pos - intStart > 1)
      this.fail("a number has a leading zero");
    if (t.charCodeAt(this.pos) === Ch.Dot) {
      this.pos++;
      const from = this.pos;
      this.digits();
      if (this.pos === from) this.fail("a number needs digits after the point");
    }
    const e = t.charCodeAt(this.pos);
    if (e === Ch.LowerE || e === Ch.UpperE) {
      this.pos++;
      const s = t.charCodeAt(this.pos);
      if (s === Ch.Plus || s === Ch.Minus) this.pos++;
      const from = this.pos;
      this.digits();
      if (this.pos === from) this.fail("a number needs digits in its exponent");
    }
    return new JsonNumber(t.slice(start, this.pos));
  }

  digits(): void {
    const t = this.text;
    let c = t.charCodeAt(this.pos);
    while (c >= Ch.Zero && c <= Ch.Nine) c = t.charCodeAt(++this.pos);
  }

  array(depth: number): JsonValue[] {
    if (depth > MAX_JSON_DEPTH) this.fail(`nested deeper than ${MAX_JSON_DEPTH}`);
    this.pos++;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === Ch.CloseBracket) {
      this.pos++;
      return [];
    }
    const elements = this.elements;
    const base = elements.length;
    for (;;) {
      const v = this.value(depth);
      elements.push(v);
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === Ch.CloseBracket) {
        const out = elements.slice(base);
        elements.length = base;
        return out;
      }
      if (c !== Ch.Comma) {
        this.pos--;
        this.fail("expected , or ] in an array");
      }
    }
  }

  object(depth: number): JsonObject {
    if (depth > MAX_JSON_DEPTH) this.fail(`nested deeper than ${MAX_JSON_DEPTH}`);
    this.pos++;
    // A plain literal (fast properties); `__proto__` is defined as an own property, never assigned.
    const out: JsonObject = {};
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === Ch.CloseBrace) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== Ch.Quote) this.fail("expected a key");
      const key = this.key();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== Ch.Colon) this.fail("expected : after a key");
      this.pos++;
      const v = this.value(depth);
      if (key === "__proto__")
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === Ch.CloseBrace) return out;
      if (c !== Ch.Comma) {
        this.pos--;
        this.fail("expected , or } in an object");
      }
    }
  }
}

/**
 * Parses JSON text with numbers kept as `JsonNumber`s. Throws TapeError `E_TAPE_FRAME` naming `source` and the
 * offset of the first bad character.
 */
export function parseJsonText(text: string, source = "frame"): JsonValue {
  const p = new Parser(text, source);
  const v = p.value(0);
  p.skipSpace();
  if (p.pos !== text.length) p.fail("text after the value");
  return v;
}

/**
 * A number `JSON.parse` could round (a fraction, an exponent, 16 digits or more) where JSON puts a value: at the
 * start, after a key's `:`, after `[` or `,`. It may also match inside a string (`"a,1.5"`): that only costs the
 * slower parser.
 */
const ROUNDABLE_NUMBER = /(?:^|"\s*:|[[,])\s*-?\d+(?:[.eE]|\d{15})/;

/**
 * For venues that send their decimals as strings (Coinbase): `JSON.parse`, faster on frames of many small objects,
 * where it is exact — when every number of the frame is an integer of at most 15 digits, handed back as a JS
 * number — and `parseJsonText` otherwise, and to name what is wrong with a frame that is not JSON.
 */
export function parseJsonStrings(text: string, source = "frame"): JsonValue {
  if (!ROUNDABLE_NUMBER.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // parseJsonText says what is wrong, and where.
    }
  }
  return parseJsonText(text, source);
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !(v instanceof JsonNumber) && !Array.isArray(v);
}
