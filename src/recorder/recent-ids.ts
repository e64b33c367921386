/**
 * The ids of the latest trades (or quotes) of a symbol, to drop one received twice — while an old and a new
 * connection overlap, or when a venue repeats itself — without assuming that ids arrive in order.
 *
 * Almost every id is a short digit string that grows with each message: such ids are kept as numbers in a sorted
 * window of the `size` largest, so that the usual case (a new id above all others) is one comparison and one
 * store, and a repeat is found by binary search. An id below a full window is older than anything remembered: it
 * is taken as new, and as a restart of the venue's numbering (the window starts again from it). Other ids (text,
 * leading zeros, more than 15 digits) are kept as text, the last `size` of them.
 */
export class RecentIds {
  /** Numeric ids, sorted, in `[start, end)`; twice the size, so that the window slides with few copies. */
  private readonly window: Float64Array;
  private start = 0;
  private end = 0;
  private readonly texts = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(private readonly size = 4096) {
    this.window = new Float64Array(2 * size);
    this.ring = new Array<string | undefined>(size);
  }

  /** True if `id` is among those remembered; otherwise remembers it and returns false. */
  repeated(text: string): boolean {
    const n = digitsValue(text);
    return n < 0 ? this.repeatedText(text) : this.repeatedNumber(n);
  }

  private repeatedNumber(n: number): boolean {
    const w = this.window;
    if (this.end === this.start || n > w[this.end - 1]!) {
      this.insert(this.end, n);
      return false;
    }
    if (n < w[this.start]! && this.end - this.start >= this.size) {
      this.start = 0;
      this.end = 0;
      this.insert(0, n);
      return false;
    }
    let lo = this.start;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid]! < n) lo = mid + 1;
      else hi = mid;
    }
    if (lo < this.end && w[lo] === n) return true;
    this.insert(lo, n);
    return false;
  }

  /** Puts `n` at index `at` of the sorted window, dropping the smallest beyond `size`. */
  private insert(at: number, n: number): void {
    const w = this.window;
    if (this.end === w.length) {
      // Slide the window back to the front of the array.
      w.copyWithin(0, this.start, this.end);
      at -= this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (at < this.end) w.copyWithin(at + 1, at, this.end);
    w[at] = n;
    this.end++;
    if (this.end - this.start > this.size) this.start++;
  }

  private repeatedText(id: string): boolean {
    if (this.texts.has(id)) return true;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.texts.delete(evicted);
    this.ring[this.next] = id;
    this.texts.add(id);
    this.next = (this.next + 1) % this.ring.length;
    return false;
  }
}

/** The value of a string of 1 to 15 digits without a leading zero (exact as a double), else -1. */
function digitsValue(text: string): number {
  const len = text.length;
  if (len === 0 || len > 15 || text.charCodeAt(0) === 48) return -1;
  let v = 0;
  for (let i = 0; i < len; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** `RecentIds` per stream (e.g. `trade`) and symbol; what is repeated is counted as a duplicate. */
export class RecentIdsByKey {
  private readonly byStream = new Map<string, Map<string, RecentIds>>();

  repeated(stream: string, symbol: string, id: string, counters: { duplicates: number }): boolean {
    let bySymbol = this.byStream.get(stream);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      this.byStream.set(stream, bySymbol);
    }
    let r = bySymbol.get(symbol);
    if (r === undefined) {
      r = new RecentIds();
      bySymbol.set(symbol, r);
    }
    if (!r.repeated(id)) return false;
    counters.duplicates++;
    return true;
  }
}
