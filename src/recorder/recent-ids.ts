/**
 * The ids of the last N trades (or quotes) of a symbol, to drop one received twice — while an old and a new
 * connection overlap, or when a venue repeats itself — without assuming that ids arrive in order.
 */
export class RecentIds {
  private readonly seen = new Set<string | number>();
  private readonly ring: (string | number | undefined)[];
  private next = 0;

  constructor(size = 4096) {
    this.ring = new Array<string | number | undefined>(size);
  }

  /** True if `id` was seen among the last N; otherwise remembers it and returns false. */
  repeated(text: string): boolean {
    // Short digit strings (almost every id) are kept as numbers: cheaper to hash than strings.
    const id = text.length <= 15 && text.charCodeAt(0) !== 48 && /^\d+$/.test(text) ? Number(text) : text;
    if (this.seen.has(id)) return true;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.ring[this.next] = id;
    this.seen.add(id);
    this.next = (this.next + 1) % this.ring.length;
    return false;
  }
}

/** `RecentIds` per stream key (e.g. `BTCUSDT@trade`); what is repeated is counted as a duplicate. */
export class RecentIdsByKey {
  private readonly byKey = new Map<string, RecentIds>();

  repeated(key: string, id: string, counters: { duplicates: number }): boolean {
    let r = this.byKey.get(key);
    if (r === undefined) {
      r = new RecentIds();
      this.byKey.set(key, r);
    }
    if (!r.repeated(id)) return false;
    counters.duplicates++;
    return true;
  }
}
